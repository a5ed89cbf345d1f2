//! The loaded skills and the index from tool name to skill.
//!
//! A loaded version is immutable and shared (`Arc<LoadedSkill>`): a call takes its own
//! reference under a short read lock and runs without the lock, so a reload swapping in a
//! new version never waits for calls, and calls in flight finish on the version they
//! started with.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::bindings::SkillPre;
use crate::call_state::{CallState, SkillContext};
use crate::capability::Capability;
use crate::config::Limits;
use crate::error::HostError;
use crate::manifest::Manifest;

/// Where a loaded component's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheOutcome {
    /// Already linked in this host (the same bytes were loaded before).
    Memory,
    /// A `.cwasm` from the cache directory.
    Disk,
    /// Compiled now (and stored for next time).
    Compiled,
}

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
    /// The skill that offers it.
    pub skill: String,
}

/// A loaded skill, for `skills()` listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillInfo {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    /// SHA-256 of the component, hex.
    pub sha256: String,
    pub tools: Vec<String>,
    /// Those of its tools the manifest marks as heartbeat probes.
    pub probes: Vec<String>,
    /// What the skill may use: what it asked for and the agent allows, plus `log`.
    pub granted: BTreeSet<Capability>,
    /// What it asked for that the agent does not allow.
    pub clipped: BTreeSet<Capability>,
    pub limits: Limits,
    pub loaded_at: SystemTime,
    /// Where this version's compiled code came from when it was loaded: compiled then,
    /// the disk cache (as after a restart), or memory.
    pub cache: CacheOutcome,
    /// The skill directory, for skills loaded from one.
    pub source: Option<PathBuf>,
    /// Why the latest attempt to load a new version failed (the loaded version kept
    /// serving), if it did.
    pub last_error: Option<String>,
}

/// One version of a skill, ready to run.
pub(crate) struct LoadedSkill {
    pub(crate) manifest: Manifest,
    pub(crate) sha256: String,
    pub(crate) pre: SkillPre<CallState>,
    pub(crate) context: Arc<SkillContext>,
    pub(crate) limits: Limits,
    pub(crate) tools: Vec<ToolInfo>,
    pub(crate) loaded_at: SystemTime,
    pub(crate) cache: CacheOutcome,
    pub(crate) source: Option<PathBuf>,
}

struct Entry {
    current: Arc<LoadedSkill>,
    last_error: Option<String>,
}

/// Skills by name, and which skill offers each tool.
#[derive(Default)]
pub(crate) struct Registry {
    skills: BTreeMap<String, Entry>,
    tools: HashMap<String, String>,
}

impl Registry {
    /// Adds `skill`, replacing the version of the same name and the skill named `renamed`
    /// (a directory whose manifest changed its name). Returns whether a version was
    /// replaced. Refuses, changing nothing, if another skill offers one of its tools.
    pub(crate) fn insert(
        &mut self,
        skill: Arc<LoadedSkill>,
        renamed: Option<&str>,
    ) -> Result<bool, HostError> {
        let name = skill.manifest.name.as_str();
        for tool in &skill.tools {
            match self.tools.get(&tool.name) {
                Some(owner) if owner != name && Some(owner.as_str()) != renamed => {
                    return Err(HostError::DuplicateTool {
                        skill: name.to_owned(),
                        tool: tool.name.clone(),
                        existing: owner.clone(),
                    });
                }
                _ => {}
            }
        }
        if let Some(old) = renamed.filter(|old| *old != name) {
            self.remove(old);
        }
        let replaced = self.remove(name);
        for tool in &skill.tools {
            self.tools.insert(tool.name.clone(), name.to_owned());
        }
        self.skills.insert(
            name.to_owned(),
            Entry {
                current: skill,
                last_error: None,
            },
        );
        Ok(replaced)
    }

    /// Unloads `name`; returns whether it was loaded.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        let Some(entry) = self.skills.remove(name) else {
            return false;
        };
        for tool in &entry.current.tools {
            self.tools.remove(&tool.name);
        }
        true
    }

    /// Notes that a new version of `name` failed to load.
    pub(crate) fn record_error(&mut self, name: &str, error: &HostError) {
        if let Some(entry) = self.skills.get_mut(name) {
            entry.last_error = Some(error.to_string());
        }
    }

    /// The skill that offers `tool`.
    pub(crate) fn skill_for(&self, tool: &str) -> Option<Arc<LoadedSkill>> {
        let name = self.tools.get(tool)?;
        self.skills.get(name).map(|e| e.current.clone())
    }

    pub(crate) fn contains_sha256(&self, sha256: &str) -> bool {
        self.skills.values().any(|e| e.current.sha256 == sha256)
    }

    pub(crate) fn tools(&self) -> Vec<ToolInfo> {
        let mut tools: Vec<ToolInfo> = self
            .skills
            .values()
            .flat_map(|e| e.current.tools.iter().cloned())
            .collect();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        tools
    }

    pub(crate) fn skills(&self) -> Vec<SkillInfo> {
        self.skills
            .values()
            .map(|entry| {
                let skill = &entry.current;
                SkillInfo {
                    name: skill.manifest.name.clone(),
                    version: skill.manifest.version.clone(),
                    description: skill.manifest.description.clone(),
                    sha256: skill.sha256.clone(),
                    tools: skill.tools.iter().map(|t| t.name.clone()).collect(),
                    probes: skill
                        .tools
                        .iter()
                        .filter(|t| skill.manifest.probes.contains(&t.name))
                        .map(|t| t.name.clone())
                        .collect(),
                    granted: skill.context.grant.granted.clone(),
                    clipped: skill.context.grant.clipped.clone(),
                    limits: skill.limits,
                    loaded_at: skill.loaded_at,
                    cache: skill.cache,
                    source: skill.source.clone(),
                    last_error: entry.last_error.clone(),
                }
            })
            .collect()
    }
}
