//! `config/watchers.yaml`, in the original's shape:
//!
//! ```yaml
//! watchers:
//!   - path: /data/inbox        # or "inbox": a directory of the agent's own data
//!     pattern: "*.csv"         # glob on file names (default "*")
//!     agent: researcher
//!     message: "New prospect list uploaded: {filename}. Begin research."
//!     poll_seconds: 5          # optional (1–3600, default 5)
//! ```
//!
//! A watcher may only name a directory of its agent's data directory (`/data` in the
//! agent's sandbox): that is where the agent can read the file it is told about, and the
//! mesh sees it only through the agent. Any other path is refused at load. Every value is
//! checked while it is parsed, so each error names file, line and field; only the
//! cross-entry check (one watcher per agent, directory and pattern) names no line.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use openlegion_protocol::{AgentId, data_relative};
use serde::Deserialize;

use crate::config::ConfigError;

pub const WATCHERS_FILE: &str = "watchers.yaml";

/// The original's default message.
pub const DEFAULT_MESSAGE: &str =
    "New file detected: {filepath}\nFilename: {filename}\nProcess this file.";

/// The original polls every 5 seconds.
pub const DEFAULT_POLL_SECONDS: u32 = 5;

/// More watchers than this is a mistake (each polls its agent).
pub const MAX_WATCHERS: usize = 100;

/// The placeholders a message may use.
const PLACEHOLDERS: [&str; 3] = ["filename", "path", "filepath"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchersFile {
    #[serde(default)]
    watchers: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    path: DataDir,
    #[serde(default)]
    pattern: Option<Glob>,
    agent: AgentId,
    #[serde(default)]
    message: Option<Template>,
    #[serde(default)]
    poll_seconds: Option<PollSeconds>,
}

/// A directory of the agent's data, relative to it (`""` is the data directory).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
struct DataDir(String);

impl TryFrom<String> for DataDir {
    type Error = String;
    fn try_from(path: String) -> Result<Self, String> {
        data_relative(&path).map(Self)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct Glob(glob::Pattern);

impl TryFrom<String> for Glob {
    type Error = String;
    fn try_from(p: String) -> Result<Self, String> {
        if p.contains('/') {
            return Err(format!(
                "{p:?}: a pattern matches file names in the directory, so it cannot hold '/'"
            ));
        }
        glob::Pattern::new(&p)
            .map(Self)
            .map_err(|e| format!("{p:?} is not a glob pattern: {e}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
struct Template(String);

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(t: String) -> Result<Self, String> {
        for name in placeholders(&t) {
            if !PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "unknown placeholder {{{name}}}; a message may use {{filename}}, {{path}} \
                     and {{filepath}}"
                ));
            }
        }
        Ok(Self(t))
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "u32")]
struct PollSeconds(u32);

impl TryFrom<u32> for PollSeconds {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        if (1..=3600).contains(&n) {
            Ok(Self(n))
        } else {
            Err(format!("{n} is out of range (1 to 3600 seconds)"))
        }
    }
}

/// The names of the `{name}` placeholders of `template` (lower-case words in braces; any
/// other brace is text).
fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|rest| {
        let name = &rest[..rest.find('}')?];
        (!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .then_some(name)
    })
}

/// One watcher, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watcher {
    pub agent: AgentId,
    /// The directory, relative to the agent's data directory (`""`: the data directory).
    pub dir: String,
    pub pattern: glob::Pattern,
    pub message: String,
    pub poll: Duration,
}

impl Watcher {
    /// What names this watcher in the database and in status: `agent:dir:pattern`.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.agent, self.dir, self.pattern)
    }

    /// The path of file `name` as the agent's tools take it (relative to its data).
    pub fn path_of(&self, name: &str) -> String {
        if self.dir.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    /// The agent's message for file `name`: the template with `{filename}`, `{path}`
    /// (relative to the data directory) and `{filepath}` (`/data/…`, as in the original)
    /// filled in. Control characters of the name (a newline could fake a line of the
    /// message) are replaced.
    pub fn message_for(&self, name: &str) -> String {
        let name: String = name
            .chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect();
        let path = self.path_of(&name);
        self.message
            .replace("{filename}", &name)
            .replace("{filepath}", &format!("/data/{path}"))
            .replace("{path}", &path)
    }
}

/// Loads `config_dir/watchers.yaml`; a missing or empty file means no watchers.
pub fn load(config_dir: &Path) -> Result<Vec<Watcher>, ConfigError> {
    let path = config_dir.join(WATCHERS_FILE);
    let Some(text) = crate::config::read_nonblank(&path)? else {
        return Ok(Vec::new());
    };
    parse(&path, &text)
}

