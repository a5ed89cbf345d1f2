#!/usr/bin/env bash
# Skill runtime benchmark: call overhead and load times. Builds the test fixtures (for the
# `echo` component) and the release benchmark, then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --target wasm32-wasip2 \
  --manifest-path skill-host/tests/fixtures/Cargo.toml --target-dir target/skill-fixtures
cargo build --release -p openlegion-bench --bin skill-bench
exec target/release/skill-bench --wasm target/skill-fixtures/wasm32-wasip2/release/fixture_echo.wasm "$@"
