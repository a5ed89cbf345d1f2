//! Writing a workspace file whole or not at all: the new contents go to a temporary file
//! beside the target (`.<name>.partial-XXXXXX`), are flushed to disk, and the temporary file
//! is renamed over the target. A crash (SIGKILL, power loss) or a full disk at any moment
//! leaves the old contents or the new under the file's name, never part of them, and a
//! reader never sees a half-written file. An append copies the current contents into the
//! temporary file first (a kernel-side copy), so it costs a copy of the file.
//!
//! A crash can leave a temporary file behind; its name marks it ([`is_partial_write`]), so
//! listings for the mesh skip it and it is never mistaken for the file.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// What every temporary file's name holds after its target's name.
const PARTIAL: &str = ".partial-";

/// Whether `name` (a file name) is a temporary file of a write still running or cut off by
/// a crash.
pub fn is_partial_write(name: &str) -> bool {
    name.starts_with('.') && name.contains(PARTIAL)
}

/// Replaces `real` with `contents`, after its current contents when `append`. A new file
/// gets mode 0644 (what `open` gives under the usual umask), a replaced one keeps its mode.
pub(super) fn replace(real: &Path, contents: &[u8], append: bool) -> io::Result<()> {
    let dir = real.parent().unwrap_or(Path::new("."));
    let name = real
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}{PARTIAL}"))
        .tempfile_in(dir)?;
    let mode = match fs::metadata(real) {
        Ok(meta) => {
            if append {
                io::copy(&mut File::open(real)?, tmp.as_file_mut())?;
            }
            meta.permissions().mode()
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0o644,
        Err(e) => return Err(e),
    };
    tmp.write_all(contents)?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(real).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_appends_keeps_the_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.md");
        replace(&path, b"one\n", false).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        replace(&path, b"two\n", true).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        replace(&path, b"three\n", false).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "three\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn partial_names_are_recognised() {
        assert!(is_partial_write(".notes.md.partial-a1B2c3"));
        assert!(!is_partial_write("notes.md"));
        assert!(!is_partial_write("notes.partial-x"));
    }
}