/// Parses the text of watchers.yaml (read from `path`).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Watcher>, ConfigError> {
    let file: WatchersFile = crate::config::parse_yaml(path, text)?;
    let invalid = |field: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        field,
        message,
    };
    if file.watchers.len() > MAX_WATCHERS {
        return Err(invalid(
            "watchers".into(),
            format!(
                "{} watchers; at most {MAX_WATCHERS} are allowed",
                file.watchers.len()
            ),
        ));
    }
    let mut keys = HashSet::new();
    let mut out = Vec::with_capacity(file.watchers.len());
    for (i, e) in file.watchers.into_iter().enumerate() {
        let w = Watcher {
            agent: e.agent,
            dir: e.path.0,
            pattern: e
                .pattern
                .map_or_else(|| glob::Pattern::new("*").expect("* is a pattern"), |g| g.0),
            message: e
                .message
                .map_or_else(|| DEFAULT_MESSAGE.to_owned(), |t| t.0),
            poll: Duration::from_secs(u64::from(
                e.poll_seconds.map_or(DEFAULT_POLL_SECONDS, |p| p.0),
            )),
        };
        if !keys.insert(w.key()) {
            return Err(invalid(
                format!("watchers[{i}]"),
                format!(
                    "a second watcher of agent {} on {:?} with pattern {:?}",
                    w.agent,
                    w.dir,
                    w.pattern.as_str()
                ),
            ));
        }
        out.push(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<Watcher>, ConfigError> {
        parse(Path::new("config/watchers.yaml"), text)
    }

    fn error(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }

    #[test]
    fn the_originals_example_loads_and_fills_its_template() {
        let w = parse_str(
            "watchers:\n  - path: \"/data/inbox\"\n    pattern: \"*.csv\"\n    agent: \"researcher\"\n    message: \"New prospect list uploaded: {filename}. Begin research.\"\n",
        )
        .unwrap();
        assert_eq!(w.len(), 1);
        let w = &w[0];
        assert_eq!((w.dir.as_str(), w.pattern.as_str()), ("inbox", "*.csv"));
        assert_eq!(w.key(), "researcher:inbox:*.csv");
        assert_eq!(w.poll, Duration::from_secs(5));
        assert!(w.pattern.matches("leads.csv") && !w.pattern.matches("leads.txt"));
        assert_eq!(
            w.message_for("leads.csv"),
            "New prospect list uploaded: leads.csv. Begin research."
        );
    }

    #[test]
    fn defaults_and_every_placeholder() {
        let w = parse_str("watchers:\n  - path: drop\n    agent: a\n").unwrap();
        assert_eq!(
            w[0].message_for("x\ny.txt"),
            "New file detected: /data/drop/x\u{FFFD}y.txt\nFilename: x\u{FFFD}y.txt\nProcess this file."
        );
        let w = parse_str(
            "watchers:\n  - path: .\n    agent: a\n    message: '{path} {filepath} {\"json\": 1}'\n",
        )
        .unwrap();
        assert_eq!(w[0].message_for("f"), "f /data/f {\"json\": 1}");
        assert!(parse_str("").is_ok() && parse_str("watchers: []\n").unwrap().is_empty());
    }

    #[test]
    fn hostile_entries_name_line_and_field() {
        let cases = [
            (
                "watchers:\n  - path: /etc\n    agent: a\n",
                "watchers[0].path",
                "outside the agent's data directory",
            ),
            (
                "watchers:\n  - path: inbox\n    agent: a\n  - path: ../../etc\n    agent: a\n",
                "watchers[1].path",
                "climbs out",
            ),
            (
                "watchers:\n  - path: inbox\n    agent: a\n    colour: red\n",
                "watchers[0].colour",
                "unknown field",
            ),
            (
                "watchers:\n  - path: inbox\n    agent: a\n    poll_seconds: often\n",
                "watchers[0].poll_seconds",
                "",
            ),
            (
                "watchers:\n  - path: inbox\n    agent: a\n    poll_seconds: 0\n",
                "watchers[0].poll_seconds",
                "out of range",
            ),
            (
                "watchers:\n  - path: inbox\n    agent: a\n    pattern: \"[\"\n",
                "watchers[0].pattern",
                "not a glob",
            ),
            (
                "watchers:\n  - path: inbox\n    agent: a\n    pattern: \"x/*.csv\"\n",
                "watchers[0].pattern",
                "cannot hold '/'",
            ),
            (
                "watchers:\n  - path: inbox\n    agent: \"Not An Id!\"\n",
                "watchers[0].agent",
                "",
            ),
            (
                "watchers:\n  - path: inbox\n    agent: a\n    message: \"{secret}\"\n",
                "watchers[0].message",
                "unknown placeholder {secret}",
            ),
            ("watchers:\n  path: inbox\n", "watchers", ""),
        ];
        for (text, field, says) in cases {
            let e = error(text);
            assert!(
                e.starts_with("config/watchers.yaml:") && e.contains(&format!(": {field}: ")),
                "{text}: {e}"
            );
            assert!(e.contains(says), "{text}: {e}");
        }
        let e = error("watchers:\n  - path: inbox\n    agent: a\n    poll_seconds: often\n");
        assert!(e.starts_with("config/watchers.yaml:4:"), "line 4: {e}");
        let e = error(
            "watchers:\n  - path: inbox\n    agent: a\n  - path: /data/inbox/\n    agent: a\n",
        );
        assert!(e.contains("watchers[1]: a second watcher"), "{e}");
    }
}
