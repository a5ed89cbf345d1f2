//! The one strict YAML reader of every file a user writes (mesh.yaml, agents.yaml,
//! skill.yaml, …), so they all follow the same rules: serde-saphyr with strict booleans
//! (`yes` stays a string, not `true`) and its default budget, which refuses alias bombs
//! ("billion laughs") and absurd nesting before they cost memory; the failing field is
//! reported by its dotted path (serde_path_to_error) with its line and column.

use std::cell::RefCell;

use serde::de::DeserializeOwned;

/// Where and why a YAML document did not parse into the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {field}: {message}")]
pub struct YamlError {
    /// 1-based; 0 when the parser could not say.
    pub line: u64,
    pub column: u64,
    /// Dotted path of the failing field (`agents.researcher.budget.daily_usd`), or
    /// `(document)` when the document as a whole is wrong.
    pub field: String,
    /// The parser's message, one line, without its own position.
    pub message: String,
}

/// Parses `text` as YAML into `T`, strictly (see the module docs).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.with_snippet = false;
    let field = RefCell::new(String::new());
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            *field.borrow_mut() = e.path().to_string();
            e.into_inner()
        })
    });
    parsed.map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let field = field.into_inner();
        YamlError {
            line,
            column,
            field: if field.is_empty() || field == "." {
                "(document)".into()
            } else {
                field
            },
            message: first_line_without_position(&e.to_string()),
        }
    })
}

/// serde-saphyr's message without its snippet and its " at line L, column C" (the error
/// carries the position itself).
fn first_line_without_position(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default().trim();
    match line.rfind(" at line ") {
        Some(at) => line[..at].to_owned(),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Agent {
        #[allow(dead_code, reason = "read only by Debug; the test checks parsing")]
        enabled: bool,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[allow(dead_code, reason = "read only by Debug; the test checks parsing")]
        agents: std::collections::BTreeMap<String, Agent>,
    }

    #[test]
    fn yes_is_not_a_boolean_and_the_error_names_the_field_and_line() {
        let e = super::from_str::<File>("agents:\n  a:\n    enabled: yes\n").unwrap_err();
        assert_eq!(e.field, "agents.a.enabled", "{e}");
        assert_eq!(e.line, 3, "{e}");
        assert!(!e.message.contains(" at line "), "{e}");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = super::from_str::<File>("agents:\n  a:\n    enabled: true\n    colour: red\n")
            .unwrap_err();
        assert!(e.message.contains("colour"), "{e}");
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_owned()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(super::from_str::<serde_json::Value>(&bomb).is_err());
    }
}
