//! A directory of an agent's data, as the agent lists it for the mesh (`GET /files?dir=…`
//! on the agent's API): the file watchers of the mesh poll through it, because the data
//! of a containerised agent sits in a volume only the agent can read.
//!
//! Paths are relative to the agent's data directory (`/data` in a container), like every
//! path a skill names: a leading `/data/` is stripped, and absolute paths and `..` are
//! refused ([`data_relative`]).

use serde::{Deserialize, Serialize};

/// The most entries one listing returns; beyond it [`DirListing::truncated`] is set.
pub const MAX_LISTED_FILES: usize = 10_000;

/// The regular files directly in one directory (not recursive; no symlinks, no
/// subdirectories).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirListing {
    /// Whether the directory exists (a missing one lists as empty).
    pub exists: bool,
    pub files: Vec<FileStat>,
    /// More than [`MAX_LISTED_FILES`] entries: the list is incomplete.
    #[serde(default)]
    pub truncated: bool,
}

/// One file of a [`DirListing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// The file name (no directory).
    pub name: String,
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch.
    pub modified_ns: i64,
}

/// `path` as a clean path relative to the data directory: `inbox`, `./inbox/` and
/// `/data/inbox` are all `inbox`; `.`, `/data` and the empty path are `""` (the data
/// directory itself). Absolute paths elsewhere and `..` components are refused, with the
/// reason.
pub fn data_relative(path: &str) -> Result<String, String> {
    let rest = match path.strip_prefix("/data") {
        Some("") => "",
        Some(r) if r.starts_with('/') => r,
        _ if path.starts_with('/') => {
            return Err(format!(
                "{path:?} is outside the agent's data directory: name a directory under /data \
                 (or relative to it, e.g. \"inbox\")"
            ));
        }
        _ => path,
    };
    let mut parts = Vec::new();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "{path:?} climbs out with \"..\": name a directory under the agent's data \
                     directory"
                ));
            }
            p if p.contains('\0') => return Err("a path cannot contain NUL".into()),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::data_relative;

    #[test]
    fn paths_are_relative_to_the_data_directory() {
        for (given, want) in [
            ("inbox", "inbox"),
            ("./inbox/", "inbox"),
            ("/data/inbox", "inbox"),
            ("/data/in//box/./x", "in/box/x"),
            ("/data", ""),
            (".", ""),
            ("", ""),
        ] {
            assert_eq!(data_relative(given).as_deref(), Ok(want), "{given}");
        }
    }

    #[test]
    fn paths_outside_are_refused() {
        for bad in [
            "/etc",
            "/database",
            "../x",
            "inbox/../../x",
            "/data/../etc",
            "/",
        ] {
            assert!(data_relative(bad).is_err(), "{bad}");
        }
    }
}
