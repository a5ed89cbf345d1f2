#!/usr/bin/env bash
# Rate-limit benchmark (issue: hardening). Builds release binaries, then runs the load.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-bench
exec target/release/limits-bench "$@"
