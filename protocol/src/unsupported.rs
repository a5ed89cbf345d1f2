//! Config keys of the Python original that this implementation reads but does not act on.
//!
//! Such a key is accepted only at its "nothing" value (`false`, an empty list, `0`), which
//! is exactly what the mesh does with it; any other value is an error raised while the file
//! is parsed, so it carries the file's line and column and the key's dotted path, and says
//! the key is not supported. Nothing is granted or promised in appearance only.
//!
//! Use with `#[serde(deserialize_with = "unsupported::flag")]` (and `list`, `amount`,
//! `count`); [`refuse`] builds the same error for a key whose every value is refused.

use serde::de::{Deserializer, Error};
use serde::{Deserialize, de::IgnoredAny};

/// The message of every refusal, after the key's path.
pub const NOT_SUPPORTED: &str = "is not supported by this mesh (nothing here grants or enforces it); remove it, or leave it at false / [] / 0";

/// A flag that may only be `false`.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    if bool::deserialize(d)? {
        Err(D::Error::custom(NOT_SUPPORTED))
    } else {
        Ok(false)
    }
}

/// A list that may only be empty.
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items = Vec::<String>::deserialize(d)?;
    if items.is_empty() {
        Ok(items)
    } else {
        Err(D::Error::custom(NOT_SUPPORTED))
    }
}

/// An amount that may only be zero.
pub fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value == 0.0 {
        Ok(value)
    } else {
        Err(D::Error::custom(NOT_SUPPORTED))
    }
}

/// A count that may only be zero.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = u64::deserialize(d)?;
    if value == 0 {
        Ok(value)
    } else {
        Err(D::Error::custom(NOT_SUPPORTED))
    }
}

/// `agent_id` in a permissions entry, which the entry's name already gives: only empty.
pub fn no_agent_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let id = String::deserialize(d)?;
    if id.is_empty() {
        Ok(id)
    } else {
        Err(D::Error::custom(
            "is not supported: the entry's name says which agent it is for",
        ))
    }
}

/// Refuses the key whatever its value, with `why` (for keys with no harmless value).
pub fn refuse<'de, D: Deserializer<'de>, T>(d: D, why: &str) -> Result<T, D::Error> {
    // Read the value first, so a parser reports the position of the value itself.
    IgnoredAny::deserialize(d)?;
    Err(D::Error::custom(format!("is not supported: {why}")))
}

#[cfg(test)]
mod tests {
    use crate::AgentPermissions;

    #[test]
    fn unenforced_grants_are_refused_unless_they_grant_nothing() {
        let ok: AgentPermissions = serde_json::from_str(
            r#"{"can_use_wallet": false, "allowed_credentials": [], "wallet_rate_limit_per_hour": 0}"#,
        )
        .unwrap();
        assert!(!ok.can_use_wallet);
        for bad in [
            r#"{"can_use_wallet": true}"#,
            r#"{"allowed_credentials": ["*"]}"#,
            r#"{"wallet_spend_limit_daily_usd": 5.0}"#,
            r#"{"wallet_rate_limit_per_hour": 3}"#,
        ] {
            let e = serde_json::from_str::<AgentPermissions>(bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("not supported"), "{bad}: {e}");
        }
    }
}
