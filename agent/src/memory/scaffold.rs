//! The workspace an agent finds on its first start: the markdown files its prompt is made
//! of and its memory lives in, each a short template the agent and its user fill in.
//!
//! A file that exists is never touched (not even an empty one: the user may have emptied
//! it on purpose). Failures are logged, never fatal: an agent without templates still works.

use std::io::Write;
use std::path::Path;

/// (path under the workspace, template).
const TEMPLATES: [(&str, &str); 7] = [
    (
        "AGENTS.md",
        "# How I work\n\n\
         - Remember what matters: save facts about the user, decisions and results with \
         `memory_save`; look them up with `memory_recall` / `memory_search` before saying \
         you do not know.\n\
         - Keep notes in markdown under the workspace; they are searchable.\n\
         - When a tool fails, read the error and try a different approach.\n",
    ),
    (
        "SOUL.md",
        "# Personality\n\n\
         Helpful, direct and honest. Say what you did and what you did not do.\n",
    ),
    (
        "USER.md",
        "# About the user\n\n\
         (Preferences, context and how the user likes to work; edit freely.)\n",
    ),
    (
        "MEMORY.md",
        "# Long-term memory\n\n\
         (Durable notes the agent keeps about its work: decisions, conventions, open threads.)\n",
    ),
    (
        "HEARTBEAT.md",
        "# Heartbeat\n\n\
         (What to check on each heartbeat. Leave empty to skip heartbeat work.)\n",
    ),
    (
        "learnings/errors.md",
        "# Tool errors\n\nFailures of tool calls, recorded by the agent so they are not repeated.\n\n",
    ),
    (
        "learnings/corrections.md",
        "# Corrections\n\nCorrections from the user, recorded by the agent.\n\n",
    ),
];

/// Creates the missing workspace files and directories (including `memory/` for the daily
/// logs); returns the files created.
pub fn scaffold(workspace: &Path) -> Vec<&'static str> {
    scaffold_with(workspace, &[])
}

/// [`scaffold`], with the text of some files given by agents.yaml instead of the template
/// (`("SOUL.md", soul)`): used only when the file is created.
pub fn scaffold_with(workspace: &Path, given: &[(&str, &str)]) -> Vec<&'static str> {
    let mut created = Vec::new();
    if let Err(e) = std::fs::create_dir_all(workspace.join("memory")) {
        tracing::warn!(error = %e, "cannot create the daily log directory");
    }
    for (name, template) in TEMPLATES {
        let text = given
            .iter()
            .find(|(file, _)| *file == name)
            .map_or(template, |(_, text)| *text);
        let path = workspace.join(name);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        // create_new: an existing file, even one created a moment ago by someone else,
        // is never overwritten.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => match file.write_all(text.as_bytes()) {
                Ok(()) => created.push(name),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write a workspace template")
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot create a workspace template")
            }
        }
    }
    created
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_what_is_missing_and_keeps_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("USER.md"), "My name is Ana.").unwrap();
        std::fs::write(dir.path().join("SOUL.md"), "").unwrap();
        let created = scaffold(dir.path());
        assert!(created.contains(&"AGENTS.md") && created.contains(&"learnings/errors.md"));
        assert!(!created.contains(&"USER.md") && !created.contains(&"SOUL.md"));
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("USER.md"), "My name is Ana.");
        assert_eq!(read("SOUL.md"), "", "an emptied file stays empty");
        assert!(read("MEMORY.md").starts_with("# Long-term memory"));
        assert!(dir.path().join("memory").is_dir());
        assert!(
            scaffold(dir.path()).is_empty(),
            "a second start creates nothing"
        );
    }

    #[test]
    fn a_given_soul_is_the_first_soul_md_only() {
        let dir = tempfile::tempdir().unwrap();
        let created = scaffold_with(dir.path(), &[("SOUL.md", "Terse and dry.")]);
        assert!(created.contains(&"SOUL.md"));
        let soul = dir.path().join("SOUL.md");
        assert_eq!(std::fs::read_to_string(&soul).unwrap(), "Terse and dry.");
        std::fs::write(&soul, "Edited by the user.").unwrap();
        scaffold_with(dir.path(), &[("SOUL.md", "Terse and dry.")]);
        assert_eq!(
            std::fs::read_to_string(&soul).unwrap(),
            "Edited by the user."
        );
    }
}
