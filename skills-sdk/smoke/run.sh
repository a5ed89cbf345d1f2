#!/usr/bin/env bash
# Runs a skill component in smoke.py's throwaway host (wasmtime-py, installed on first use,
# pinned, into .cache/skill-compilers/). Usage: run.sh COMPONENT.wasm [TOOL ARGS_JSON]...
#
#   skills-sdk/smoke/run.sh skills/dist/files/files.wasm read_file '{"path": "notes/hello.md"}'
set -euo pipefail
here="$(dirname "$0")"
source "$here/../compilers.sh"
ensure_wasmtime_py
exec "$SMOKE_PYTHON" "$here/smoke.py" "$@"
