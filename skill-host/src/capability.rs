//! What a skill may touch: the capability names of the WIT package, what the agent allows,
//! and the grant of one skill (its manifest's request, cut down to what is allowed).

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::host::browser::{BrowserCap, DenyBrowser};
use crate::host::http::{DenyHttp, HttpCap};
use crate::host::memory::{DenyMemory, MemoryCap};
use crate::host::mesh::{DenyMesh, MeshCap};
use crate::host::process::{DenyProcess, ProcessCap};
use crate::host::skills::{DenySkills, SkillsCap};

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

/// What the agent lends its skills: which capabilities its permissions allow, its data
/// directory, its connections to the mesh, and its way to run commands in its sandbox.
#[derive(Clone)]
pub struct Capabilities {
    /// What the agent's permissions allow. `log` is granted whether listed or not.
    pub allowed: BTreeSet<Capability>,
    /// The agent's data directory (`/data` in a container): the root of `workspace`.
    pub workspace_root: PathBuf,
    /// Serves the `mesh` interface.
    pub mesh: Arc<dyn MeshCap>,
    /// Serves the `http` interface.
    pub http: Arc<dyn HttpCap>,
    /// Serves the `process` interface.
    pub process: Arc<dyn ProcessCap>,
    /// Serves the `skills` interface.
    pub skills: Arc<dyn SkillsCap>,
    /// Serves the `memory` interface.
    pub memory: Arc<dyn MemoryCap>,
    /// Serves the `browser` interface.
    pub browser: Arc<dyn BrowserCap>,
}

impl Capabilities {
    /// Nothing allowed but `log`, and mesh, http, process, skills, memory and browser
    /// implementations that refuse every call.
    pub fn new(workspace_root: impl Into<PathBuf>) -> Self {
        Capabilities {
            allowed: BTreeSet::new(),
            workspace_root: workspace_root.into(),
            mesh: Arc::new(DenyMesh),
            http: Arc::new(DenyHttp),
            process: Arc::new(DenyProcess),
            skills: Arc::new(DenySkills),
            memory: Arc::new(DenyMemory),
            browser: Arc::new(DenyBrowser),
        }
    }

    /// The same, allowing `allowed`.
    pub fn allowing(mut self, allowed: impl IntoIterator<Item = Capability>) -> Self {
        self.allowed = allowed.into_iter().collect();
        self
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capabilities")
            .field("allowed", &self.allowed)
            .field("workspace_root", &self.workspace_root)
            .finish_non_exhaustive()
    }
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
