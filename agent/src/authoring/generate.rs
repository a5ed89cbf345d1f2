//! The files a compiler is given: the agent's code as it wrote it, the SDK's helper for
//! its language, the WIT, and a small generated entry module that registers each tool's
//! function with the helper and exports `describe` and `invoke`. Rust needs no entry
//! module (the code uses the SDK's `skill!`): its build is a copy of the pre-warmed
//! template's workspace with the code as its one crate.
//!
//! The model writes plain functions and a JSON list of tools; everything about the
//! component model stays here. The entry module imports the code at build time (both
//! compilers run the module's top level while building), so a missing function or an
//! error at import fails the build with a message naming the code's file and line.

use std::path::Path;

use super::request::{Language, Request};

/// The SDK helpers, the same files a person writing a skill by hand copies.
const PYTHON_HELPER: &str = include_str!("../../../skills-sdk/python/openlegion_skill.py");
const JAVASCRIPT_HELPER: &str = include_str!("../../../skills-sdk/javascript/openlegion-skill.js");

/// The WIT file given to the compilers.
pub(crate) const WIT_FILE: &str = "skill.wit";
/// The entry module of each language (what the compiler is pointed at).
pub(crate) const PYTHON_ENTRY: &str = "app";
pub(crate) const JAVASCRIPT_ENTRY: &str = "main.js";

/// What of the generated files goes into the input hash: a change to the helper, the glue
/// or the WIT must rebuild even identical code.
pub(crate) fn fingerprint(language: Language) -> String {
    let helper = match language {
        Language::Python => PYTHON_HELPER,
        Language::JavaScript => JAVASCRIPT_HELPER,
        // The template's stamp (in the compiler's version) covers the SDK and the lock.
        Language::Rust => "",
    };
    format!(
        "{}\n{helper}\n{}",
        openlegion_skill_host::WIT,
        entry(language, "[]")
    )
}

/// The crate a Rust build in `dir` is named: its artifact in the template's shared target
/// directory must not be another build's.
pub(crate) fn rust_crate(dir: &Path) -> String {
    let suffix: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("skill_{}", suffix.to_ascii_lowercase())
}

/// Writes a Rust build of `request` into `dir`: a workspace like the template's (the same
/// lock and dependencies, the SDK by path in the template), whose one crate is the code.
fn write_rust(dir: &Path, request: &Request, template: &Path) -> std::io::Result<()> {
    let workspace = std::fs::read_to_string(template.join("skills/Cargo.toml"))?;
    let sdk = template.join("skills-sdk");
    let workspace: String = workspace
        .lines()
        .map(|line| {
            if line.starts_with("members = ") {
                "members = [\"skill\"]".to_owned()
            } else {
                line.replace(
                    "path = \"../skills-sdk\"",
                    &format!("path = {:?}", sdk.display().to_string()),
                )
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let crate_toml = std::fs::read_to_string(template.join("skills/skill/Cargo.toml"))?.replace(
        "name = \"skill\"",
        &format!("name = \"{}\"", rust_crate(dir)),
    );
    let src = dir.join("skills/skill/src");
    std::fs::create_dir_all(&src)?;
    std::fs::write(dir.join("skills/Cargo.toml"), workspace)?;
    std::fs::copy(
        template.join("skills/Cargo.lock"),
        dir.join("skills/Cargo.lock"),
    )?;
    std::fs::write(dir.join("skills/skill/Cargo.toml"), crate_toml)?;
    std::fs::write(src.join("lib.rs"), &request.code)
}

/// Writes the build inputs of `request` into `dir` (`rust_template` for Rust).
pub(crate) fn write(
    dir: &Path,
    request: &Request,
    rust_template: Option<&Path>,
) -> std::io::Result<()> {
    let tools = serde_json::to_string(&request.tools).map_err(std::io::Error::other)?;
    match request.language {
        Language::Python => {
            write_common(dir, request)?;
            std::fs::write(dir.join("openlegion_skill.py"), PYTHON_HELPER)?;
            std::fs::write(
                dir.join(format!("{PYTHON_ENTRY}.py")),
                entry(Language::Python, &tools),
            )?;
        }
        Language::JavaScript => {
            write_common(dir, request)?;
            std::fs::write(dir.join("openlegion-skill.js"), JAVASCRIPT_HELPER)?;
            std::fs::write(
                dir.join(JAVASCRIPT_ENTRY),
                entry(Language::JavaScript, &tools),
            )?;
        }
        Language::Rust => {
            let template = rust_template
                .ok_or_else(|| std::io::Error::other("no Rust template to build against"))?;
            write_rust(dir, request, template)?;
        }
    }
    Ok(())
}

/// The WIT and the code, as the componentize compilers want them.
fn write_common(dir: &Path, request: &Request) -> std::io::Result<()> {
    std::fs::write(dir.join(WIT_FILE), openlegion_skill_host::WIT)?;
    std::fs::write(dir.join(request.language.source_file()), &request.code)
}

/// The entry module for `tools` (a JSON array).
fn entry(language: Language, tools: &str) -> String {
    // A JSON text is a valid string literal's content once quoted as JSON, in Python as in
    // JavaScript (serde_json writes no escape either language lacks).
    let quoted = serde_json::to_string(tools).unwrap_or_else(|_| "\"[]\"".into());
    match language {
        Language::Python => format!(
            r#""""Generated by the agent: registers the functions of skill.py as its tools."""
import json

import wit_world
from openlegion_skill import Skill

import skill as _code

_skill = Skill()
for _tool in json.loads({quoted}):
    _function = getattr(_code, _tool["name"].replace("-", "_"), None)
    if not callable(_function):
        raise RuntimeError(
            f"skill.py defines no function {{_tool['name'].replace('-', '_')}} for the tool "
            f"{{_tool['name']}}"
        )
    _skill.tool(_tool["name"], _tool["description"], _tool["parameters"])(_function)


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return _skill.describe()

    def invoke(self, tool, args_json):
        return _skill.invoke(tool, args_json)
"#
        ),
        Language::JavaScript => format!(
            r#"// Generated by the agent: registers the functions skill.js exports as its tools.
import * as code from "./skill.js";
import {{ defineSkill }} from "./openlegion-skill.js";

const skill = defineSkill(
  JSON.parse({quoted}).map((tool) => {{
    const name = tool.name.replace(/-/g, "_");
    const run = code[name];
    if (typeof run !== "function") {{
      throw new Error(`skill.js exports no function ${{name}} for the tool ${{tool.name}}`);
    }}
    return {{ ...tool, run }};
  }}),
);

export function describe() {{
  return skill.describe();
}}

export function invoke(tool, argsJson) {{
  return skill.invoke(tool, argsJson);
}}
"#
        ),
        Language::Rust => String::new(),
    }
}
