//! The agent's files (the `workspace` interface; needs the `workspace` capability).
//!
//! Paths are relative to the agent's data directory (`/data`; a leading `/data/` is
//! stripped). The host refuses absolute paths, `..` and escaping symlinks with the
//! platform's texts ("Path traversal not allowed: …"); these errors are meant to reach the
//! model unchanged, so tools should pass them on with `?`.

use crate::imports::workspace as host;

pub use crate::bindings::openlegion::skill::workspace::Entry;

/// Reads a text file; `offset` (0-based) and `limit` count lines. At most 500,000
/// characters come back; invalid UTF-8 is replaced.
pub fn read_file(path: &str, offset: Option<u32>, limit: Option<u32>) -> Result<String, String> {
    host::read_file(path, offset, limit)
}

/// Replaces (or creates) a text file, creating parent directories; returns bytes written.
pub fn write_file(path: &str, contents: &str) -> Result<u64, String> {
    host::write_file(path, contents, false)
}

/// Appends to a text file (creating it and its parents); returns bytes written.
pub fn append_file(path: &str, contents: &str) -> Result<u64, String> {
    host::write_file(path, contents, true)
}

/// Lists a directory (`"."` is the data directory), optionally recursively and filtered by
/// a glob on the file name; at most 500 entries.
pub fn list_files(
    path: &str,
    pattern: Option<&str>,
    recursive: bool,
) -> Result<Vec<Entry>, String> {
    host::list_files(path, pattern, recursive)
}
