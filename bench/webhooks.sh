#!/usr/bin/env bash
# Webhook intake benchmark (issue 14). Builds release binaries, then runs the load.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-bench
exec target/release/webhook-bench "$@"
