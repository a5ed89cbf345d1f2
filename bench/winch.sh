#!/usr/bin/env bash
# Cranelift against Winch on the Python and JavaScript skill templates (bench/winch/), and
# Cranelift's incremental cache across two different Python components.
set -euo pipefail
cd "$(dirname "$0")/.."
bash skills-sdk/python/build.sh >/dev/null
bash skills-sdk/javascript/build.sh >/dev/null
cargo build --release --manifest-path bench/winch/Cargo.toml --target-dir target/winch-probe
for lang in python javascript; do
  target/winch-probe/release/openlegion-winch-probe "skills-sdk/$lang/dist/text-tools/skill.wasm"
done
# A second Python skill: the template with another name and other code.
other="$(mktemp -d)"
trap 'rm -rf "$other"' EXIT
cp -r skills-sdk/python/. "$other"
rm -rf "$other/dist"
sed -i 's/^name: .*/name: other-tools/' "$other/skill.yaml"
sed -i 's/return text\[::-1\]/return text.upper()[::-1] + "!"/' "$other/app.py"
OPENLEGION_SKILL_SDK="$PWD/skills-sdk" bash "$other/build.sh" >/dev/null
target/winch-probe/release/incremental-cache \
  skills-sdk/python/dist/text-tools/skill.wasm "$other/dist/other-tools/skill.wasm"
