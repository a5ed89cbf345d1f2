#!/usr/bin/env bash
# Workflow benchmark (issue 15): orchestration overhead per step, 100 concurrent runs of a
# 3-step workflow with the mock LLM. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-agent -p openlegion-mock-llm -p openlegion-bench
exec target/release/workflow-bench "$@"
