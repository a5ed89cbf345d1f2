#!/usr/bin/env bash
# Agent memory benchmark: recall latency at growing store sizes, save throughput, the local
# model's time per fact, database size. Installs the local model (as `openlegion setup`
# does, pinned by sha256) under target/models first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-mesh -p openlegion-bench --bin openlegion --bin memory-bench
models="$PWD/target/models"
config="$(mktemp -d)"
trap 'rm -rf "$config"' EXIT
printf 'llm:\n  embedding_model: local/all-minilm-l6-v2\n' > "$config/mesh.yaml"
printf 'agents: {}\n' > "$config/agents.yaml"
OPENLEGION_MODELS_DIR="$models" target/release/openlegion --config "$config" setup >&2
exec target/release/memory-bench --models "$models" "$@"
