// openlegion-skill.js: the JavaScript side of `openlegion:skill@0.1.4`, in one small file.
//
// A skill component exports `describe` (its tools) and `invoke` (call one with a JSON
// object as text). This module turns a list of tools, each a plain function over a parsed
// arguments object, into those two exports, with the same argument errors as the Rust SDK
// ("invalid arguments for tool 'x': missing field `text`"), and wraps the imports.
//
// Copy it next to your skill; it has no dependencies.

import logIface from "openlegion:skill/log@0.1.4";

/** A tool error: its message is what the model reads. Any other thrown Error works too. */
export class ToolError extends Error {}

/** Logs into the agent's log (always granted; messages over 8 KiB are truncated). */
export const log = {
  trace: (message) => logIface.log("trace", String(message)),
  debug: (message) => logIface.log("debug", String(message)),
  info: (message) => logIface.log("info", String(message)),
  warn: (message) => logIface.log("warn", String(message)),
  error: (message) => logIface.log("error", String(message)),
};

/**
 * Builds `{ describe, invoke }` from tools of the shape
 * `{ name, description, parameters, run }`, where `parameters` is the JSON Schema of the
 * arguments object and `run(args)` returns a string (sent as is) or any JSON value.
 */
export function defineSkill(tools) {
  const byName = new Map(tools.map((t) => [t.name, t]));
  return {
    describe() {
      return tools.map((t) => ({
        name: t.name,
        description: t.description,
        parametersSchema: JSON.stringify(t.parameters),
      }));
    },
    invoke(name, argsJson) {
      const tool = byName.get(name);
      if (!tool) {
        throw `unknown tool '${name}'; this skill has: ${tools.map((t) => t.name).join(", ")}`;
      }
      const args = parseArgs(tool, argsJson);
      let result;
      try {
        result = tool.run(args);
      } catch (e) {
        throw e instanceof Error ? e.message : String(e);
      }
      return typeof result === "string" ? result : JSON.stringify(result);
    },
  };
}

// The checks models most often need: an object, required fields present, no unknown field
// when `additionalProperties` is false, and the JSON type of each known field.
function parseArgs(tool, argsJson) {
  const invalid = (detail) => `invalid arguments for tool '${tool.name}': ${detail}`;
  const text = argsJson.trim();
  let args;
  if (text === "" || text === "null") {
    args = {};
  } else {
    try {
      args = JSON.parse(text);
    } catch (e) {
      throw invalid(e.message);
    }
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw invalid("expected a JSON object");
  }
  const properties = tool.parameters.properties ?? {};
  for (const field of tool.parameters.required ?? []) {
    if (!(field in args)) throw invalid(`missing field \`${field}\``);
  }
  for (const [field, value] of Object.entries(args)) {
    const schema = properties[field];
    if (!schema) {
      if (tool.parameters.additionalProperties === false) {
        throw invalid(`field '${field}': unknown field \`${field}\``);
      }
      continue;
    }
    if (schema.type && !hasType(value, schema.type)) {
      throw invalid(`field '${field}': expected ${schema.type}, got ${JSON.stringify(value)}`);
    }
  }
  return args;
}

function hasType(value, type) {
  switch (type) {
    case "string": return typeof value === "string";
    case "boolean": return typeof value === "boolean";
    case "number": return typeof value === "number";
    case "integer": return Number.isInteger(value);
    case "array": return Array.isArray(value);
    case "object": return typeof value === "object" && value !== null && !Array.isArray(value);
    default: return true;
  }
}
