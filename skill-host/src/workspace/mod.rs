//! The agent's files as skills see them: read, write and list under the data directory,
//! with the limits and texts of the original platform's file tools. Blocking `std::fs`
//! code; the `workspace` host interface runs it on tokio's blocking pool.

mod paths;
mod replace;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use paths::{Resolved, resolve};
pub use replace::is_partial_write;

/// Most characters `read_file` returns (the WIT contract).
pub(crate) const MAX_READ_CHARS: usize = 500_000;
/// Most bytes one `write_file` call writes (the WIT contract).
pub(crate) const MAX_WRITE_BYTES: usize = 10 * 1024 * 1024;
/// Most entries one `list_files` call returns (the WIT contract).
pub(crate) const MAX_LIST_ENTRIES: usize = 500;
/// Most directory entries one recursive listing looks at, matching or not, so that a
/// pattern matching nothing in a huge tree still returns promptly.
const MAX_LIST_VISITS: usize = 100_000;
/// Longest path or pattern a guest may pass.
pub(crate) const MAX_PATH_BYTES: usize = 4096;

/// The workspace files that make the agent who it is; skills may not rewrite them (the
/// agent's own `update_workspace` tool does, with its checks).
const IDENTITY_FILES: [&str; 6] = [
    "SOUL.md",
    "AGENTS.md",
    "INSTRUCTIONS.md",
    "HEARTBEAT.md",
    "USER.md",
    "MEMORY.md",
];

/// Where `path`, a path as the `workspace` interface takes it, leads inside `root`, the
/// data directory (canonical: absolute, no symlinks). `Err` is the refusal text
/// ("Path traversal not allowed: …"). For the agent's capabilities that take a path, such
/// as the `process` workdir, so that every path a skill names obeys the same rules.
pub fn resolve_path(root: &Path, path: &str) -> Result<PathBuf, String> {
    resolve(root, path).map(|resolved| resolved.real)
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) path: String,
    pub(crate) is_dir: bool,
    pub(crate) size: u64,
}

/// Reads `path` as text (invalid UTF-8 replaced), skipping `offset` lines and keeping at
/// most `limit` lines and [`MAX_READ_CHARS`] characters.
pub(crate) fn read_file(
    root: &Path,
    path: &str,
    offset: Option<u32>,
    limit: Option<u32>,
) -> Result<String, String> {
    let Resolved { real, .. } = resolve(root, path)?;
    if real.is_dir() {
        return Err(format!("Not a file: {path}"));
    }
    let file = fs::File::open(&real).map_err(|e| io_error("read", path, &e))?;
    let mut reader = BufReader::new(file);
    let mut out = String::new();
    let mut chars = 0;
    let mut line = Vec::new();
    let mut index: u64 = 0;
    let first = u64::from(offset.unwrap_or(0));
    let end = limit.map(|l| first + u64::from(l));
    loop {
        if end.is_some_and(|end| index >= end) {
            break;
        }
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| io_error("read", path, &e))?;
        if read == 0 {
            break;
        }
        if index >= first {
            let text = String::from_utf8_lossy(&line);
            let room = MAX_READ_CHARS - chars;
            let count = text.chars().count();
            if count >= room {
                out.extend(text.chars().take(room));
                break;
            }
            out.push_str(&text);
            chars += count;
        }
        index += 1;
    }
    Ok(out)
}

