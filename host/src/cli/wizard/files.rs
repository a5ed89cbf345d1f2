//! The files `openlegion setup` edits besides agents.yaml and permissions.json: `.env`
//! (credentials, mode 0600), mesh.yaml (only the keys the user chose; the rest is kept)
//! and PROJECT.md. Every write is atomic, and mesh.yaml is checked by the mesh's own strict
//! reader before it replaces the old one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

/// `.env` beside the config directory, as lines, so comments and other variables stay.
#[derive(Debug)]
pub(super) struct DotEnv {
    path: PathBuf,
    lines: Vec<String>,
    changed: bool,
}

impl DotEnv {
    pub(super) fn read(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Self {
            path: path.to_owned(),
            lines: text.lines().map(str::to_owned).collect(),
            changed: false,
        })
    }

    /// The value of `key` in the file, read as the mesh reads it (dotenvy).
    pub(super) fn get(&self, key: &str) -> Option<String> {
        let text = self.lines.join("\n");
        dotenvy::from_read_iter(text.as_bytes())
            .filter_map(Result::ok)
            .filter(|(k, _)| k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing its line or adding one.
    pub(super) fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let line = format!("{key}={}", quote(value)?);
        let is_key = |l: &str| {
            let l = l.trim_start();
            let l = l.strip_prefix("export ").unwrap_or(l).trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        };
        match self.lines.iter().position(|l| is_key(l)) {
            Some(i) => self.lines[i] = line,
            None => self.lines.push(line),
        }
        self.lines.retain({
            let mut seen = false;
            move |l| {
                if !is_key(l) {
                    return true;
                }
                let keep = !seen;
                seen = true;
                keep
            }
        });
        self.changed = true;
        Ok(())
    }

    pub(super) fn changed(&self) -> bool {
        self.changed
    }

    /// Writes the file, mode 0600 (it holds keys).
    pub(super) fn save(&self) -> Result<()> {
        let text = self.lines.join("\n") + "\n";
        openlegion_mesh::atomic_file::write(&self.path, text.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// `value` as dotenvy reads it back unchanged: bare when it is plain, else single-quoted.
fn quote(value: &str) -> Result<String> {
    if value.chars().any(char::is_control) {
        bail!("a credential cannot hold control characters or line breaks");
    }
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:+=@,~%".contains(c));
    if plain {
        Ok(value.to_owned())
    } else if !value.contains('\'') {
        Ok(format!("'{value}'"))
    } else {
        bail!("a credential cannot hold both quotes and spaces or other special characters")
    }
}

/// mesh.yaml as a document, so setting a key keeps every other key the user wrote.
#[derive(Debug)]
pub(super) struct MeshYaml {
    path: PathBuf,
    doc: Map<String, Value>,
    existed: bool,
    commented: bool,
    changed: bool,
}

impl MeshYaml {
    pub(super) fn read(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        // The strict reader first: a broken file is reported, never rewritten.
        if let Some(text) = &text {
            openlegion_mesh::config::parse_mesh(path, text)?;
        }
        let doc = match text.as_deref().map(str::trim) {
            None | Some("") => Map::new(),
            Some(text) => match openlegion_protocol::strict_yaml::from_str::<Value>(text) {
                Ok(Value::Object(map)) => map,
                Ok(Value::Null) => Map::new(),
                _ => bail!("{} is not a mapping", path.display()),
            },
        };
        Ok(Self {
            path: path.to_owned(),
            doc,
            existed: text.is_some(),
            commented: text.is_some_and(|t| t.lines().any(|l| l.trim_start().starts_with('#'))),
            changed: false,
        })
    }

    /// The value at `section.key`.
    pub(super) fn get(&self, section: &str, key: &str) -> Option<&Value> {
        self.doc.get(section)?.get(key)
    }

    /// Sets `section.key`; a no-op when it already has that value.
    pub(super) fn set(&mut self, section: &str, key: &str, value: Value) {
        if self.get(section, key) == Some(&value) {
            return;
        }
        let entry = self
            .doc
            .entry(section.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        entry
            .as_object_mut()
            .expect("an object")
            .insert(key.to_owned(), value);
        self.changed = true;
    }

    pub(super) fn changed(&self) -> bool {
        self.changed
    }

    /// Writes the file after checking it loads. A file that had comments is kept beside
    /// as `mesh.yaml.bak` (the rewrite cannot keep them).
    pub(super) fn save(&self) -> Result<Option<PathBuf>> {
        let yaml = serde_saphyr::to_string(&Value::Object(self.doc.clone()))
            .context("cannot write mesh.yaml")?;
        let text = format!(
            "# The mesh (written by `openlegion setup`; the repository's config/mesh.yaml explains every key).\n{yaml}"
        );
        openlegion_mesh::config::parse_mesh(&self.path, &text)?;
        let mut backup = None;
        if self.existed && self.commented {
            let bak = self.path.with_extension("yaml.bak");
            std::fs::copy(&self.path, &bak)
                .with_context(|| format!("cannot keep a copy at {}", bak.display()))?;
            backup = Some(bak);
        }
        openlegion_mesh::atomic_file::write(&self.path, text.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(backup)
    }
}

/// PROJECT.md in the original's shape, from the user's description.
pub(super) fn project_brief(description: &str) -> String {
    format!(
        "# Project\n\n## What We're Building\n\n{}\n\n## Current Priority\n\n(What matters most right now.)\n\n## Hard Constraints\n\n(What agents must never do.)\n",
        description.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_keeps_other_lines_and_reads_back_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# mine\nOTHER=1\nexport OPENLEGION_CRED_OPENAI_API_KEY=old\n",
        )
        .unwrap();
        let mut env = DotEnv::read(&path).unwrap();
        assert_eq!(
            env.get("OPENLEGION_CRED_OPENAI_API_KEY").as_deref(),
            Some("old")
        );
        for value in ["sk-proj-abc_DEF.123", "has space #and hash", "x\"y"] {
            env.set("OPENLEGION_CRED_OPENAI_API_KEY", value).unwrap();
            env.save().unwrap();
            let back = DotEnv::read(&path).unwrap();
            assert_eq!(
                back.get("OPENLEGION_CRED_OPENAI_API_KEY").as_deref(),
                Some(value)
            );
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# mine\nOTHER=1\n"), "{text}");
        assert_eq!(text.matches("OPENAI_API_KEY").count(), 1, "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(env.set("K", "a\nb").is_err());
        assert!(env.set("K", "it's \"both\"").is_err());
    }

    #[test]
    fn mesh_yaml_changes_only_the_keys_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh.yaml");
        std::fs::write(
            &path,
            "# comment\nmesh:\n  port: 9000\nllm:\n  default_model: openai/gpt-4o-mini\n  max_tokens: 100\n",
        )
        .unwrap();
        let mut yaml = MeshYaml::read(&path).unwrap();
        yaml.set("llm", "default_model", Value::from("openai/gpt-4o-mini"));
        assert!(!yaml.changed(), "same value: nothing to write");
        yaml.set(
            "llm",
            "default_model",
            Value::from("anthropic/claude-haiku-4-5"),
        );
        yaml.set("runtime", "isolation", Value::from("process"));
        let backup = yaml.save().unwrap();
        assert_eq!(backup, Some(dir.path().join("mesh.yaml.bak")));
        let back = openlegion_mesh::config::load_mesh(&path).unwrap();
        assert_eq!(back.mesh.port, 9000);
        assert_eq!(back.llm.max_tokens, Some(100));
        assert_eq!(
            back.llm.default_model.as_deref(),
            Some("anthropic/claude-haiku-4-5")
        );
        assert_eq!(
            back.runtime.isolation,
            Some(openlegion_mesh::config::Isolation::Process)
        );
    }

    #[test]
    fn a_broken_mesh_yaml_is_reported_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh.yaml");
        std::fs::write(&path, "mesh:\n  prot: 1\n").unwrap();
        let e = MeshYaml::read(&path).unwrap_err().to_string();
        assert!(e.contains("prot"), "{e}");
    }
}
