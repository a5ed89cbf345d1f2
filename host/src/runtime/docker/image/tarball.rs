//! A tar archive described as a list of entries, made in memory: the root filesystem of the
//! minimal image, and the build context of the full one. Its fingerprint (what goes in,
//! with host files known by path, size and modification time, so a 100 MB debug binary is
//! not read just to name its image) tags the image built from it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Where a file of the archive comes from.
#[derive(Debug)]
pub(crate) enum Source {
    Host(PathBuf),
    Text(String),
    Bytes(Vec<u8>),
}

/// The entries of an archive, by path inside it.
#[derive(Debug, Default)]
pub(crate) struct Tarball {
    /// Path → source and mode.
    pub(crate) files: BTreeMap<String, (Source, u32)>,
    /// Path → symlink target.
    pub(crate) links: BTreeMap<String, String>,
    /// Directories with their owner and mode: (path, uid, gid, mode).
    pub(crate) dirs: Vec<(String, u32, u32, u32)>,
}

/// The directories above `path`, outermost first (never `/`).
fn parents(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = Path::new(path).parent();
    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty() && *d != Path::new("/")) {
        out.push(d.display().to_string());
        p = d.parent();
    }
    out.reverse();
    out
}

impl Tarball {
    pub(crate) fn file(&mut self, path: impl Into<String>, source: Source, mode: u32) {
        self.files.insert(path.into(), (source, mode));
    }

    /// A hex digest of everything that goes in, `salt` first.
    pub(crate) fn fingerprint(&self, salt: &str) -> String {
        let mut h = Sha256::new();
        h.update(salt);
        for (path, (source, mode)) in &self.files {
            h.update(path);
            h.update(mode.to_le_bytes());
            match source {
                Source::Text(text) => h.update(text),
                Source::Bytes(bytes) => h.update(bytes),
                Source::Host(file) => {
                    h.update(file.display().to_string());
                    if let Ok(meta) = std::fs::metadata(file) {
                        h.update(meta.len().to_le_bytes());
                        let mtime = meta
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                        h.update(mtime.map_or(0, |d| d.as_nanos()).to_le_bytes());
                    }
                }
            }
        }
        for (path, target) in &self.links {
            h.update(path);
            h.update(target);
        }
        for (path, uid, gid, mode) in &self.dirs {
            h.update(format!("{path}:{uid}:{gid}:{mode:o}"));
        }
        hex::encode(h.finalize())[..16].to_owned()
    }

    /// The archive. Reads the host files, so call it off the async runtime.
    pub(crate) fn build(&self) -> std::io::Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut made = BTreeSet::new();
        let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, uid: u32, gid: u32, mode: u32| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(mode);
            header.set_uid(u64::from(uid));
            header.set_gid(u64::from(gid));
            header.set_size(0);
            b.append_data(&mut header, path.trim_start_matches('/'), std::io::empty())
        };
        let mut parents_of = |b: &mut tar::Builder<Vec<u8>>, path: &str| -> std::io::Result<()> {
            for parent in parents(path) {
                if made.insert(parent.clone()) {
                    dir(b, &parent, 0, 0, 0o755)?;
                }
            }
            Ok(())
        };
        for (path, uid, gid, mode) in &self.dirs {
            parents_of(&mut builder, path)?;
            dir(&mut builder, path, *uid, *gid, *mode)?;
        }
        for (path, (source, mode)) in &self.files {
            parents_of(&mut builder, path)?;
            let bytes = match source {
                Source::Text(text) => text.clone().into_bytes(),
                Source::Bytes(bytes) => bytes.clone(),
                Source::Host(file) => std::fs::read(file).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", file.display()))
                })?,
            };
            let mut header = tar::Header::new_gnu();
            header.set_mode(*mode);
            header.set_size(bytes.len() as u64);
            builder.append_data(&mut header, path.trim_start_matches('/'), bytes.as_slice())?;
        }
        for (path, target) in &self.links {
            parents_of(&mut builder, path)?;
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, path.trim_start_matches('/'), target)?;
        }
        builder.into_inner()
    }
}

/// The shared libraries `binary` needs, from `ldd`; empty for a static binary.
pub(crate) fn shared_libraries(binary: &Path) -> std::io::Result<Vec<PathBuf>> {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run ldd: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success()
        || text.contains("not a dynamic executable")
        || text.contains("statically linked")
    {
        return Ok(Vec::new());
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_listed_outermost_first() {
        assert_eq!(parents("/a/b/c"), ["/a", "/a/b"]);
        assert_eq!(parents("a/b"), ["a"]);
        assert!(parents("/a").is_empty());
    }

    #[test]
    fn the_archive_holds_every_entry_once() {
        let mut t = Tarball::default();
        t.file("/etc/passwd", Source::Text("root".into()), 0o644);
        t.file("/etc/group", Source::Text("g".into()), 0o644);
        t.links.insert("/bin/sh".into(), "busybox".into());
        t.dirs.push(("/data".into(), 1000, 1000, 0o755));
        let bytes = t.build().unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["bin", "bin/sh", "data", "etc", "etc/group", "etc/passwd"]
        );
        let before = t.fingerprint("x");
        t.file("/etc/hosts", Source::Text("h".into()), 0o644);
        assert_ne!(before, t.fingerprint("x"));
    }
}
