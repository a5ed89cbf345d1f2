#!/usr/bin/env bash
# The local instruct model: load, memory, prefill/decode speed, time to first token, and
# tool calls on the labelled prompts of bench/local-llm/ with and without the grammar.
# Installs the model (as `openlegion setup` does, pinned by sha256) under target/models.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p openlegion-host -p openlegion-bench --bin openlegion --bin local-llm-bench
models="$PWD/target/models"
config="$(mktemp -d)"
trap 'rm -rf "$config"' EXIT
printf 'llm:\n  default_model: local/smollm2-135m-instruct\n' > "$config/mesh.yaml"
printf 'agents: {}\n' > "$config/agents.yaml"
OPENLEGION_MODELS_DIR="$models" target/release/openlegion --config "$config" setup >&2
exec target/release/local-llm-bench --model "$models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf" "$@"
