#!/usr/bin/env bash
# Builds this Python skill into a component with componentize-py (installed on first use,
# pinned, into .cache/skill-compilers/), lays it out as the agent loads skills, and checks
# that it imports nothing but openlegion:skill/*:
#
#   dist/<name>/skill.wasm   dist/<name>/skill.yaml     (<name> from skill.yaml)
#
# Environment: OPENLEGION_SKILL_SDK (default: the directory above this one) locates
# compilers.sh, check-component.sh and ../wit when the skill lives elsewhere.
set -euo pipefail
cd "$(dirname "$0")"
sdk="${OPENLEGION_SKILL_SDK:-..}"
source "$sdk/compilers.sh"
ensure_componentize_py

name="$(sed -n 's/^name: *//p' skill.yaml)"
out="dist/$name"
rm -rf "$out" && mkdir -p "$out"
started=$SECONDS
# --stub-wasi: the component imports no WASI at all (any WASI call would trap), so it
# needs nothing from the agent beyond the skill world. Don't print: use `log`.
"$COMPONENTIZE_PY" --wit-path "$sdk/../wit" --world skill \
  componentize app --python-path . --stub-wasi --output "$out/skill.wasm"
echo "componentize-py took $((SECONDS - started)) s"
cp skill.yaml "$out/skill.yaml"
"$sdk/check-component.sh" --no-wasi "$out/skill.wasm"
