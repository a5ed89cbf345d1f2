#!/usr/bin/env bash
# Container benchmark: cold start with runc and runsc, idle memory per agent container,
# fifty agents started at once. Release build; needs a Docker engine (and runsc registered
# for the gVisor rows, else pass --no-gvisor).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-agent -p openlegion-bench
exec target/release/container-bench "$@"
