//! A small file system a test can fill up: a size-limited tmpfs mounted on a directory, so
//! that a mesh's state directory or an agent's data directory runs out of space (ENOSPC)
//! while the rest of the machine does not. Mounting needs root (CAP_SYS_ADMIN), which the
//! tests have in CI; elsewhere the caller skips through [`crate::skip`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted at a directory; unmounted when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    mount: PathBuf,
}

/// The file [`SmallDisk::fill`] writes.
const FILLER: &str = ".test-filler";

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB at `dir` (created if missing). `Err` says why it could
    /// not be mounted (not root, say).
    pub fn mount(dir: &Path, mib: u64) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self {
            mount: dir.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.mount
    }

    /// Fills every free byte with a file of its own (written until the file system says
    /// ENOSPC); returns how many bytes it took.
    pub fn fill(&self) -> u64 {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.mount.join(FILLER))
            .expect("create the filler");
        let mut written = 0;
        for chunk in [1 << 20, 4096, 1] {
            let block = vec![0x5a_u8; chunk];
            loop {
                match file.write(&block) {
                    Ok(0) => break,
                    Ok(n) => written += n as u64,
                    Err(e) if e.raw_os_error() == Some(28) => break,
                    Err(e) => panic!("filling {}: {e}", self.mount.display()),
                }
            }
        }
        written
    }

    /// Frees what [`fill`](Self::fill) took.
    pub fn free(&self) {
        std::fs::remove_file(self.mount.join(FILLER)).expect("remove the filler");
    }

    /// Free bytes now.
    pub fn available(&self) -> u64 {
        let stat = nix::sys::statvfs::statvfs(&self.mount).expect("statvfs");
        stat.blocks_available() * stat.fragment_size()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a process of the test may still hold a file open as it is killed.
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}
