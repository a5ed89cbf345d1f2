//! Agent-written skills on disk: `/data/skills/<name>/` holds what the skill host loads
//! (`skill.wasm`, `skill.yaml`) and, under `source/`, what it was built from (the code, the
//! tools, and `authored.json` with the hash of the build's inputs). A directory with
//! `source/authored.json` is one the agent wrote; the others (copied in by an operator)
//! are left alone by `list` and `remove`.
//!
//! A new version is assembled in a staging directory beside the skills directory (same
//! file system, outside the watcher's view) and swapped in by renames, so the watcher never
//! sees a half-written skill, and a version that fails to load can be swapped back out.

use std::path::{Path, PathBuf};

use openlegion_skill_host::{Capability, Manifest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::request::{Language, Request};

const SOURCE_DIR: &str = "source";
const AUTHORED_FILE: &str = "authored.json";
const TOOLS_FILE: &str = "tools.json";

/// What `source/authored.json` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Authored {
    pub(crate) language: Language,
    /// SHA-256 of everything the component was built from ([`inputs_hash`]).
    pub(crate) inputs_sha256: String,
    pub(crate) compiler: String,
}

/// The hash of a build's inputs: the code, the tools, the language, the compiler and what
/// the agent generates around the code. Equal hashes build equal components.
pub(crate) fn inputs_hash(request: &Request, compiler: &str, generated: &str) -> String {
    let mut hasher = Sha256::new();
    let tools = serde_json::to_string(&request.tools).unwrap_or_default();
    for part in [
        request.language.name(),
        compiler,
        generated,
        &request.code,
        &tools,
    ] {
        // Length-prefixed, so no two different inputs hash the same text.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The skills directory and the staging directory beside it.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) skills_dir: PathBuf,
    staging: PathBuf,
}

impl Store {
    pub(crate) fn new(skills_dir: PathBuf, staging: PathBuf) -> Self {
        Store {
            skills_dir,
            staging,
        }
    }

    pub(crate) fn dir(&self, name: &str) -> PathBuf {
        self.skills_dir.join(name)
    }

    /// A fresh build directory, beside the staging ones (on the data volume); deleted when
    /// dropped.
    pub(crate) fn build_dir(&self) -> std::io::Result<tempfile::TempDir> {
        std::fs::create_dir_all(&self.staging)?;
        tempfile::Builder::new()
            .prefix("build.")
            .tempdir_in(&self.staging)
    }

    /// What the agent recorded for `name`, if it wrote that skill.
    pub(crate) fn authored(&self, name: &str) -> Option<Authored> {
        let text =
            std::fs::read_to_string(self.dir(name).join(SOURCE_DIR).join(AUTHORED_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The built component of `name`, if there is one.
    pub(crate) fn component(&self, name: &str) -> Option<PathBuf> {
        let path = self.dir(name).join("skill.wasm");
        path.is_file().then_some(path)
    }

    /// The names of the skills the agent wrote, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.skills_dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| self.authored(name).is_some())
            .collect();
        names.sort();
        names
    }

    /// A staging directory holding the new version of `request`'s skill: the component
    /// (`wasm`, moved or hard-linked), its manifest, and its source.
    pub(crate) fn stage(
        &self,
        request: &Request,
        wasm: &Path,
        authored: &Authored,
    ) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.staging)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}.new.", request.name))
            .tempdir_in(&self.staging)?
            .keep();
        let written = (|| {
            let source = dir.join(SOURCE_DIR);
            std::fs::create_dir(&source)?;
            std::fs::write(source.join(request.language.source_file()), &request.code)?;
            let tools = serde_json::to_string_pretty(&request.tools)?;
            std::fs::write(source.join(TOOLS_FILE), tools)?;
            std::fs::write(
                source.join(AUTHORED_FILE),
                serde_json::to_string_pretty(authored)?,
            )?;
            std::fs::write(dir.join("skill.yaml"), manifest(request, authored))?;
            // A hard link when the component is already in the skills directory (same
            // inputs, new manifest): an 18 MB Python component is not copied.
            if std::fs::hard_link(wasm, dir.join("skill.wasm")).is_err() {
                std::fs::copy(wasm, dir.join("skill.wasm"))?;
            }
            Ok::<(), std::io::Error>(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(dir)
    }

    /// Moves `staged` into place as skill `name`; the version it replaces is kept aside
    /// until [`Swap::commit`] or [`Swap::undo`].
    pub(crate) fn swap_in(&self, name: &str, staged: &Path) -> std::io::Result<Swap> {
        let dest = self.dir(name);
        std::fs::create_dir_all(&self.skills_dir)?;
        let old = if dest.exists() {
            let aside = tempfile::Builder::new()
                .prefix(&format!("{name}.old."))
                .tempdir_in(&self.staging)?
                .keep();
            let aside = aside.join(name);
            std::fs::rename(&dest, &aside)?;
            Some(aside)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(staged, &dest) {
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &dest);
            }
            return Err(e);
        }
        Ok(Swap { dest, old })
    }

    /// Deletes skill `name`'s directory (moved aside first, so the watcher sees it vanish
    /// at once rather than file by file).
    pub(crate) fn delete(&self, name: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.staging)?;
        let aside = tempfile::Builder::new()
            .prefix(&format!("{name}.removed."))
            .tempdir_in(&self.staging)?
            .keep();
        std::fs::rename(self.dir(name), aside.join(name))?;
        std::fs::remove_dir_all(aside)
    }
}

/// A new version in place, the old one kept aside.
#[derive(Debug)]
pub(crate) struct Swap {
    pub(crate) dest: PathBuf,
    old: Option<PathBuf>,
}

impl Swap {
    /// The new version stays: delete the old one.
    pub(crate) fn commit(self) {
        if let Some(old) = self.old.as_ref().and_then(|o| o.parent()) {
            let _ = std::fs::remove_dir_all(old);
        }
    }

    /// The new version goes: delete it and put the old one back. Returns whether there was
    /// an old one.
    pub(crate) fn undo(self) -> std::io::Result<bool> {
        std::fs::remove_dir_all(&self.dest)?;
        match &self.old {
            Some(old) => {
                std::fs::rename(old, &self.dest)?;
                if let Some(parent) = old.parent() {
                    let _ = std::fs::remove_dir(parent);
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// `skill.yaml` for `request`. Strings are written as JSON strings, which YAML reads as
/// double-quoted scalars; the result is parsed back before use, as the host will.
fn manifest(request: &Request, authored: &Authored) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let capabilities: Vec<&str> = request.capabilities.iter().map(|c| c.name()).collect();
    let mut yaml = format!(
        "# Written by the agent (create_skill) from source/{}.\nname: {}\nversion: {}\n",
        request.language.source_file(),
        quote(&request.name),
        quote(&authored.inputs_sha256[..12]),
    );
    if let Some(description) = &request.description {
        yaml.push_str(&format!("description: {}\n", quote(description)));
    }
    yaml.push_str(&format!("capabilities: [{}]\n", capabilities.join(", ")));
    let limits = &request.limits;
    let fields: Vec<String> = [
        ("fuel", limits.fuel),
        ("memory_mib", limits.memory_mib),
        ("timeout_ms", limits.timeout_ms),
    ]
    .into_iter()
    .filter_map(|(field, value)| value.map(|v| format!("{field}: {v}")))
    .collect();
    if !fields.is_empty() {
        yaml.push_str(&format!("limits: {{ {} }}\n", fields.join(", ")));
    }
    yaml
}

/// Checks that the manifest written for `request` reads back as the host will read it.
pub(crate) fn check_manifest(request: &Request, authored: &Authored) -> Result<(), String> {
    let yaml = manifest(request, authored);
    let parsed = Manifest::from_yaml(Path::new("skill.yaml"), &yaml).map_err(|e| e.to_string())?;
    let wanted: Vec<Capability> = request.capabilities.clone();
    if parsed.name != request.name || parsed.capabilities != wanted {
        return Err("the manifest does not read back as written".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openlegion_skill_host::LimitsOverride;
    use serde_json::json;

    fn request() -> Request {
        Request {
            name: "text".into(),
            language: Language::Python,
            code: "def reverse(text):\n    return text[::-1]\n".into(),
            tools: serde_json::from_value(json!([
                {"name": "reverse", "description": "Reverse \"it\":\n fast", "parameters": {}}
            ]))
            .unwrap(),
            capabilities: vec![Capability::Workspace, Capability::Process],
            description: Some("Texts: 'quoted' and \"double\" # not a comment".into()),
            limits: LimitsOverride {
                fuel: None,
                memory_mib: Some(32),
                timeout_ms: Some(500),
            },
        }
    }

    fn authored(request: &Request) -> Authored {
        Authored {
            language: request.language,
            inputs_sha256: inputs_hash(request, "componentize-py 0.25.1", "glue"),
            compiler: "componentize-py 0.25.1".into(),
        }
    }

    #[test]
    fn the_manifest_reads_back_with_every_field() {
        let request = request();
        let authored = authored(&request);
        check_manifest(&request, &authored).unwrap();
        let parsed = Manifest::from_yaml(Path::new("x"), &manifest(&request, &authored)).unwrap();
        assert_eq!(parsed.description, request.description);
        assert_eq!(parsed.limits.unwrap().timeout_ms, Some(500));
    }

    #[test]
    fn the_hash_changes_with_any_input() {
        let a = request();
        let base = inputs_hash(&a, "c 1", "g");
        assert_eq!(base, inputs_hash(&a, "c 1", "g"));
        let mut code = a.clone();
        code.code.push(' ');
        assert_ne!(base, inputs_hash(&code, "c 1", "g"));
        assert_ne!(base, inputs_hash(&a, "c 2", "g"));
        assert_ne!(base, inputs_hash(&a, "c 1", "g2"));
        // Capabilities and limits are the manifest's, not the component's.
        let mut caps = a.clone();
        caps.capabilities.clear();
        assert_eq!(base, inputs_hash(&caps, "c 1", "g"));
    }

    #[test]
    fn a_swap_can_be_undone_and_committed() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path().join("skills"), root.path().join("staging"));
        let wasm = root.path().join("a.wasm");
        std::fs::write(&wasm, b"v1").unwrap();
        let request = request();
        let authored = authored(&request);
        let staged = store.stage(&request, &wasm, &authored).unwrap();
        store.swap_in("text", &staged).unwrap().commit();
        assert_eq!(store.names(), ["text"]);
        assert_eq!(store.authored("text").unwrap(), authored);

        std::fs::write(root.path().join("b.wasm"), b"v2").unwrap();
        let staged = store
            .stage(&request, &root.path().join("b.wasm"), &authored)
            .unwrap();
        let swap = store.swap_in("text", &staged).unwrap();
        assert_eq!(
            std::fs::read(store.dir("text").join("skill.wasm")).unwrap(),
            b"v2"
        );
        assert!(swap.undo().unwrap());
        assert_eq!(
            std::fs::read(store.dir("text").join("skill.wasm")).unwrap(),
            b"v1"
        );
        let source = std::fs::read_to_string(store.dir("text").join("source/skill.py")).unwrap();
        assert_eq!(source, request.code);

        store.delete("text").unwrap();
        assert!(store.names().is_empty());
        assert_eq!(
            std::fs::read_dir(root.path().join("staging"))
                .unwrap()
                .count(),
            0,
            "staging is left clean"
        );
    }
}
