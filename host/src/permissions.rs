//! The permission matrix: who may message whom, publish or subscribe to which topics, read
//! or write which blackboard keys, and use which proxied APIs.
//!
//! Semantics are the original's (`src/host/permissions.py`), which its users' files rely on:
//! - an agent's own entry, else the `default` entry, else deny-all;
//! - blackboard lists are shell globs as Python's `fnmatch` reads them: `*` matches any run
//!   of characters *including `/`*, `?` one character, `[seq]`/`[!seq]` a class; matching is
//!   case-sensitive;
//! - `can_message`, `can_publish`, `can_subscribe` are exact names or the literal `*`;
//! - `allowed_apis` is exact membership (no `*`);
//! - the id `mesh` is trusted and allowed everything.
//!
//! The matrix is immutable; reloading builds a new one and swaps it into the live
//! [`Permissions`] that every service holds.

use std::collections::HashMap;

use glob::{MatchOptions, Pattern};
use openlegion_protocol::AgentPermissions;

use crate::config::PermissionsFile;

/// The id of the mesh itself, which bypasses every check.
pub const TRUSTED_ID: &str = "mesh";

const FNMATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// A compiled shell glob with `fnmatch` semantics.
#[derive(Debug, Clone)]
pub struct Glob(Pattern);

impl Glob {
    /// Compiles `pattern`. `**` means the same as `*` (as in `fnmatch`, where `*` already
    /// crosses `/`), and a pattern the glob grammar rejects (an unclosed `[`) matches itself
    /// literally, which is what `fnmatch` does with it.
    pub fn new(pattern: &str) -> Self {
        let mut normalised = pattern.to_owned();
        while normalised.contains("**") {
            normalised = normalised.replace("**", "*");
        }
        let compiled = Pattern::new(&normalised)
            .unwrap_or_else(|_| Pattern::new(&Pattern::escape(pattern)).expect("escaped is valid"));
        Self(compiled)
    }

    pub fn matches(&self, text: &str) -> bool {
        self.0.matches_with(text, FNMATCH)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    perms: AgentPermissions,
    read: Vec<Glob>,
    write: Vec<Glob>,
}

impl Entry {
    fn new(perms: AgentPermissions) -> Self {
        let read = perms.blackboard_read.iter().map(|p| Glob::new(p)).collect();
        let write = perms
            .blackboard_write
            .iter()
            .map(|p| Glob::new(p))
            .collect();
        Self { perms, read, write }
    }
}

/// The resolved permission matrix.
#[derive(Debug, Default, Clone)]
pub struct PermissionMatrix {
    agents: HashMap<String, Entry>,
    default: Option<Entry>,
    /// `collaboration: false` in mesh.yaml: no agent may message another, whatever
    /// `can_message` says.
    no_collaboration: bool,
}

fn exact_or_star(list: &[String], name: &str) -> bool {
    list.iter().any(|item| item == "*" || item == name)
}

impl PermissionMatrix {
    /// Deny-all for everyone but the mesh: what a missing permissions.json means.
    pub fn deny_all() -> Self {
        Self::default()
    }

    pub fn from_file(file: &PermissionsFile) -> Self {
        let mut agents = HashMap::new();
        let mut default = None;
        for (name, perms) in &file.permissions {
            let entry = Entry::new(perms.clone());
            if name == "default" {
                default = Some(entry);
            } else {
                agents.insert(name.clone(), entry);
            }
        }
        Self {
            agents,
            default,
            no_collaboration: false,
        }
    }

    /// Applies mesh.yaml's `collaboration` (default `true`): when `false`, agents may not
    /// message each other at all (`can_message` is ignored); the operator and the mesh
    /// still reach every agent.
    pub fn with_collaboration(mut self, collaboration: bool) -> Self {
        self.no_collaboration = !collaboration;
        self
    }

    fn entry(&self, agent: &str) -> Option<&Entry> {
        self.agents.get(agent).or(self.default.as_ref())
    }

    /// The permissions that apply to `agent` (its own, the default's, or none).
    pub fn resolve(&self, agent: &str) -> AgentPermissions {
        let mut perms = self
            .entry(agent)
            .map(|e| e.perms.clone())
            .unwrap_or_default();
        perms.agent_id = agent.to_owned();
        perms
    }

    pub fn can_message(&self, from: &str, to: &str) -> bool {
        from == TRUSTED_ID
            || (!self.no_collaboration
                && self
                    .entry(from)
                    .is_some_and(|e| exact_or_star(&e.perms.can_message, to)))
    }

    pub fn can_publish(&self, agent: &str, topic: &str) -> bool {
        agent == TRUSTED_ID
            || self
                .entry(agent)
                .is_some_and(|e| exact_or_star(&e.perms.can_publish, topic))
    }

    pub fn can_subscribe(&self, agent: &str, topic: &str) -> bool {
        agent == TRUSTED_ID
            || self
                .entry(agent)
                .is_some_and(|e| exact_or_star(&e.perms.can_subscribe, topic))
    }

    pub fn can_read(&self, agent: &str, key: &str) -> bool {
        agent == TRUSTED_ID
            || self
                .entry(agent)
                .is_some_and(|e| e.read.iter().any(|g| g.matches(key)))
    }

    pub fn can_write(&self, agent: &str, key: &str) -> bool {
        agent == TRUSTED_ID
            || self
                .entry(agent)
                .is_some_and(|e| e.write.iter().any(|g| g.matches(key)))
    }

    /// Whether `agent` may read `target`'s conversation and task results.
    pub fn can_read_history(&self, agent: &str, target: &str) -> bool {
        agent == TRUSTED_ID
            || self
                .entry(agent)
                .is_some_and(|e| exact_or_star(&e.perms.can_read_history, target))
    }

    /// Adds the sub-agent `child` of `parent`: `child` gets `child_perms` (derived from the
    /// parent's by the caller, never more), and the parent may message it and read its
    /// history from now on (its own entry is made from what it resolves to if it had none).
    pub fn add_sub_agent(&mut self, parent: &str, child: &str, child_perms: AgentPermissions) {
        let mut parent_perms = self.resolve(parent);
        parent_perms.agent_id = String::new();
        for list in [
            &mut parent_perms.can_message,
            &mut parent_perms.can_read_history,
        ] {
            if !list.iter().any(|a| a == child) {
                list.push(child.to_owned());
            }
        }
        self.agents
            .insert(parent.to_owned(), Entry::new(parent_perms));
        self.agents
            .insert(child.to_owned(), Entry::new(child_perms));
    }

    pub fn can_use_api(&self, agent: &str, api: &str) -> bool {
        agent == TRUSTED_ID
            || self
                .entry(agent)
                .is_some_and(|e| e.perms.allowed_apis.iter().any(|a| a == api))
    }
}

mod live;

pub use live::Permissions;

#[cfg(test)]
mod tests;
