//! The live permission matrix, swapped whole on reload, with the mesh's sub-agents laid
//! over whatever the file says.

use std::sync::{Arc, Mutex, RwLock};

use super::PermissionMatrix;

/// A live sub-agent, as the matrix must know it.
#[derive(Debug, Clone)]
struct SubAgent {
    parent: String,
    child: String,
    /// Whether the mesh lets it spawn in turn (its depth allows it); it still needs its
    /// parent's `can_spawn`.
    may_spawn: bool,
}

/// Holds the current [`PermissionMatrix`]. Readers take an `Arc` snapshot, so a reload never
/// changes the rules under a request that is half way through its checks.
///
/// Sub-agents are not in permissions.json: each gets its parent's permissions as they
/// resolve now (never more; `can_spawn` only where its depth allows), plus the right to
/// message its parent, and the parent may message it and read its history. They are laid
/// over the file's matrix again on every reload, so a parent whose permissions shrink
/// takes its sub-agents' with it.
#[derive(Debug)]
pub struct Permissions {
    base: RwLock<Arc<PermissionMatrix>>,
    current: RwLock<Arc<PermissionMatrix>>,
    subs: Mutex<Vec<SubAgent>>,
}

impl Permissions {
    pub fn new(matrix: PermissionMatrix) -> Self {
        let matrix = Arc::new(matrix);
        Self {
            base: RwLock::new(Arc::clone(&matrix)),
            current: RwLock::new(matrix),
            subs: Mutex::new(Vec::new()),
        }
    }

    pub fn current(&self) -> Arc<PermissionMatrix> {
        Arc::clone(&self.current.read().expect("permissions lock"))
    }

    pub fn replace(&self, matrix: PermissionMatrix) {
        *self.base.write().expect("permissions lock") = Arc::new(matrix);
        self.rebuild();
    }

    /// Lays the sub-agent `child` of `parent` over the matrix.
    pub fn add_sub_agent(&self, parent: &str, child: &str, may_spawn: bool) {
        self.subs.lock().expect("permissions lock").push(SubAgent {
            parent: parent.to_owned(),
            child: child.to_owned(),
            may_spawn,
        });
        self.rebuild();
    }

    /// Forgets the sub-agent `child` (it was stopped).
    pub fn remove_sub_agent(&self, child: &str) {
        self.subs
            .lock()
            .expect("permissions lock")
            .retain(|s| s.child != child);
        self.rebuild();
    }

    /// The parent of `agent`, if it is a live sub-agent.
    pub fn parent_of(&self, agent: &str) -> Option<String> {
        self.subs
            .lock()
            .expect("permissions lock")
            .iter()
            .find(|s| s.child == agent)
            .map(|s| s.parent.clone())
    }

    fn rebuild(&self) {
        let subs = self.subs.lock().expect("permissions lock").clone();
        let mut matrix = (**self.base.read().expect("permissions lock")).clone();
        // In spawn order, so a sub-agent's own sub-agents derive from what it got.
        for sub in subs {
            let mut perms = matrix.resolve(&sub.parent);
            perms.agent_id = String::new();
            perms.can_spawn &= sub.may_spawn;
            if !perms.can_message.iter().any(|a| a == &sub.parent) {
                perms.can_message.push(sub.parent.clone());
            }
            matrix.add_sub_agent(&sub.parent, &sub.child, perms);
        }
        *self.current.write().expect("permissions lock") = Arc::new(matrix);
    }
}

#[cfg(test)]
mod tests {
    use openlegion_protocol::AgentPermissions;

    use super::*;
    use crate::config::PermissionsFile;

    fn file(entries: &[(&str, AgentPermissions)]) -> PermissionMatrix {
        PermissionMatrix::from_file(&PermissionsFile {
            permissions: entries
                .iter()
                .map(|(n, p)| ((*n).to_owned(), p.clone()))
                .collect(),
            fleet_skills: Vec::new(),
        })
    }

    #[test]
    fn sub_agents_get_their_parents_permissions_and_no_more() {
        let boss = AgentPermissions {
            can_spawn: true,
            can_use_browser: true,
            can_message: vec!["peer".into()],
            blackboard_read: vec!["team/*".into()],
            ..AgentPermissions::default()
        };
        let perms = Permissions::new(file(&[("boss", boss.clone())]));
        perms.add_sub_agent("boss", "boss-sub-1", false);
        let m = perms.current();
        let child = m.resolve("boss-sub-1");
        assert!(child.can_use_browser && !child.can_spawn);
        assert_eq!(child.can_message, ["peer", "boss"]);
        assert!(m.can_read("boss-sub-1", "team/x") && !m.can_read("boss-sub-1", "other/x"));
        assert!(m.can_message("boss", "boss-sub-1") && m.can_message("boss-sub-1", "boss"));
        assert!(m.can_read_history("boss", "boss-sub-1"));
        assert!(!m.can_read_history("boss-sub-1", "boss"));

        // A reload that takes the browser from the parent takes it from the child too.
        perms.replace(file(&[(
            "boss",
            AgentPermissions {
                can_use_browser: false,
                ..boss
            },
        )]));
        assert!(!perms.current().resolve("boss-sub-1").can_use_browser);
        assert!(perms.current().can_message("boss", "boss-sub-1"));

        perms.remove_sub_agent("boss-sub-1");
        let m = perms.current();
        assert!(!m.can_message("boss", "boss-sub-1"));
        assert!(m.resolve("boss-sub-1").blackboard_read.is_empty());
    }

    #[test]
    fn a_sub_agent_spawns_only_where_its_depth_allows() {
        let boss = AgentPermissions {
            can_spawn: true,
            ..AgentPermissions::default()
        };
        let perms = Permissions::new(file(&[("boss", boss)]));
        perms.add_sub_agent("boss", "a", true);
        perms.add_sub_agent("a", "b", false);
        assert!(perms.current().resolve("a").can_spawn);
        assert!(!perms.current().resolve("b").can_spawn);
        assert!(perms.current().can_message("b", "a"));
    }
}
