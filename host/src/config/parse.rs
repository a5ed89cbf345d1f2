//! Strict YAML and JSON parsing with error locations.
//!
//! YAML goes through serde-saphyr with strict booleans (`yes` is a string, not `true`) and
//! its default budget, which refuses alias bombs ("billion laughs") and absurd nesting
//! before they cost memory. Both parsers report the dotted path of the failing field via
//! serde_path_to_error.

use std::cell::RefCell;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::ConfigError;

/// Parses `text` (the contents of `path`) as YAML into `T`.
pub(crate) fn yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
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
        ConfigError::Parse {
            path: path.to_owned(),
            line,
            column,
            field: field_or_document(field.into_inner()),
            message: first_line(&e.to_string()),
        }
    })
}

/// Parses `text` (the contents of `path`) as JSON into `T`.
pub(crate) fn json<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = field_or_document(e.path().to_string());
        let inner = e.into_inner();
        ConfigError::Parse {
            path: path.to_owned(),
            line: inner.line() as u64,
            column: inner.column() as u64,
            field,
            message: strip_json_position(&inner.to_string()),
        }
    })
}

fn field_or_document(path: String) -> String {
    if path.is_empty() || path == "." {
        "(document)".into()
    } else {
        path
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}

/// serde_json appends " at line L column C"; we report the position ourselves.
fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}
