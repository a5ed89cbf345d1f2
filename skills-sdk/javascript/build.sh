#!/usr/bin/env bash
# Builds this JavaScript skill into a component with componentize-qjs (QuickJS; installed
# on first use, pinned, into .cache/skill-compilers/), lays it out as the agent loads
# skills, and checks that it imports nothing but openlegion:skill/*:
#
#   dist/<name>/skill.wasm   dist/<name>/skill.yaml     (<name> from skill.yaml)
#
# Environment: OPENLEGION_SKILL_SDK (default: the directory above this one) locates
# compilers.sh, check-component.sh and ../wit when the skill lives elsewhere.
set -euo pipefail
cd "$(dirname "$0")"
sdk="${OPENLEGION_SKILL_SDK:-..}"
source "$sdk/compilers.sh"
ensure_componentize_qjs

name="$(sed -n 's/^name: *//p' skill.yaml)"
out="dist/$name"
rm -rf "$out" && mkdir -p "$out"
started=$SECONDS
# --stub-wasi: no WASI imports (a WASI call would trap), so the component needs nothing
#   from the agent beyond the skill world.
# --sync: the plain canonical ABI; the default runtime uses component-model async, which
#   the agent's wasmtime does not enable.
# --opt-size: the smaller QuickJS build (1.1 MB instead of 1.7 MB).
"$COMPONENTIZE_QJS" --wit "$sdk/../wit" --world skill --js skill.js \
  --stub-wasi --sync --opt-size --output "$out/skill.wasm"
echo "componentize-qjs took $((SECONDS - started)) s"
cp skill.yaml "$out/skill.yaml"
"$sdk/check-component.sh" --no-wasi "$out/skill.wasm"
