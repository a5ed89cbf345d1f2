//! The state directory (`.openlegion/` beside `config/` by default): what lives there and
//! how it is written.
//!
//! | file | what |
//! |---|---|
//! | `mesh.db` (+ `-wal`, `-shm`) | the SQLite database |
//! | `mesh.lock` | held locked by the running mesh; free means no mesh runs here |
//! | `mesh.pid` | the running mesh's pid |
//! | `mesh.addr` | the URL the running mesh listens on (the port may be ephemeral) |
//! | `operator.token` | the operator's bearer token for this run, mode 0600 |
//! | `mesh.log` | the log of a mesh started with `start -d` |

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates the directory (mode 0700: it holds tokens) if needed.
    pub fn create(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.root)?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db(&self) -> PathBuf {
        self.root.join("mesh.db")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join("mesh.lock")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.root.join("mesh.pid")
    }

    pub fn addr_file(&self) -> PathBuf {
        self.root.join("mesh.addr")
    }

    pub fn operator_token_file(&self) -> PathBuf {
        self.root.join("operator.token")
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("mesh.log")
    }

    /// Takes the instance lock, held until the returned file is dropped (or the process
    /// ends, however it ends). `Ok(None)` means another mesh holds it.
    pub fn lock(&self) -> io::Result<Option<File>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_file())?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Whether a mesh is running on this state directory (someone holds the lock).
    pub fn is_locked(&self) -> bool {
        if !self.lock_file().exists() {
            return false;
        }
        matches!(self.lock(), Ok(None))
    }

    /// Writes `contents` to `path` atomically with mode 0600.
    pub fn write_private(path: &Path, contents: &str) -> io::Result<()> {
        crate::atomic_file::write(path, contents.as_bytes())
    }

    pub fn read_trimmed(path: &Path) -> io::Result<String> {
        Ok(std::fs::read_to_string(path)?.trim().to_owned())
    }
}
