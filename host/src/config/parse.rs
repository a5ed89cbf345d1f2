//! Strict YAML and JSON parsing with error locations.
//!
//! YAML goes through `openlegion_protocol::strict_yaml` (strict booleans, a budget against
//! alias bombs), the reader skill manifests use too. Both parsers report the dotted path of
//! the failing field via serde_path_to_error.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::ConfigError;

/// Parses `text` (the contents of `path`) as YAML into `T`, with the strict reader every
/// config file shares.
pub(crate) fn yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    openlegion_protocol::strict_yaml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        line: e.line,
        column: e.column,
        field: e.field,
        message: e.message,
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

/// serde_json appends " at line L column C"; we report the position ourselves.
fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}
