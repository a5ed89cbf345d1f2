//! A `create` request, checked: the language, the tools (each implemented by a function
//! of the same name), the capabilities by name. Everything wrong is named, so the model can
//! fix its call; nothing here touches the disk.

use std::collections::BTreeSet;

use openlegion_skill_host::{Capability, SkillSource};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most tools one created skill may have.
const MAX_TOOLS: usize = 32;
/// Longest tool description (the skill host's own limit).
const MAX_DESCRIPTION_CHARS: usize = 4096;

/// The languages the agent can compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Language {
    Python,
    JavaScript,
    Rust,
}

impl Language {
    fn parse(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "python" | "py" => Ok(Language::Python),
            "javascript" | "js" => Ok(Language::JavaScript),
            "rust" | "rs" => Ok(Language::Rust),
            _ => Err(format!(
                "unknown language {name:?}: use \"python\", \"javascript\" or \"rust\""
            )),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::Rust => "rust",
        }
    }

    /// The file the agent's code is written to.
    pub(crate) fn source_file(self) -> &'static str {
        match self {
            Language::Python => "skill.py",
            Language::JavaScript => "skill.js",
            Language::Rust => "lib.rs",
        }
    }
}

/// One tool of a created skill, as the model described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolSpec {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) parameters: Value,
}

impl ToolSpec {
    /// The function implementing the tool: its name with `-` read as `_`.
    pub(crate) fn function(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) name: String,
    pub(crate) language: Language,
    pub(crate) code: String,
    pub(crate) tools: Vec<ToolSpec>,
    pub(crate) capabilities: Vec<Capability>,
    pub(crate) description: Option<String>,
    pub(crate) limits: openlegion_skill_host::LimitsOverride,
}

impl Request {
    /// Checks `source`; `reserved` are the names of the built-in skills.
    pub(crate) fn check(source: SkillSource, reserved: &BTreeSet<String>) -> Result<Self, String> {
        if reserved.contains(&source.name) {
            return Err(format!(
                "'{}' is the name of a built-in skill; choose another name",
                source.name
            ));
        }
        let language = Language::parse(&source.language)?;
        if source.code.trim().is_empty() {
            return Err("code is empty".into());
        }
        let tools = tools(&source.tools_json, language)?;
        let capabilities = source
            .capabilities
            .iter()
            .map(|name| capability(name))
            .collect::<Result<BTreeSet<_>, _>>()?
            .into_iter()
            .collect();
        Ok(Request {
            name: source.name,
            language,
            code: source.code,
            tools,
            capabilities,
            description: source.description,
            limits: source.limits,
        })
    }
}

fn capability(name: &str) -> Result<Capability, String> {
    serde_json::from_value(Value::String(name.trim().to_ascii_lowercase())).map_err(|_| {
        format!(
            "unknown capability {name:?}: use workspace, http, mesh, process or skills \
             (log is always granted)"
        )
    })
}

