//! The system prompt: who the agent is, its instructions, the workspace files that
//! describe its project, its peers, its personality, its user and its long-term notes,
//! the facts it uses most, and what it learnt from its mistakes.

use std::path::Path;

use crate::learnings::Learnings;

/// Workspace files loaded into every prompt, in this order.
const PROMPT_FILES: [&str; 5] = ["PROJECT.md", "AGENTS.md", "SOUL.md", "USER.md", "MEMORY.md"];

/// Characters kept of each file.
const MAX_FILE_CHARS: usize = 12_000;

/// Builds the system prompt from the agent's identity, `instructions`, the prompt files
/// in `workspace` that exist, its most salient `facts` (already bounded by the memory), and
/// what it learnt in earlier sessions.
pub(crate) fn system_prompt(
    agent: &str,
    role: &str,
    instructions: &str,
    workspace: &Path,
    facts: Option<String>,
) -> String {
    let mut prompt = format!(
        "You are {agent}, an autonomous agent with the role \"{role}\" on the OpenLegion platform. \
         You act through your tools; the files you write live under /data. Other agents share a \
         blackboard and topics with you through the mesh. When you are done, answer plainly."
    );
    if !instructions.trim().is_empty() {
        prompt.push_str("\n\n## Instructions\n");
        prompt.push_str(instructions.trim());
    }
    for name in PROMPT_FILES {
        let Ok(text) = std::fs::read_to_string(workspace.join(name)) else {
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        let clipped: String = text.chars().take(MAX_FILE_CHARS).collect();
        prompt.push_str(&format!("\n\n## {name}\n{}", clipped.trim()));
    }
    if let Some(facts) = facts {
        prompt.push_str(&format!("\n\n## Memory\n{}", facts.trim()));
    }
    if let Some(learnt) = Learnings::new(workspace).prompt_section() {
        prompt.push_str(&format!("\n\n## Learnings\n{}", learnt.trim()));
    }
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_instructions_and_existing_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("SOUL.md"), "Be kind.").unwrap();
        std::fs::write(dir.path().join("PROJECT.md"), "We build agents.").unwrap();
        let p = system_prompt("scout", "research", "Find leads.", dir.path(), None);
        assert!(p.starts_with("You are scout"));
        let (project, soul) = (
            p.find("## PROJECT.md").unwrap(),
            p.find("## SOUL.md").unwrap(),
        );
        assert!(p.find("Find leads.").unwrap() < project && project < soul);
        assert!(!p.contains("AGENTS.md"));
    }
}