/// Writes (or appends) `contents` to `path`, creating parent directories; returns the
/// bytes written. All or nothing (see [`replace`]): a crash or a full disk leaves the file
/// as it was.
pub(crate) fn write_file(
    root: &Path,
    path: &str,
    contents: &str,
    append: bool,
) -> Result<u64, String> {
    if contents.len() > MAX_WRITE_BYTES {
        return Err(format!(
            "Content too large: {} bytes, at most {MAX_WRITE_BYTES} per write",
            contents.len()
        ));
    }
    let Resolved { real, relative } = resolve(root, path)?;
    let real_relative = real.strip_prefix(root).unwrap_or(&real);
    if is_identity_file(&relative) || is_identity_file(real_relative) {
        return Err(format!(
            "Cannot write {path}: it is one of the agent's identity files \
             (workspace/SOUL.md, AGENTS.md, INSTRUCTIONS.md, HEARTBEAT.md, USER.md, MEMORY.md); \
             use update_workspace to change it"
        ));
    }
    if real.is_dir() {
        return Err(format!("Is a directory: {path}"));
    }
    if let Some(parent) = real.parent() {
        fs::create_dir_all(parent).map_err(|e| io_error("create directories for", path, &e))?;
    }
    replace::replace(&real, contents.as_bytes(), append)
        .map_err(|e| io_error("write", path, &e))?;
    Ok(contents.len() as u64)
}

/// Writes `bytes` to `path` (replacing it), creating parent directories, under the same
/// rules as [`write_file`]: for binary files the host itself makes (screenshots).
pub(crate) fn write_bytes(root: &Path, path: &str, bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() > MAX_WRITE_BYTES {
        return Err(format!(
            "Content too large: {} bytes, at most {MAX_WRITE_BYTES} per write",
            bytes.len()
        ));
    }
    let Resolved { real, relative } = resolve(root, path)?;
    let real_relative = real.strip_prefix(root).unwrap_or(&real);
    if is_identity_file(&relative) || is_identity_file(real_relative) {
        return Err(format!(
            "Cannot write {path}: it is one of the agent's identity files"
        ));
    }
    if real.is_dir() {
        return Err(format!("Is a directory: {path}"));
    }
    if let Some(parent) = real.parent() {
        fs::create_dir_all(parent).map_err(|e| io_error("create directories for", path, &e))?;
    }
    replace::replace(&real, bytes, false).map_err(|e| io_error("write", path, &e))?;
    Ok(bytes.len() as u64)
}

