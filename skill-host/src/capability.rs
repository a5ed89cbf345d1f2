//! What a skill may touch: the capability names of the WIT package, and the grant of one
//! skill (its manifest's request, cut down to what the agent allows). What serves each
//! capability is in [`crate::ports`]; this module is below it and imports nothing of the crate.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One interface of `openlegion:skill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    Log,
    Workspace,
    Http,
    Mesh,
    Memory,
    Process,
    Browser,
    Skills,
}

impl Capability {
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Workspace => "workspace",
            Capability::Http => "http",
            Capability::Mesh => "mesh",
            Capability::Memory => "memory",
            Capability::Process => "process",
            Capability::Browser => "browser",
            Capability::Skills => "skills",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error a guest sees when it calls an interface it was not granted (the text is part
/// of the WIT contract).
pub(crate) fn not_granted(capability: Capability, skill: &str) -> String {
    format!("capability '{capability}' is not granted to skill '{skill}'")
}

/// One skill's grant: what its manifest asked for and the agent allows, plus `log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) granted: BTreeSet<Capability>,
    /// Asked for by the manifest but not allowed by the agent.
    pub(crate) clipped: BTreeSet<Capability>,
}

impl Grant {
    pub(crate) fn new(asked: &[Capability], allowed: &BTreeSet<Capability>) -> Self {
        let mut granted = BTreeSet::from([Capability::Log]);
        let mut clipped = BTreeSet::new();
        for &capability in asked {
            if capability == Capability::Log || allowed.contains(&capability) {
                granted.insert(capability);
            } else {
                clipped.insert(capability);
            }
        }
        Grant { granted, clipped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_is_the_intersection_plus_log() {
        let allowed = BTreeSet::from([Capability::Workspace, Capability::Mesh]);
        let grant = Grant::new(&[Capability::Workspace, Capability::Http], &allowed);
        assert_eq!(
            grant.granted,
            BTreeSet::from([Capability::Log, Capability::Workspace])
        );
        assert_eq!(grant.clipped, BTreeSet::from([Capability::Http]));
    }

    #[test]
    fn names_are_lower_case_in_yaml_and_errors() {
        let parsed: Vec<Capability> = serde_json::from_str(r#"["log","http","skills"]"#).unwrap();
        assert_eq!(
            parsed,
            [Capability::Log, Capability::Http, Capability::Skills]
        );
        assert_eq!(
            not_granted(Capability::Http, "x"),
            "capability 'http' is not granted to skill 'x'"
        );
    }
}
