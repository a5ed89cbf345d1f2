#!/usr/bin/env bash
# The local instruct model: load, memory, prefill/decode speed, time to first token, and
# tool calls on the labelled prompts of bench/local-llm/ with and without the grammar.
# The model comes from target/models, where the tests install it (as `openlegion setup`
# does, pinned by sha256); if it is not there, a dev build of `openlegion setup` puts it.
set -euo pipefail
cd "$(dirname "$0")/.."
models="$PWD/target/models"
gguf="$models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$gguf" ]; then
  config="$(mktemp -d)"
  trap 'rm -rf "$config"' EXIT
  printf 'llm:\n  default_model: local/smollm2-135m-instruct\n' > "$config/mesh.yaml"
  printf 'agents: {}\n' > "$config/agents.yaml"
  OPENLEGION_MODELS_DIR="$models" cargo run --quiet -p openlegion-mesh --bin openlegion -- --config "$config" setup >&2
fi
cargo build --release -p openlegion-local-llm-bench
exec target/release/local-llm-bench --model "$gguf" "$@"
