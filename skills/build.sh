#!/usr/bin/env bash
# Builds the built-in skills into components and lays them out as the agent loads them:
#
#   skills/dist/<name>/skill.wasm   the component (world openlegion:skill/skill@0.1.4)
#   skills/dist/<name>/skill.yaml    its manifest, copied from skills/<name>/skill.yaml
#
# then checks each component's imports and exports (skills-sdk/check-component.sh).
# Needs rustup (the toolchain and wasm32-wasip2 target come from rust-toolchain.toml) and,
# for the check, python3 to install wasm-tools if it is missing. Pass --no-check to skip it.
set -euo pipefail
cd "$(dirname "$0")"

skills=(files web mesh shell authoring memory browser)
started=$SECONDS
cargo build --release --locked --target wasm32-wasip2
echo "built in $((SECONDS - started)) s"

rm -rf dist
for name in "${skills[@]}"; do
  mkdir -p "dist/$name"
  cp "target/wasm32-wasip2/release/openlegion_skill_$name.wasm" "dist/$name/skill.wasm"
  cp "$name/skill.yaml" "dist/$name/skill.yaml"
done

if [ "${1:-}" != "--no-check" ]; then
  ../skills-sdk/check-component.sh dist/*/*.wasm
fi
