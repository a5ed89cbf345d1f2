"""openlegion_skill: the Python side of `openlegion:skill@0.1.4`, in one small module.

A skill component exports `describe` (its tools) and `invoke` (call one with a JSON object
as text). This module turns tools written as plain functions over keyword arguments into
those two exports, with the same argument errors as the Rust SDK ("invalid arguments for
tool 'x': missing field `text`"), and wraps the `log` import.

Copy it next to your app; it needs only the bindings componentize-py generates.
"""

import json
from typing import Any, Callable

from componentize_py_types import Err
from wit_world.imports import log as _log
from wit_world.imports import types


class ToolError(Exception):
    """A tool error: its message is what the model reads."""


class log:
    """Logging into the agent's log (always granted; messages over 8 KiB are truncated)."""

    @staticmethod
    def trace(message: str) -> None:
        _log.log(_log.Level.TRACE, str(message))

    @staticmethod
    def debug(message: str) -> None:
        _log.log(_log.Level.DEBUG, str(message))

    @staticmethod
    def info(message: str) -> None:
        _log.log(_log.Level.INFO, str(message))

    @staticmethod
    def warn(message: str) -> None:
        _log.log(_log.Level.WARN, str(message))

    @staticmethod
    def error(message: str) -> None:
        _log.log(_log.Level.ERROR, str(message))


class Skill:
    """The tools of a skill: register them with `@skill.tool(...)`."""

    def __init__(self) -> None:
        self._tools: dict[str, tuple[str, dict, Callable[..., Any]]] = {}

    def tool(self, name: str, description: str, parameters: dict):
        """Registers a function as the tool `name`; `parameters` is the JSON Schema of its
        arguments object, whose properties are passed as keyword arguments. The function
        returns a `str` (sent as is) or any JSON value."""

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self._tools[name] = (description, parameters, function)
            return function

        return register

    def describe(self) -> list[types.Tool]:
        return [
            types.Tool(name, description, json.dumps(parameters))
            for name, (description, parameters, _) in self._tools.items()
        ]

    def invoke(self, tool: str, args_json: str) -> str:
        if tool not in self._tools:
            raise Err(f"unknown tool '{tool}'; this skill has: {', '.join(self._tools)}")
        _, parameters, function = self._tools[tool]
        args = _parse_args(tool, parameters, args_json)
        try:
            result = function(**args)
        except ToolError as e:
            raise Err(str(e))
        except Err as e:  # an import's error (e.g. "Path traversal not allowed: ../x"): pass it on
            raise Err(e.value if isinstance(e.value, str) else repr(e.value))
        except Exception as e:
            raise Err(f"{type(e).__name__}: {e}")
        if isinstance(result, str):
            return result
        return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _parse_args(tool: str, parameters: dict, args_json: str) -> dict:
    """The checks models most often need: an object, required fields present, no unknown
    field when `additionalProperties` is false, and the JSON type of each known field."""

    def invalid(detail: str) -> Err:
        return Err(f"invalid arguments for tool '{tool}': {detail}")

    text = args_json.strip()
    try:
        args = {} if text in ("", "null") else json.loads(text)
    except json.JSONDecodeError as e:
        raise invalid(e.msg)
    if not isinstance(args, dict):
        raise invalid("expected a JSON object")
    properties = parameters.get("properties", {})
    for field in parameters.get("required", []):
        if field not in args:
            raise invalid(f"missing field `{field}`")
    for field, value in args.items():
        schema = properties.get(field)
        if schema is None:
            if parameters.get("additionalProperties") is False:
                raise invalid(f"field '{field}': unknown field `{field}`")
            continue
        check = _JSON_TYPES.get(schema.get("type"))
        if check and not check(value):
            raise invalid(f"field '{field}': expected {schema['type']}, got {json.dumps(value)}")
    return args
