#!/usr/bin/env bash
# Checks skill components: each must be a valid component that exports the world `skill`'s
# `describe` and `invoke` and imports only `openlegion:skill/*@0.1.x` and, unless
# --no-wasi, `wasi:*` (Rust's std always imports WASI; the agent links an empty one). With
# --no-wasi the component must also pass `wasm-tools component targets` against wit/ (with
# WASI imports it cannot: they are outside the world). Prints size, imports and exports.
#
# Usage: check-component.sh [--no-wasi] FILE.wasm...
set -euo pipefail
source "$(dirname "$0")/compilers.sh"
ensure_wasm_tools

# Any 0.1.x: the agent links the newest 0.1, which serves every older 0.1 import.
allowed='^openlegion:skill/[a-z-]+@0\.1\.[0-9]+$|^wasi:'
strict=0
if [ "${1:-}" = "--no-wasi" ]; then
  allowed='^openlegion:skill/[a-z-]+@0\.1\.[0-9]+$'
  strict=1
  shift
fi
exports_wanted='describe: func() -> list<tool>
invoke: func(tool: string, args-json: string) -> result<string, string>'

fail() {
  echo "  $1" >&2
  status=1
}

status=0
for wasm in "$@"; do
  "$WASM_TOOLS" validate "$wasm"
  if [ "$strict" = 1 ]; then
    "$WASM_TOOLS" component targets "$SKILL_SDK_DIR/../wit" "$wasm" --world skill
  fi
  wit="$("$WASM_TOOLS" component wit "$wasm")"
  imports="$(sed -n 's/^  import \([^;]*\);$/\1/p' <<<"$wit")"
  exports="$(sed -n 's/^  export \([^;]*\);$/\1/p' <<<"$wit")"
  bad="$(grep -Ev "$allowed" <<<"$imports" || true)"
  ours="$(grep -c '^openlegion:' <<<"$imports" || true)"
  wasi="$(grep -c '^wasi:' <<<"$imports" || true)"
  printf '%s: %s bytes; imports: %s openlegion:skill, %s wasi\n' \
    "$wasm" "$(stat -c %s "$wasm")" "$ours" "$wasi"
  sed 's/^/    import /' <<<"$imports"
  sed 's/^/    export /' <<<"$exports"
  if [ -n "$bad" ]; then
    fail "imports not allowed: $bad"
  fi
  missing="$(grep -vxF -f <(cat <<<"$exports") <<<"$exports_wanted" || true)"
  if [ -n "$missing" ]; then
    fail "exports missing: $missing"
  fi
done
exit "$status"