fn tools(tools_json: &str, language: Language) -> Result<Vec<ToolSpec>, String> {
    let tools: Vec<ToolSpec> = serde_json::from_str(tools_json).map_err(|e| {
        format!("tools must be a JSON array of {{\"name\", \"description\", \"parameters\"}}: {e}")
    })?;
    // A Rust skill describes its own tools: the SDK's `skill!` derives each schema from the
    // argument type, so a second description could only disagree with it.
    if language == Language::Rust {
        return if tools.is_empty() {
            Ok(tools)
        } else {
            Err(
                "for rust, leave tools out: the openlegion_skill_sdk::skill! macro in the \
                 code lists the tools, and their schemas come from the argument types"
                    .into(),
            )
        };
    }
    if tools.is_empty() {
        return Err("tools is empty: a skill needs at least one tool".into());
    }
    if tools.len() > MAX_TOOLS {
        return Err(format!(
            "{} tools; a created skill may have at most {MAX_TOOLS}",
            tools.len()
        ));
    }
    let mut functions = BTreeSet::new();
    for tool in &tools {
        let problem = |message: String| format!("tool {:?}: {message}", tool.name);
        let valid_name = (1..=64).contains(&tool.name.len())
            && tool
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(problem(
                "invalid name: use 1 to 64 of a-z A-Z 0-9 _ -".into(),
            ));
        }
        if tool.name.as_bytes()[0].is_ascii_digit() {
            return Err(problem(format!(
                "the name must not start with a digit: it is the name of a {} function",
                language.name()
            )));
        }
        if is_keyword(language, &tool.function()) {
            return Err(problem(format!(
                "'{}' is a {} keyword and cannot name a function; choose another name",
                tool.function(),
                language.name()
            )));
        }
        if !functions.insert(tool.function()) {
            return Err(problem(format!(
                "another tool also needs the function '{}'",
                tool.function()
            )));
        }
        if tool.description.trim().is_empty() {
            return Err(problem("description is empty".into()));
        }
        if tool.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(problem(format!(
                "description is longer than {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        if !tool.parameters.is_object() {
            return Err(problem(
                "parameters must be a JSON Schema object, e.g. {\"type\": \"object\", \
                 \"properties\": {}}"
                    .into(),
            ));
        }
    }
    Ok(tools)
}

/// Whether `word` is reserved in `language`, so no function can have it as its name.
fn is_keyword(language: Language, word: &str) -> bool {
    const PYTHON: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    const JAVASCRIPT: &[&str] = &[
        "await",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
    ];
    match language {
        Language::Python => PYTHON.contains(&word),
        Language::JavaScript => JAVASCRIPT.contains(&word),
        Language::Rust => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(language: &str, tools: Value) -> SkillSource {
        SkillSource {
            name: "text".into(),
            language: language.into(),
            code: "def reverse(text):\n    return text[::-1]\n".into(),
            tools_json: tools.to_string(),
            capabilities: vec!["Workspace".into()],
            description: None,
            limits: Default::default(),
        }
    }

    fn reverse() -> Value {
        json!([{"name": "reverse", "description": "Reverse a text.",
                "parameters": {"type": "object"}}])
    }

    #[test]
    fn a_good_request_passes() {
        let request = Request::check(source("Python", reverse()), &BTreeSet::new()).unwrap();
        assert_eq!(request.language, Language::Python);
        assert_eq!(request.capabilities, [Capability::Workspace]);
        assert_eq!(request.tools[0].function(), "reverse");
    }

    #[test]
    fn each_mistake_is_named() {
        let reserved = BTreeSet::from(["files".to_owned()]);
        let check = |source: SkillSource| Request::check(source, &reserved).unwrap_err();
        assert_eq!(
            check(source("cobol", reverse())),
            "unknown language \"cobol\": use \"python\", \"javascript\" or \"rust\""
        );
        assert!(check(source("python", json!({"name": "x"}))).starts_with("tools must be"));
        assert_eq!(
            check(source("python", json!([]))),
            "tools is empty: a skill needs at least one tool"
        );
        let keyword = json!([{"name": "class", "description": "d", "parameters": {}}]);
        assert!(check(source("python", keyword)).contains("is a python keyword"));
        let twice = json!([
            {"name": "a-b", "description": "d", "parameters": {}},
            {"name": "a_b", "description": "d", "parameters": {}},
        ]);
        assert!(check(source("javascript", twice)).contains("also needs the function 'a_b'"));
        let schema = json!([{"name": "a", "description": "d", "parameters": "text"}]);
        assert!(check(source("python", schema)).contains("JSON Schema object"));
        let mut teleport = source("python", reverse());
        teleport.capabilities = vec!["teleport".into()];
        assert!(check(teleport).starts_with("unknown capability \"teleport\""));
        let mut builtin = source("python", reverse());
        builtin.name = "files".into();
        assert!(check(builtin).contains("built-in skill"));
        assert!(check(source("rust", reverse())).starts_with("for rust, leave tools out"));
        let mut empty = source("python", reverse());
        empty.code = "  \n".into();
        assert_eq!(check(empty), "code is empty");
    }
}
