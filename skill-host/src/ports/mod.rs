//! The capability ports: what the agent lends its skills, one trait per delegated WIT
//! interface (`http`, `mesh`, `process`, `skills`, `memory`, `browser`), each with a `Deny*`
//! implementation that refuses every call, and [`Capabilities`], the bundle handed to a
//! [`SkillHost`](crate::SkillHost).
//!
//! Ports hold the contract only (the traits, the bounded request and answer types, the
//! WIT's limits). The WIT host implementations that check grants and bounds and call these
//! ports are in [`crate::host`], which imports this module, never the other way round.

pub(crate) mod browser;
pub(crate) mod http;
pub(crate) mod memory;
pub(crate) mod mesh;
pub(crate) mod process;
pub(crate) mod skills;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::capability::Capability;
use browser::{BrowserCap, DenyBrowser};
use http::{DenyHttp, HttpCap};
use memory::{DenyMemory, MemoryCap};
use mesh::{DenyMesh, MeshCap};
use process::{DenyProcess, ProcessCap};
use skills::{DenySkills, SkillsCap};

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
