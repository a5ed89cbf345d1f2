//! What the agent learns from its mistakes: tool calls that failed
//! (`learnings/errors.md`) and corrections from its user (`learnings/corrections.md`),
//! kept in the workspace and shown in later system prompts, so that a mistake made once is
//! not made again in the next session, or after a restart.
//!
//! The files are plain markdown the user may read and edit. Each is bounded: past
//! [`MAX_FILE_BYTES`] the oldest entries go. A failure already on record is not written
//! twice, so a tool that keeps failing the same way does not crowd out the rest.

use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};

/// Largest size of each file; the oldest entries are dropped past it.
const MAX_FILE_BYTES: usize = 64 * 1024;
/// Characters kept of a tool's arguments and of its error in an entry.
const MAX_ARGS_CHARS: usize = 300;
const MAX_ERROR_CHARS: usize = 600;
/// Characters kept of one correction.
const MAX_CORRECTION_CHARS: usize = 2_000;
/// Entries of each kind shown in the prompt (the newest), and the section's size bound.
const PROMPT_ENTRIES: usize = 10;
const MAX_PROMPT_CHARS: usize = 4_000;

const ERRORS: &str = "errors.md";
const CORRECTIONS: &str = "corrections.md";

/// The learnings of one agent, under `<workspace>/learnings/`.
#[derive(Debug, Clone)]
pub struct Learnings {
    dir: PathBuf,
}

fn clipped(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept} […]")
}

/// One line: newlines would break the entry's layout.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The entries of a learnings file, oldest first (each starts with `## `).
fn entries(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, _) in text.match_indices("## ") {
        if i == 0 || text[..i].ends_with('\n') {
            if let Some(s) = start {
                out.push(text[s..i].trim_end());
            }
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(text[s..].trim_end());
    }
    out
}

impl Learnings {
    pub fn new(workspace: &Path) -> Self {
        Self {
            dir: workspace.join("learnings"),
        }
    }

    /// Records that `tool` failed with `error` when called with `args`.
    pub fn tool_failed(&self, tool: &str, args: &str, error: &str) {
        let error = one_line(&clipped(error, MAX_ERROR_CHARS));
        let args = one_line(&clipped(args, MAX_ARGS_CHARS));
        let key = format!("- tool: `{tool}`\n- error: {error}");
        let existing = self.read(ERRORS);
        if entries(&existing).iter().any(|e| e.contains(&key)) {
            return;
        }
        self.append(ERRORS, existing, &format!("{key}\n- arguments: `{args}`"));
    }

    /// Records a correction from the agent's user.
    pub fn corrected(&self, correction: &str) {
        self.append(
            CORRECTIONS,
            self.read(CORRECTIONS),
            &clipped(correction, MAX_CORRECTION_CHARS),
        );
    }

    /// Both files as they are, for `GET /workspace-learnings`.
    pub fn files(&self) -> (String, String) {
        (self.read(ERRORS), self.read(CORRECTIONS))
    }

    /// The system prompt's section: the newest corrections and failures, if any.
    pub fn prompt_section(&self) -> Option<String> {
        let mut section = String::new();
        let corrections = self.read(CORRECTIONS);
        let corrections = entries(&corrections);
        if !corrections.is_empty() {
            section.push_str("Corrections from your user (follow them):\n");
            for entry in newest(&corrections) {
                section.push_str(&format!("- {}\n", one_line(body(entry))));
            }
        }
        let errors = self.read(ERRORS);
        let errors = entries(&errors);
        if !errors.is_empty() {
            section.push_str("Tool calls that failed before (avoid repeating them):\n");
            for entry in newest(&errors) {
                let fields: Vec<&str> = body(entry)
                    .lines()
                    .map(|l| l.trim_start_matches("- "))
                    .collect();
                section.push_str(&format!("- {}\n", one_line(&fields.join(" "))));
            }
        }
        (!section.is_empty()).then(|| clipped(&section, MAX_PROMPT_CHARS))
    }

    fn read(&self, name: &str) -> String {
        match std::fs::read(self.dir.join(name)) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => String::new(),
        }
    }

    /// Writes `text` (the file `name` as just read) with an entry stamped with the time
    /// appended, dropping the oldest past the size bound. A failure to write is logged:
    /// learning is best effort, the turn goes on.
    fn append(&self, name: &str, mut text: String, body: &str) {
        let stamp = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("## {stamp}\n{}\n\n", body.trim()));
        if text.len() > MAX_FILE_BYTES {
            let all = entries(&text);
            let mut kept: Vec<&str> = Vec::new();
            let mut size = 0;
            for entry in all.iter().rev() {
                size += entry.len() + 2;
                if size > MAX_FILE_BYTES && !kept.is_empty() {
                    break;
                }
                kept.push(entry);
            }
            kept.reverse();
            text = kept.iter().map(|e| format!("{e}\n\n")).collect();
        }
        let path = self.dir.join(name);
        let written = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            std::io::Write::write_all(&mut tmp, text.as_bytes())?;
            tmp.persist(&path).map(drop).map_err(|e| e.error)
        });
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot record a learning");
        }
    }
}

/// The last [`PROMPT_ENTRIES`] of `entries`.
fn newest<'a>(entries: &'a [&'a str]) -> &'a [&'a str] {
    &entries[entries.len().saturating_sub(PROMPT_ENTRIES)..]
}

/// An entry without its `## <time>` heading.
fn body(entry: &str) -> &str {
    entry.split_once('\n').map_or("", |(_, rest)| rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_recorded_once_and_shown_newest_last() {
        let dir = tempfile::tempdir().unwrap();
        let l = Learnings::new(dir.path());
        assert_eq!(l.prompt_section(), None);
        l.tool_failed("read_file", r#"{"path":"a.txt"}"#, "File not found: a.txt");
        l.tool_failed("read_file", r#"{"path":"a.txt"}"#, "File not found: a.txt");
        l.tool_failed("exec", "{}", "multi\nline\nerror");
        let (errors, _) = l.files();
        assert_eq!(entries(&errors).len(), 2, "{errors}");
        let section = l.prompt_section().unwrap();
        let (first, second) = (
            section.find("File not found: a.txt").unwrap(),
            section.find("multi line error").unwrap(),
        );
        assert!(first < second, "{section}");
    }

    #[test]
    fn corrections_come_first_and_files_stay_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let l = Learnings::new(dir.path());
        l.tool_failed("t", "{}", "boom");
        l.corrected("Dates are DD/MM/YYYY here.");
        let section = l.prompt_section().unwrap();
        assert!(
            section.find("DD/MM/YYYY").unwrap() < section.find("boom").unwrap(),
            "{section}"
        );
        for i in 0..200 {
            l.corrected(&format!("correction {i} {}", "x".repeat(1_000)));
        }
        let (_, corrections) = l.files();
        assert!(corrections.len() <= MAX_FILE_BYTES, "{}", corrections.len());
        assert!(corrections.contains("correction 199"));
        assert!(!corrections.contains("DD/MM/YYYY"), "the oldest went first");
        assert!(l.prompt_section().unwrap().chars().count() <= MAX_PROMPT_CHARS + 4);
    }

    #[test]
    fn a_file_with_invalid_utf8_or_no_headings_does_not_break_anything() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("learnings")).unwrap();
        std::fs::write(
            dir.path().join("learnings/errors.md"),
            b"junk \xff\xfe here",
        )
        .unwrap();
        let l = Learnings::new(dir.path());
        assert_eq!(l.prompt_section(), None);
        l.tool_failed("t", "{}", "boom");
        assert!(l.prompt_section().unwrap().contains("boom"));
    }
}
