#!/usr/bin/env bash
# Cranelift against Winch on the Python and JavaScript skill templates (bench/winch/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash skills-sdk/python/build.sh >/dev/null
bash skills-sdk/javascript/build.sh >/dev/null
cargo build --release --manifest-path bench/winch/Cargo.toml --target-dir target/winch-probe
for lang in python javascript; do
  target/winch-probe/release/openlegion-winch-probe "skills-sdk/$lang/dist/text-tools/skill.wasm"
done
