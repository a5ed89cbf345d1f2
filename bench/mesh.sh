#!/usr/bin/env bash
# Mesh benchmark (issue: mesh core). Builds release binaries, then runs the load.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-bench
exec target/release/mesh-bench "$@"
