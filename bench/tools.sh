#!/usr/bin/env bash
# Tool catalogue benchmark: the mesh's browser (navigate + snapshot, cold and warm; memory
# with 10 agents browsing) and spawn_agent → first answer (process and runc). Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-agent -p openlegion-mock-llm -p openlegion-bench
exec target/release/tools-bench "$@"
