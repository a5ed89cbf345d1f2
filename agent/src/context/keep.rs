//! Where what leaves the conversation goes: facts to `MEMORY.md` and the memory database,
//! the messages themselves to an archive file in the workspace (indexed and searchable like
//! every other workspace file), so compaction never loses anything.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::Value;

use super::extract::{Fact, transcript};

/// The long-term store of facts (the agent's memory database).
#[async_trait::async_trait]
pub trait FactStore: Send + Sync {
    /// Keeps `facts`, noting `source` (why they were kept); the count kept.
    async fn remember(&self, facts: &[Fact], source: &str) -> Result<usize, String>;
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Appends `facts` to `MEMORY.md` under a dated heading naming `source`.
pub(crate) fn to_memory_file(workspace: &Path, facts: &[Fact], source: &str) -> Result<(), String> {
    if facts.is_empty() {
        return Ok(());
    }
    let mut text = format!(
        "\n## Kept {} ({source})\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for f in facts {
        let category = f.category.as_deref().unwrap_or("general");
        text.push_str(&format!(
            "- **{}** ({category}): {}\n",
            f.key.trim(),
            f.value.trim().replace('\n', " ")
        ));
    }
    let path = workspace.join("MEMORY.md");
    append(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes `messages` in full to `memory/archive/<time>.md`; the file's path relative to
/// the workspace.
pub(crate) fn archive(workspace: &Path, messages: &[Value], why: &str) -> Result<PathBuf, String> {
    let now = Utc::now();
    let relative =
        PathBuf::from("memory/archive").join(format!("{}.md", now.format("%Y-%m-%dT%H%M%S%.3fZ")));
    let text = format!(
        "# Conversation archived {} ({why})\n\n{}\n",
        now.format("%Y-%m-%d %H:%M:%S UTC"),
        transcript(messages, usize::MAX, usize::MAX)
    );
    let path = workspace.join(&relative);
    append(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(relative)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn facts_go_under_a_heading_and_messages_in_full() {
        let dir = tempfile::tempdir().unwrap();
        let facts = [Fact {
            key: "cat".into(),
            value: "Whiskerino\nthe cat".into(),
            category: None,
        }];
        to_memory_file(dir.path(), &facts, "compaction").unwrap();
        to_memory_file(dir.path(), &[], "flush").unwrap();
        let memory = std::fs::read_to_string(dir.path().join("MEMORY.md")).unwrap();
        assert!(memory.contains("(compaction)"));
        assert!(memory.contains("- **cat** (general): Whiskerino the cat"));
        assert!(!memory.contains("(flush)"), "nothing written for no facts");

        let long = "y".repeat(10_000);
        let relative = archive(
            dir.path(),
            &[json!({"role": "user", "content": long})],
            "test",
        )
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join(relative)).unwrap();
        assert!(text.contains(&"y".repeat(10_000)), "archived uncut");
    }
}
