#!/usr/bin/env bash
# Agent-written skills: create_skill to callable per language (cold and cached), component
# sizes, cached loads and call latency. Release build; installs the pinned compilers and
# warms the Rust template (skills-sdk/compilers.sh) first, then the seed of compiled
# runtime functions the full image carries.
set -euo pipefail
cd "$(dirname "$0")/.."
SKILL_COMPILERS="$(bash -c 'source skills-sdk/compilers.sh && ensure_componentize_py >&2 && ensure_componentize_qjs >&2 && ensure_rust_template >&2 && cd "$SKILL_COMPILERS_CACHE" && pwd')"
export SKILL_COMPILERS
cargo build --release -p openlegion-mesh -p openlegion-agent -p openlegion-mock-llm -p openlegion-bench
# The seed agents on the full image carry (the image build runs the same command); its
# lines are what each language's first skill costs an agent without it.
seed=target/bench-skill-seed
rm -rf "$seed"
echo "warming $seed (a sample skill per language, compiled without a seed):"
target/release/openlegion-agent warm "$seed"
SKILL_CACHE_SEED_DIR="$PWD/$seed"
export SKILL_CACHE_SEED_DIR
exec target/release/authoring-bench "$@"
