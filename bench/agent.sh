#!/usr/bin/env bash
# Agent benchmark: start-up, idle memory, one chat turn end to end. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-agent -p openlegion-mock-llm -p openlegion-bench
exec target/release/agent-bench "$@"
