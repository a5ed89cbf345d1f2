//! `openlegion:skill/skills`: skills the agent writes at run time, as the skill host asks for
//! them.
//!
//! The agent implements [`SkillsCap`] (it compiles inside its sandbox and loads the result);
//! [`crate::host`] checks the grant and these bounds first.

use crate::capability::{Capability, not_granted};
use crate::config::LimitsOverride;

/// Longest source a skill may hand over: far beyond any tool a model writes in one call,
/// small enough that a runaway guest cannot fill the agent's disk through it.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;
/// Longest tools list (JSON): 128 tools with generous schemas.
pub const MAX_TOOLS_JSON_BYTES: usize = 64 * 1024;

/// A skill to create, as the guest asked for it, bounded. The agent checks the rest (the
/// language, the tools, the capability names) and names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillSource {
    /// A valid skill name (checked here).
    pub name: String,
    pub language: String,
    pub code: String,
    pub tools_json: String,
    pub capabilities: Vec<String>,
    pub description: Option<String>,
    pub limits: LimitsOverride,
}

/// The agent's way to create, list, remove and reload its own skills. Every method refuses
/// unless implemented. `Ok` and `Err` are the texts the skill (and so the model) sees.
#[async_trait::async_trait]
pub trait SkillsCap: Send + Sync {
    async fn create(&self, skill: &str, source: SkillSource) -> Result<String, String> {
        let _ = source;
        Err(not_granted(Capability::Skills, skill))
    }

    async fn list(&self, skill: &str) -> Result<String, String> {
        Err(not_granted(Capability::Skills, skill))
    }

    async fn remove(&self, skill: &str, name: &str) -> Result<String, String> {
        let _ = name;
        Err(not_granted(Capability::Skills, skill))
    }

    async fn reload(&self, skill: &str) -> Result<String, String> {
        Err(not_granted(Capability::Skills, skill))
    }
}

/// No skill authoring at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenySkills;

impl SkillsCap for DenySkills {}
