//! Listing a directory of the agent's data for the mesh (`GET /files?dir=…`), which is how
//! the mesh's file watchers see files in a volume only this sandbox can read.
//!
//! Confined like the `workspace` capability: the directory is named relative to the data
//! directory ([`data_relative`]), and one that resolves outside it (through a symlink) is
//! refused. Only regular files are listed, never what a symlink points to, nor the
//! temporary file of a write in progress.

use std::path::Path;
use std::time::UNIX_EPOCH;

use openlegion_protocol::{DirListing, FileStat, MAX_LISTED_FILES, data_relative};

/// Why a directory was not listed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ListError {
    /// The name is outside the data directory. (400)
    #[error("{0}")]
    Outside(String),
    #[error("cannot list {dir}: {source}")]
    Io {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// The regular files directly in `dir` (relative to `data_dir`), at most
/// [`MAX_LISTED_FILES`], sorted by name.
pub(crate) fn list(data_dir: &Path, dir: &str) -> Result<DirListing, ListError> {
    let rel = data_relative(dir).map_err(ListError::Outside)?;
    let io = |source| ListError::Io {
        dir: rel.clone(),
        source,
    };
    let root = data_dir.canonicalize().map_err(io)?;
    let target = match root.join(&rel).canonicalize() {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DirListing::default()),
        Err(e) => return Err(io(e)),
    };
    if !target.starts_with(&root) {
        return Err(ListError::Outside(format!(
            "{dir:?} leads outside the agent's data directory"
        )));
    }
    if !target.is_dir() {
        return Ok(DirListing::default());
    }
    let mut listing = DirListing {
        exists: true,
        ..DirListing::default()
    };
    for entry in std::fs::read_dir(&target).map_err(io)? {
        let Ok(entry) = entry else { continue };
        // The entry's own metadata: a symlink is not followed (and not listed).
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.file_type().is_file() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // A write in progress (or cut off by a crash): the file it makes appears whole,
        // under its own name, when it is done.
        if openlegion_skill_host::is_partial_write(&name) {
            continue;
        }
        if listing.files.len() == MAX_LISTED_FILES {
            listing.truncated = true;
            break;
        }
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        listing.files.push(FileStat {
            name,
            size: meta.len(),
            modified_ns,
        });
    }
    listing.files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_regular_files_only_and_stays_inside() {
        let data = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data.path().join("inbox/sub")).unwrap();
        std::fs::write(data.path().join("inbox/b.csv"), "1,2\n").unwrap();
        std::fs::write(data.path().join("inbox/a.txt"), "").unwrap();
        std::fs::write(data.path().join("inbox/.b.csv.partial-x1y2z3"), "1,").unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            data.path().join("inbox/link"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), data.path().join("escape")).unwrap();

        let l = list(data.path(), "/data/inbox").unwrap();
        assert!(l.exists);
        let names: Vec<_> = l.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.csv"], "no directory, no symlink");
        assert_eq!(l.files[1].size, 4);
        assert!(l.files[1].modified_ns > 0);

        assert!(!list(data.path(), "missing").unwrap().exists);
        assert!(matches!(
            list(data.path(), "escape"),
            Err(ListError::Outside(_))
        ));
        assert!(matches!(
            list(data.path(), "../x"),
            Err(ListError::Outside(_))
        ));
        assert!(matches!(
            list(data.path(), "/etc"),
            Err(ListError::Outside(_))
        ));
    }
}
