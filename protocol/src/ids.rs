//! Identifiers: generated ids (`msg_…`, `evt_…`) and the validated [`AgentId`].

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ProtocolError;
use crate::limits::MAX_AGENT_ID_CHARS;

/// Ids no agent may take: they name the mesh itself and the human operator, and
/// `default` names the fallback entry of the permission matrix.
pub const RESERVED_AGENT_IDS: &[&str] = &["mesh", "operator", "canary-probe", "default"];

/// A fresh id: `prefix` + `_` + `hex_len` random lowercase hex digits
/// (`msg_3f9a0c2b71de`), the format of the original's `generate_id`.
pub fn new_id(prefix: &str, hex_len: usize) -> String {
    let mut bytes = vec![0u8; hex_len.div_ceil(2)];
    rand::rng().fill_bytes(&mut bytes);
    let mut id = String::with_capacity(prefix.len() + 1 + hex_len);
    id.push_str(prefix);
    id.push('_');
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id.truncate(prefix.len() + 1 + hex_len);
    id
}

/// An agent's id, checked against `^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$` when it is built or
/// deserialised, so a value of this type is always safe to use in a file name, a container
/// name or a blackboard namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AgentId(String);

impl AgentId {
    /// Checks the grammar only; reserved ids (`mesh`, `operator`, …) are accepted here because
    /// the wire carries them (`from_agent: "mesh"`). Use [`AgentId::new_agent`] for ids an
    /// agent may register under.
    pub fn parse(id: &str) -> Result<Self, ProtocolError> {
        let mut chars = id.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if first_ok && rest_ok && id.len() <= MAX_AGENT_ID_CHARS {
            Ok(Self(id.to_owned()))
        } else {
            Err(ProtocolError::InvalidAgentId { id: id.to_owned() })
        }
    }

    /// Like [`AgentId::parse`], and also refuses the reserved ids.
    pub fn new_agent(id: &str) -> Result<Self, ProtocolError> {
        let parsed = Self::parse(id)?;
        if RESERVED_AGENT_IDS.contains(&id) {
            return Err(ProtocolError::ReservedAgentId { id: id.to_owned() });
        }
        Ok(parsed)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for AgentId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AgentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_prefix_and_hex_length() {
        for (prefix, len) in [("msg", 12), ("fact", 8), ("hook", 11)] {
            let id = new_id(prefix, len);
            let (p, hex) = id.split_once('_').unwrap();
            assert_eq!(p, prefix);
            assert_eq!(hex.len(), len);
            assert!(
                hex.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
        assert_ne!(new_id("msg", 12), new_id("msg", 12));
    }

    #[test]
    fn agent_id_grammar() {
        for ok in ["a", "researcher", "agent-1", "A_b-9", &"x".repeat(64)] {
            assert!(AgentId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-lead",
            "_x",
            "has space",
            "dot.ted",
            "../etc",
            "ü",
            &"x".repeat(65),
        ] {
            assert!(AgentId::parse(bad).is_err(), "{bad}");
        }
        assert!(AgentId::parse("mesh").is_ok());
        assert_eq!(
            AgentId::new_agent("operator").unwrap_err(),
            ProtocolError::ReservedAgentId {
                id: "operator".into()
            }
        );
    }

    #[test]
    fn agent_id_validates_when_deserialised() {
        assert!(serde_json::from_str::<AgentId>("\"ok-1\"").is_ok());
        let err = serde_json::from_str::<AgentId>("\"bad id\"").unwrap_err();
        assert!(err.to_string().contains("invalid agent id"));
    }
}
