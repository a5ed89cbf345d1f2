//! The page as the model reads it: Chromium's accessibility tree, flattened to indented
//! lines (`- link "About us" [e3]`), every element line carrying a ref that
//! `click`/`type` accept.
//!
//! Refs are stable: an element keeps its ref across snapshots of the same page (they are
//! keyed by the DOM node's backend id), and numbering starts again only when the tab
//! navigates. Wrapper nodes with no role of their own (`generic`, `none`) and ignored
//! nodes are left out but their children kept, so the text stays short.

use std::collections::HashMap;
use std::fmt::Write;

use chromiumoxide::cdp::browser_protocol::accessibility::{AxNode, AxValue};
use chromiumoxide::cdp::browser_protocol::dom::BackendNodeId;

/// The refs handed out for the page now loaded in a tab.
#[derive(Debug, Default)]
pub(crate) struct RefMap {
    by_node: HashMap<BackendNodeId, String>,
    by_ref: HashMap<String, BackendNodeId>,
}

impl RefMap {
    fn assign(&mut self, node: BackendNodeId) -> &str {
        let next = self.by_node.len() + 1;
        let r = self.by_node.entry(node).or_insert_with(|| {
            let r = format!("e{next}");
            self.by_ref.insert(r.clone(), node);
            r
        });
        r.as_str()
    }

    /// The DOM node behind `r`, if this page handed it out.
    pub(crate) fn node(&self, r: &str) -> Option<BackendNodeId> {
        self.by_ref.get(r).copied()
    }
}

/// Whether `target` is written as a ref (`e` and digits) rather than a CSS selector.
pub(crate) fn is_ref(target: &str) -> bool {
    target
        .strip_prefix('e')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Roles that only group other nodes; printing them would double the tree's height.
const WRAPPERS: [&str; 4] = ["generic", "none", "presentation", "RootWebArea"];

/// Renders `nodes` (a full tree, root first) and assigns refs; returns the text, cut at
/// `max_chars`, and whether it was cut.
pub(crate) fn render(nodes: &[AxNode], refs: &mut RefMap, max_chars: usize) -> (String, bool) {
    let by_id: HashMap<&str, &AxNode> = nodes.iter().map(|n| (n.node_id.as_ref(), n)).collect();
    let mut out = String::new();
    let Some(root) = nodes.first() else {
        return (out, false);
    };
    // An explicit stack, not recursion: a hostile page can nest elements thousands deep.
    let mut stack: Vec<(&AxNode, usize, Option<String>)> = vec![(root, 0, None)];
    let mut truncated = false;
    while let Some((node, depth, parent_name)) = stack.pop() {
        if out.len() >= max_chars {
            truncated = true;
            break;
        }
        let role = value_str(node.role.as_ref()).unwrap_or_default();
        if role == "InlineTextBox" {
            continue;
        }
        let name = value_str(node.name.as_ref()).unwrap_or_default();
        let name = name.trim();
        let wrapper = WRAPPERS.contains(&role.as_str()) && name.is_empty();
        let repeated_text =
            role == "StaticText" && (name.is_empty() || parent_name.as_deref() == Some(name));
        let shown = !(node.ignored || wrapper || repeated_text);
        let child_depth = if shown { depth + 1 } else { depth };
        if shown {
            line(&mut out, node, &role, name, depth, refs);
        }
        let inherited = if shown && !name.is_empty() {
            Some(name.to_owned())
        } else {
            parent_name
        };
        if let Some(children) = &node.child_ids {
            for child in children.iter().rev() {
                if let Some(child) = by_id.get(child.as_ref()) {
                    stack.push((child, child_depth, inherited.clone()));
                }
            }
        }
    }
    if out.len() > max_chars {
        out.truncate(out.floor_char_boundary(max_chars));
        truncated = true;
    }
    (out, truncated)
}

fn line(out: &mut String, node: &AxNode, role: &str, name: &str, depth: usize, refs: &mut RefMap) {
    let indent = "  ".repeat(depth.min(40));
    if role == "StaticText" {
        let _ = writeln!(out, "{indent}- text: {name}");
        return;
    }
    let _ = write!(out, "{indent}- {role}");
    if !name.is_empty() {
        let _ = write!(out, " {name:?}");
    }
    if let Some(value) = value_str(node.value.as_ref()).filter(|v| !v.is_empty()) {
        let _ = write!(out, " value={value:?}");
    }
    for property in node.properties.iter().flatten() {
        let flag = property.value.value.as_ref().and_then(|v| v.as_bool());
        let name = property.name.as_ref();
        if flag == Some(true) && matches!(name, "checked" | "disabled" | "required" | "selected") {
            let _ = write!(out, " {name}");
        }
    }
    if let Some(id) = node.backend_dom_node_id {
        let _ = write!(out, " [{}]", refs.assign(id));
    }
    out.push('\n');
}

fn value_str(value: Option<&AxValue>) -> Option<String> {
    match value?.value.as_ref()? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_e_and_digits() {
        assert!(is_ref("e1"));
        assert!(is_ref("e204"));
        assert!(!is_ref("e"));
        assert!(!is_ref("#e1"));
        assert!(!is_ref("em"));
    }

    #[test]
    fn a_node_keeps_its_ref() {
        let mut refs = RefMap::default();
        let a = refs.assign(BackendNodeId::new(7)).to_owned();
        let b = refs.assign(BackendNodeId::new(9)).to_owned();
        assert_eq!((a.as_str(), b.as_str()), ("e1", "e2"));
        assert_eq!(refs.assign(BackendNodeId::new(7)), "e1");
        assert_eq!(refs.node("e2"), Some(BackendNodeId::new(9)));
        assert_eq!(refs.node("e3"), None);
    }
}
