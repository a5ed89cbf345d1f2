//! The built-in `authoring` skill: `create_skill`, `list_custom_skills`, `reload_skills`
//! and `remove_skill` (capability `skills`).
//!
//! The agent does the work (compiling inside its own sandbox, checking the component,
//! writing `/data/skills/<name>/`, loading it); this crate maps the model's arguments onto
//! the WIT call, passes the agent's JSON report through, and adds to a refusal of the
//! capability what the operator must change, because the model will tell them.

use openlegion_skill_sdk::prelude::*;
use openlegion_skill_sdk::serde_json;

// The tests use the SDK's native stand-in for the host, so they run on the host target only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

/// What the operator changes to let an agent compile skills: compiling runs code the agent
/// wrote, so the mesh allows it only where the agent's sandbox is the boundary.
const NOT_GRANTED_HINT: &str = "creating skills compiles and runs code written by the agent, \
    so the mesh allows it only inside a container (isolation: docker or gvisor, with \
    image: full), or on the process backend when the operator sets \
    runtime.allow_skill_compile: true in mesh.yaml";

/// One tool of the new skill.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ToolSpec {
    /// 1 to 64 of a-z A-Z 0-9 _ -; unique among all your tools. The code defines a
    /// function of the same name (a '-' in the name is '_' in the function's name).
    name: String,
    /// What the tool does, what it returns and when to use it (the model reads this).
    description: String,
    /// JSON Schema of the arguments object, e.g. {"type": "object", "properties": {"text":
    /// {"type": "string"}}, "required": ["text"]}.
    parameters: Value,
}

/// Limits of every call of the new skill.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CallLimits {
    /// WebAssembly fuel per call (instructions, roughly).
    fuel: Option<u64>,
    /// Memory per call, in MiB.
    memory_mib: Option<u32>,
    /// Wall-clock time per call, in milliseconds.
    timeout_ms: Option<u32>,
}

/// Arguments of `create_skill`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateSkill {
    /// The skill's name: 1 to 64 of a-z A-Z 0-9 _ -. Creating it again replaces it.
    name: String,
    /// "python", "javascript" or "rust".
    language: String,
    /// The source. Python: define one function per tool, taking the tool's arguments as
    /// keyword arguments. JavaScript: an ES module that exports one function per tool,
    /// taking the arguments object. Return a string or any JSON value; raise/throw an error
    /// to fail the call with its message.
    code: String,
    /// The tools the code implements (Python and JavaScript; leave out for Rust, whose
    /// skill! macro lists them).
    tools: Option<Vec<ToolSpec>>,
    /// Capabilities the tools use: workspace, http, mesh, process (default none). What this
    /// agent may not use is clipped and reported.
    capabilities: Option<Vec<String>>,
    /// What the skill is for.
    description: Option<String>,
    /// Limits of each call (default: the agent's).
    limits: Option<CallLimits>,
}

/// Arguments of `remove_skill`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RemoveSkill {
    /// The name of a skill you created.
    name: String,
}

/// A refusal of the `skills` capability, with what the operator can do about it.
fn explained(error: String) -> String {
    if error.starts_with("capability 'skills' is not granted") {
        format!("{error}: {NOT_GRANTED_HINT}")
    } else {
        error
    }
}

/// The agent's answers are JSON text: pass them on as JSON, not as a quoted string.
fn answer(text: String) -> Result<Value, String> {
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn create_skill(args: CreateSkill) -> Result<Value, String> {
    let tools_json = serde_json::to_string(&args.tools.unwrap_or_default())
        .map_err(|e| format!("the tools cannot be written as JSON: {e}"))?;
    let source = skills::Source {
        name: args.name,
        language: args.language,
        code: args.code,
        tools_json,
        capabilities: args.capabilities.unwrap_or_default(),
        description: args.description,
        limits: args.limits.map(|l| skills::Limits {
            fuel: l.fuel,
            memory_mib: l.memory_mib,
            timeout_ms: l.timeout_ms,
        }),
    };
    skills::create(&source).map_err(explained).and_then(answer)
}

fn list_custom_skills(_: NoArgs) -> Result<Value, String> {
    skills::list().map_err(explained).and_then(answer)
}

fn reload_skills(_: NoArgs) -> Result<Value, String> {
    skills::reload().map_err(explained).and_then(answer)
}

fn remove_skill(args: RemoveSkill) -> Result<Value, String> {
    skills::remove(&args.name)
        .map_err(explained)
        .and_then(answer)
}

openlegion_skill_sdk::skill! {
    create_skill: "Write a new tool for yourself: give source code in Python or JavaScript \
        and the tools it implements; it is compiled inside your sandbox (seconds; Python \
        takes longer) and loaded at once, so you can call its tools right after, in this \
        turn. Python example: code \"def reverse(text):\\n    return text[::-1]\" with \
        tools [{\"name\": \"reverse\", \"description\": \"Reverse a text.\", \"parameters\": \
        {\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"}}, \
        \"required\": [\"text\"]}}]. JavaScript: \"export function reverse({ text }) { \
        return [...text].reverse().join(''); }\". The code runs in a WebAssembly sandbox with \
        no files, network, clock or print: use only the standard library. Python can \
        `from wit_world.imports import workspace, http, mesh, process` and `from \
        openlegion_skill import log, ToolError`; JavaScript can `import workspace from \
        \"openlegion:skill/workspace@0.1.4\"` (each needs its capability). Rust (where the \
        agent's sandbox has it): a lib.rs using openlegion_skill_sdk::prelude::* and the \
        skill! macro (argument types derive Deserialize and JsonSchema); leave tools out. \
        Returns a report \
        {skill, tools, compiled, clipped, ...}; on a compile error, the error names the line \
        of your code: fix it and call create_skill again. Same name replaces the skill."
        => create_skill,
    list_custom_skills: "List the skills you created: name, language, tools, capabilities \
        granted and clipped, whether loaded, and the last load error."
        => list_custom_skills,
    reload_skills: "Load every skill in /data/skills again now (after you changed files \
        there yourself); returns each skill's outcome."
        => reload_skills,
    remove_skill: "Remove a skill you created: unload its tools and delete it."
        => remove_skill,
}