/// The size and lower-case hex sha256 of the file at `path`, read in chunks.
pub(crate) fn digest(root: &Path, path: &str) -> Result<(u64, String), String> {
    use sha2::Digest;
    use std::io::Read;
    let Resolved { real, .. } = resolve(root, path)?;
    if !real.is_file() {
        return Err(format!("File not found: {path}"));
    }
    let mut file = fs::File::open(&real).map_err(|e| io_error("read", path, &e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| io_error("read", path, &e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// `workspace/<identity file>` exactly (not deeper, not elsewhere).
fn is_identity_file(relative: &Path) -> bool {
    let mut parts = relative.iter();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(dir), Some(name), None) => {
            dir == "workspace" && IDENTITY_FILES.iter().any(|f| name == *f)
        }
        _ => false,
    }
}

/// Lists the directory `path` (recursively if asked), keeping entries whose file name
/// matches the glob `pattern`, sorted by path, at most [`MAX_LIST_ENTRIES`]. Symlinks are
/// listed but never descended into.
pub(crate) fn list_files(
    root: &Path,
    path: &str,
    pattern: Option<&str>,
    recursive: bool,
) -> Result<Vec<Entry>, String> {
    let matcher = match pattern {
        Some(p) if p.split(['/', '\\']).any(|segment| segment == "..") => {
            return Err(format!("Path traversal not allowed: {p}"));
        }
        Some(p) => Some(glob::Pattern::new(p).map_err(|e| format!("Invalid pattern {p}: {e}"))?),
        None => None,
    };
    let Resolved { real, .. } = resolve(root, path)?;
    if !real.exists() {
        return Err(format!("Directory not found: {path}"));
    }
    if !real.is_dir() {
        return Err(format!("Not a directory: {path}"));
    }
    let mut entries = Vec::new();
    let mut visits = 0;
    let mut pending: Vec<PathBuf> = vec![real];
    while let Some(dir) = pending.pop() {
        let mut children: Vec<_> = fs::read_dir(&dir)
            .map_err(|e| io_error("list", path, &e))?
            .filter_map(Result::ok)
            .collect();
        children.sort_by_key(|c| c.file_name());
        let mut subdirs = Vec::new();
        for child in children {
            visits += 1;
            if visits > MAX_LIST_VISITS || entries.len() >= MAX_LIST_ENTRIES {
                return Ok(sorted(entries));
            }
            let Ok(meta) = fs::symlink_metadata(child.path()) else {
                continue;
            };
            let is_dir = meta.is_dir();
            if recursive && is_dir {
                subdirs.push(child.path());
            }
            let name = child.file_name();
            if matcher
                .as_ref()
                .is_some_and(|m| !m.matches(&name.to_string_lossy()))
            {
                continue;
            }
            let relative = child.path();
            let relative = relative.strip_prefix(root).unwrap_or(&relative);
            entries.push(Entry {
                path: relative.to_string_lossy().into_owned(),
                is_dir,
                size: if is_dir { 0 } else { meta.len() },
            });
        }
        // Depth-first, in name order.
        pending.extend(subdirs.into_iter().rev());
    }
    Ok(sorted(entries))
}

fn sorted(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

fn io_error(action: &str, path: &str, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => format!("File not found: {path}"),
        // The model should hear plainly that retrying will not help until space is freed.
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => format!(
            "No space left on device: cannot {action} {path}, the disk holding /data is \
             full ({error}); the file is unchanged. Free space (delete files you no longer \
             need) before writing again"
        ),
        _ => format!("Cannot {action} {path}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        (dir, root)
    }

    #[test]
    fn read_with_offset_and_limit_counts_lines() {
        let (_dir, root) = root();
        fs::write(root.join("f.txt"), "line0\nline1\nline2\nline3\n").unwrap();
        let text = read_file(&root, "f.txt", Some(1), Some(2)).unwrap();
        assert_eq!(text, "line1\nline2\n");
        assert_eq!(read_file(&root, "f.txt", Some(3), None).unwrap(), "line3\n");
        assert_eq!(read_file(&root, "f.txt", Some(9), None).unwrap(), "");
        assert_eq!(
            read_file(&root, "nope.txt", None, None).unwrap_err(),
            "File not found: nope.txt"
        );
    }

    #[test]
    fn reads_stop_at_the_character_limit() {
        let (_dir, root) = root();
        fs::write(root.join("big.txt"), "é".repeat(MAX_READ_CHARS + 10)).unwrap();
        let text = read_file(&root, "big.txt", None, None).unwrap();
        assert_eq!(text.chars().count(), MAX_READ_CHARS);
    }

    #[test]
    fn identity_files_are_only_the_top_level_ones() {
        assert!(is_identity_file(Path::new("workspace/SOUL.md")));
        assert!(!is_identity_file(Path::new("workspace/subdir/SOUL.md")));
        assert!(!is_identity_file(Path::new("SOUL.md")));
        assert!(!is_identity_file(Path::new("workspace/notes.md")));
    }

    #[test]
    fn listings_are_sorted_filtered_and_capped() {
        let (_dir, root) = root();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/one.md"), "1").unwrap();
        fs::write(root.join("a/b/two.md"), "22").unwrap();
        fs::write(root.join("a/b/three.txt"), "333").unwrap();
        let names = |entries: Vec<Entry>| entries.into_iter().map(|e| e.path).collect::<Vec<_>>();
        assert_eq!(
            names(list_files(&root, "a", None, false).unwrap()),
            ["a/b", "a/one.md"]
        );
        assert_eq!(
            names(list_files(&root, "a", Some("*.md"), true).unwrap()),
            ["a/b/two.md", "a/one.md"]
        );
        for i in 0..MAX_LIST_ENTRIES + 20 {
            fs::write(root.join(format!("a/f{i:04}")), "").unwrap();
        }
        assert_eq!(
            list_files(&root, "a", None, true).unwrap().len(),
            MAX_LIST_ENTRIES
        );
    }
}
