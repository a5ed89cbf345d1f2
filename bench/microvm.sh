#!/usr/bin/env bash
# MicroVM benchmark beside runc and runsc: boot to first /status, idle memory per agent, one
# chat turn end to end. Release build; needs QEMU and a guest kernel (.ci/microvm.sh) and a
# Docker engine with runsc registered. `--accel tcg|kvm` forces the accelerator.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-agent -p openlegion-vmlink -p openlegion-mock-llm -p openlegion-bench
exec target/release/microvm-bench "$@"
