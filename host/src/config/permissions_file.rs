//! `config/permissions.json`: the per-agent access control lists.

use std::collections::BTreeMap;

use openlegion_protocol::AgentPermissions;
use serde::{Deserialize, Serialize};

/// The whole of permissions.json: `{"permissions": {agent-or-"default": {...}}, "fleet_skills": []}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PermissionsFile {
    pub permissions: BTreeMap<String, AgentPermissions>,
    /// Accepted only empty: the mesh installs no skill fleet-wide.
    #[serde(deserialize_with = "super::unsupported::fleet_skills")]
    pub fleet_skills: Vec<String>,
}
