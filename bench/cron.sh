#!/usr/bin/env bash
# Cron fire jitter and idle heartbeat cost (issue 14). Builds release binaries, then runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-bench
exec target/release/cron-bench "$@"
