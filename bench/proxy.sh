#!/usr/bin/env bash
# LLM proxy overhead benchmark. Builds release binaries, then runs the load (needs wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-mock-llm -p openlegion-bench
exec target/release/proxy-bench "$@"
