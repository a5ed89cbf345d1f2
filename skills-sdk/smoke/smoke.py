"""Runs a skill component in a throwaway host, until the agent's wasmtime host exists.

It instantiates the component with wasmtime-py, serves `openlegion:skill/*` from memory
(a small file tree, a blackboard, a canned HTTP answer, a recorded log) plus an empty WASI,
calls `describe`, checks every parameters schema is a JSON object schema, then runs each
`TOOL ARGS_JSON` pair given on the command line and prints what came back. It fails (a
Python exception) if the component does not instantiate, a schema is wrong or a call traps;
a tool error (`err`) is an answer, printed like any other.

It is a smoke test of the guest side only: no limits, no permissions, no real I/O.
Usage: python smoke.py COMPONENT.wasm [TOOL ARGS_JSON]...
"""

import json
import sys
import time

from wasmtime import Config, Engine, Store, WasiConfig
from wasmtime.component import Component, Linker, Record, Variant


def record(**fields):
    """A WIT record; field names are WIT names (`is-dir`)."""
    r = Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


class Host:
    """The host side of the imports, all in memory."""

    def __init__(self):
        self.files = {"notes/hello.md": "line one\nline two\n"}
        self.board = {}
        self.logs = []

    def link(self, linker):
        root = linker.root()
        with root.add_instance("openlegion:skill/types@0.1.0"):
            pass
        with root.add_instance("openlegion:skill/log@0.1.0") as log:
            log.add_func("log", self.log)
        with root.add_instance("openlegion:skill/workspace@0.1.0") as ws:
            ws.add_func("read-file", self.read_file)
            ws.add_func("write-file", self.write_file)
            ws.add_func("list-files", self.list_files)
        with root.add_instance("openlegion:skill/http@0.1.0") as http:
            http.add_func("fetch", self.fetch)
        with root.add_instance("openlegion:skill/mesh@0.1.0") as mesh:
            mesh.add_func("read-state", self.read_state)
            mesh.add_func("write-state", self.write_state)
            mesh.add_func("list-state", lambda _s, prefix: Variant("ok", json.dumps(
                [e for k, e in sorted(self.board.items()) if k.startswith(prefix)])))
            mesh.add_func("publish", lambda _s, topic, payload: 1)
            mesh.add_func("list-agents", lambda _s: Variant("ok", json.dumps(
                {"smoke": {"role": "test", "capabilities": [], "registered": True, "inbox": 0}})))
            mesh.add_func("send-message", lambda _s, to, kind, payload: Variant("ok", "{}"))

    def log(self, _store, level, message):
        self.logs.append((level, message))
        print(f"  [guest log {level}] {message}")

    @staticmethod
    def confine(path):
        path = path.removeprefix("/data/")
        if path.startswith("/"):
            return None, f"Absolute paths not allowed: {path}"
        if ".." in path.split("/"):
            return None, f"Path traversal not allowed: {path}"
        return path, None

    def read_file(self, _store, path, offset, limit):
        key, err = self.confine(path)
        if err or key not in self.files:
            return Variant("err", err or f"File not found: {path}")
        lines = self.files[key].splitlines(keepends=True)[offset or 0:]
        return Variant("ok", "".join(lines[:limit] if limit else lines))

    def write_file(self, _store, path, contents, append):
        key, err = self.confine(path)
        if err:
            return err
        self.files[key] = (self.files.get(key, "") if append else "") + contents
        return len(contents.encode())

    def list_files(self, _store, path, pattern, recursive):
        return [record(path=k, is_dir=False, size=len(v.encode())) for k, v in sorted(self.files.items())]

    def fetch(self, _store, request):
        if "10.0.0." in request.url:
            return "SSRF protection: requests to private/internal addresses are blocked"
        body = json.dumps({"method": request.method, "url": request.url,
                           "headers": [list(h) for h in request.headers], "body": request.body})
        return record(status=200, headers=[("content-type", "application/json")], body=body, truncated=False)

    def read_state(self, _store, key):
        entry = self.board.get(key)
        return Variant("ok", None if entry is None else json.dumps(entry))

    def write_state(self, _store, key, value_json, ttl):
        old = self.board.get(key, {"version": 0})
        self.board[key] = {"key": key, "value": json.loads(value_json), "written_by": "smoke",
                           "created_at": "2026-01-01T00:00:00", "updated_at": "2026-01-01T00:00:00",
                           "ttl": ttl, "version": old["version"] + 1}
        return Variant("ok", json.dumps(self.board[key]))


def main(path, calls):
    engine = Engine(Config())
    started = time.perf_counter()
    component = Component.from_file(engine, path)
    compiled = time.perf_counter()
    store = Store(engine)
    store.set_wasi(WasiConfig())  # empty: no args, env, files or sockets
    linker = Linker(engine)
    linker.add_wasip2()
    host = Host()
    host.link(linker)
    instance = linker.instantiate(store, component)
    describe = instance.get_func(store, "describe")
    invoke = instance.get_func(store, "invoke")
    tools = describe(store)
    describe.post_return(store)
    print(f"{path}: compiled in {compiled - started:.2f}s, {len(tools)} tools")
    for tool in tools:
        schema = json.loads(getattr(tool, "parameters-schema"))
        assert schema.get("type") == "object" and "properties" in schema, schema
        print(f"  {tool.name}({', '.join(schema['properties'])}): {tool.description[:70]}...")
    for name, args in zip(calls[::2], calls[1::2]):
        result = invoke(store, name, args)
        invoke.post_return(store)
        print(f"  {name} {args}\n    -> {result.tag}: {result.payload}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
