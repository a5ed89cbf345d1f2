//! A skill directory on disk: its two files (`skill.yaml`, `skill.wasm`), how to find the
//! skill directories under a root, and the stamp by which the watcher tells that one
//! changed. The bottom of the loading path: [`load`](crate::load), the watcher and the
//! host all read it, and it reads none of them.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::HostError;

/// The component and manifest file names inside a skill directory.
pub(crate) const WASM_FILE: &str = "skill.wasm";
pub(crate) const MANIFEST_FILE: &str = "skill.yaml";

/// The subdirectories of `root` that hold a `skill.wasm`, sorted.
pub(crate) async fn skill_dirs(root: &Path) -> Result<Vec<PathBuf>, HostError> {
    let owned = root.to_owned();
    tokio::task::spawn_blocking(move || {
        let root = owned;
        let entries = std::fs::read_dir(&root).map_err(|source| HostError::Read {
            path: root.clone(),
            source,
        })?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join(WASM_FILE).is_file())
            .collect();
        dirs.sort();
        Ok(dirs)
    })
    .await
    .map_err(|e| read_failed(root, e))?
}

/// What one of a skill directory's files looked like.
type FileStamp = Option<(u64, SystemTime, u64)>;

/// What a skill directory's two files looked like when last loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    wasm: FileStamp,
    manifest: FileStamp,
}

impl Stamp {
    pub(crate) fn of(dir: &Path) -> Self {
        Stamp {
            wasm: file_stamp(&dir.join(WASM_FILE)),
            manifest: file_stamp(&dir.join(MANIFEST_FILE)),
        }
    }
}

fn file_stamp(path: &Path) -> FileStamp {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.len(), meta.modified().ok()?, inode))
}

/// The last load from a skill directory: what its files looked like, and the skill it
/// loaded (the one still serving, if the last attempt failed).
#[derive(Debug, Clone)]
pub(crate) struct DirState {
    pub(crate) stamp: Stamp,
    pub(crate) skill: Option<String>,
}

/// A blocking read task that panicked or was cancelled (the runtime shutting down).
pub(crate) fn read_failed(path: &Path, error: tokio::task::JoinError) -> HostError {
    HostError::Read {
        path: path.to_owned(),
        source: std::io::Error::other(error),
    }
}
