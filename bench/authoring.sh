#!/usr/bin/env bash
# Agent-written skills: create_skill to callable per language (cold and cached), component
# sizes, cached loads and call latency. Release build; installs the pinned compilers and
# warms the Rust template (skills-sdk/compilers.sh) first.
set -euo pipefail
cd "$(dirname "$0")/.."
SKILL_COMPILERS="$(bash -c 'source skills-sdk/compilers.sh && ensure_componentize_py >&2 && ensure_componentize_qjs >&2 && ensure_rust_template >&2 && cd "$SKILL_COMPILERS_CACHE" && pwd')"
export SKILL_COMPILERS
cargo build --release -p openlegion-host -p openlegion-agent -p openlegion-mock-llm -p openlegion-bench
exec target/release/authoring-bench "$@"
