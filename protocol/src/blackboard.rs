//! Blackboard entries and the rules for keys and values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ProtocolError;
use crate::limits::{MAX_KEY_CHARS, MAX_VALUE_BYTES};

/// One versioned key of the shared blackboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlackboardEntry {
    pub key: String,
    pub value: Map<String, Value>,
    pub written_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(with = "crate::time")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time")]
    pub updated_at: DateTime<Utc>,
    /// Seconds after `updated_at` at which the entry expires; `None` = never.
    #[serde(default)]
    pub ttl: Option<u64>,
    pub version: u64,
}

/// `POST /mesh/blackboard/claim`: write `value` only if the key is at `expected_version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub key: String,
    pub value: Map<String, Value>,
    pub expected_version: u64,
    /// Ignored: the mesh uses the caller's verified identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// `POST /mesh/blackboard/watch`: be told when a key matching `pattern` changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchRequest {
    pub pattern: String,
    /// Ignored: the mesh uses the caller's verified identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// Keys under `history/` are append-only: written once, never changed or deleted.
pub fn is_history_key(key: &str) -> bool {
    key.starts_with("history/")
}

/// Checks a blackboard key. Keys are opaque names, not paths, but permissions are shell
/// globs over them (`context/*`), so a key like `context/../secrets` would read as being
/// under `context/` while naming something else; such keys are refused outright, as are
/// empty segments, a leading `/` and control characters.
pub fn validate_key(key: &str) -> Result<(), ProtocolError> {
    if key.is_empty() {
        return Err(ProtocolError::EmptyKey);
    }
    let len = key.chars().count();
    if len > MAX_KEY_CHARS {
        return Err(ProtocolError::KeyTooLong {
            len,
            max: MAX_KEY_CHARS,
        });
    }
    let invalid = |reason| {
        Err(ProtocolError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.chars().any(char::is_control) {
        return invalid("it contains a control character");
    }
    if key.starts_with('/') {
        return invalid("it starts with '/'");
    }
    if key.contains('\\') {
        return invalid("it contains '\\'");
    }
    if key.ends_with('/') {
        return invalid("it ends with '/'");
    }
    for segment in key.split('/') {
        match segment {
            "." | ".." => return invalid("it contains a '.' or '..' segment"),
            "" => return invalid("it contains an empty segment ('//')"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks that a value fits the size limit once serialised; returns the serialised JSON.
pub fn validate_value(value: &Map<String, Value>) -> Result<String, ProtocolError> {
    let json = serde_json::to_string(value).expect("a JSON map always serialises");
    if json.len() > MAX_VALUE_BYTES {
        return Err(ProtocolError::ValueTooLarge {
            len: json.len(),
            max: MAX_VALUE_BYTES,
        });
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys() {
        for ok in [
            "context/a",
            "tasks/claim_me",
            "a",
            "history/result_1",
            "a.b/c-d_e",
        ] {
            assert_eq!(validate_key(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_key(""), Err(ProtocolError::EmptyKey));
        assert_eq!(
            validate_key(&"k".repeat(513)),
            Err(ProtocolError::KeyTooLong { len: 513, max: 512 })
        );
        assert!(validate_key(&"k".repeat(512)).is_ok());
        for bad in [
            "../x",
            "context/../secrets",
            "a/./b",
            "/abs",
            "a//b",
            "a/",
            "a\nb",
            "a\\b",
        ] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn value_limit_is_on_serialised_bytes() {
        let fits = json!({"v": "x".repeat(MAX_VALUE_BYTES - 8)});
        let fits = fits.as_object().unwrap();
        assert_eq!(validate_value(fits).unwrap().len(), MAX_VALUE_BYTES);
        let over = json!({"v": "x".repeat(MAX_VALUE_BYTES - 7)});
        assert_eq!(
            validate_value(over.as_object().unwrap()),
            Err(ProtocolError::ValueTooLarge {
                len: MAX_VALUE_BYTES + 1,
                max: MAX_VALUE_BYTES
            })
        );
    }
}
