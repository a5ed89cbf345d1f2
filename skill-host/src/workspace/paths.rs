//! Confining a guest's path to the agent's data directory, with the rules and error texts
//! of the original platform's file tools:
//!
//! 1. a leading `/data/` is stripped (`/data` alone means the root);
//! 2. a path still absolute → `Absolute paths not allowed: …`;
//! 3. any `..` component → `Path traversal not allowed: …`;
//! 4. walking the components, a symlink that resolves outside the root →
//!    `Symlink escapes allowed root: …`;
//! 5. the resolved path must still be inside the root → `Path escapes allowed root: …`.
//!
//! Symlinks inside the root are followed, so the resolved path names the real file. The
//! check and the later open are separate system calls; the data directory belongs to one
//! agent, whose skills run one call at a time per instance, so nothing else races them.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed while resolving one path before giving up (Linux's own limit).
const MAX_SYMLINK_HOPS: u32 = 40;

/// A guest path, resolved inside the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The real path on disk.
    pub(crate) real: PathBuf,
    /// The path the guest meant, relative to the root, after stripping `/data/`.
    pub(crate) relative: PathBuf,
}

/// Resolves `path` under `root`, which must be canonical (absolute, no symlinks).
pub(crate) fn resolve(root: &Path, path: &str) -> Result<Resolved, String> {
    let stripped = if path == "/data" {
        "."
    } else {
        path.strip_prefix("/data/").unwrap_or(path)
    };
    if stripped.starts_with('/') || stripped.starts_with('\\') || Path::new(stripped).is_absolute()
    {
        return Err(format!("Absolute paths not allowed: {path}"));
    }
    let relative = Path::new(stripped);
    if relative.components().any(|c| c == Component::ParentDir) {
        return Err(format!("Path traversal not allowed: {path}"));
    }

    let mut current = root.to_path_buf();
    for component in relative.components() {
        let Component::Normal(part) = component else {
            continue; // `.`
        };
        let next = current.join(part);
        let is_symlink = std::fs::symlink_metadata(&next).is_ok_and(|m| m.file_type().is_symlink());
        current = if is_symlink {
            let target = resolve_lenient(&next, 0)
                .map_err(|_| format!("Symlink escapes allowed root: {path}"))?;
            if !target.starts_with(root) {
                return Err(format!("Symlink escapes allowed root: {path}"));
            }
            target
        } else {
            next
        };
    }
    if !current.starts_with(root) {
        return Err(format!("Path escapes allowed root: {path}"));
    }
    Ok(Resolved {
        real: current,
        relative: relative.components().collect(),
    })
}

/// Where `path` leads, following every symlink, even when the end does not exist (like
/// Python's `Path.resolve()`): the existing part is canonicalized and the rest appended.
fn resolve_lenient(path: &Path, hops: u32) -> io::Result<PathBuf> {
    if hops > MAX_SYMLINK_HOPS {
        return Err(io::Error::other("too many levels of symbolic links"));
    }
    if let Ok(real) = std::fs::canonicalize(path) {
        return Ok(real);
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    let Some(name) = path.file_name() else {
        return Ok(path.to_path_buf());
    };
    let parent = resolve_lenient(parent, hops + 1)?;
    let here = parent.join(name);
    match std::fs::read_link(&here) {
        // A dangling link: follow where it points, relative to its directory.
        Ok(target) => resolve_lenient(&normalize(&parent.join(target)), hops + 1),
        Err(_) => Ok(here),
    }
}

/// `path` without `.` and with each `..` removing the component before it.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir(&root).unwrap();
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    #[test]
    fn the_original_platforms_cases() {
        let (_dir, root) = root();
        let err = |p: &str| resolve(&root, p).unwrap_err();
        assert_eq!(
            err("../../etc/passwd"),
            "Path traversal not allowed: ../../etc/passwd"
        );
        assert_eq!(
            err("/etc/passwd"),
            "Absolute paths not allowed: /etc/passwd"
        );
        assert_eq!(
            err("/data/../etc/passwd"),
            "Path traversal not allowed: /data/../etc/passwd"
        );
        assert_eq!(
            err("sub/../../escape.txt"),
            "Path traversal not allowed: sub/../../escape.txt"
        );
        assert_eq!(
            err("../data_evil/x"),
            "Path traversal not allowed: ../data_evil/x"
        );
        assert_eq!(err("\\windows"), "Absolute paths not allowed: \\windows");
        let ok = resolve(&root, "/data/session_log.md").unwrap();
        assert_eq!(ok.real, root.join("session_log.md"));
        assert_eq!(ok.relative, Path::new("session_log.md"));
        for same in ["", ".", "/data", "/data/", "./"] {
            assert_eq!(resolve(&root, same).unwrap().real, root, "{same:?}");
        }
    }

    #[test]
    fn symlinks_inside_are_followed_and_outside_refused() {
        let (dir, root) = root();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("in")).unwrap();
        std::os::unix::fs::symlink("../outside/nothing-yet", root.join("dangling")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();

        assert_eq!(
            resolve(&root, "out/secret").unwrap_err(),
            "Symlink escapes allowed root: out/secret"
        );
        assert_eq!(
            resolve(&root, "dangling").unwrap_err(),
            "Symlink escapes allowed root: dangling"
        );
        assert_eq!(
            resolve(&root, "loop/x").unwrap_err(),
            "Symlink escapes allowed root: loop/x"
        );
        assert_eq!(
            resolve(&root, "in/f.txt").unwrap().real,
            root.join("real/f.txt")
        );
    }
}
