//! The disks of an agent's VM, both ext4 made by `mke2fs` (e2fsprogs): the root, read-only
//! and shared by every VM of one agent binary (the minimal image's files, so a microVM
//! agent runs exactly what a container agent runs), and the agent's own data disk, made
//! once, kept across restarts and mesh restarts, deleted only by a purge.

use std::path::{Path, PathBuf};

use super::MicrovmError;
use crate::runtime::docker::image::Owner;
use crate::runtime::docker::image::tarball::Tarball;

/// Filesystem labels the guest's init mounts by.
pub(super) const ROOT_LABEL: &str = "openlegion-root";
pub(super) const DATA_LABEL: &str = "openlegion-data";

fn disk_err(path: &Path, problem: impl std::fmt::Display) -> MicrovmError {
    MicrovmError::Disk {
        path: path.to_owned(),
        problem: problem.to_string(),
    }
}

/// `mke2fs`: on `PATH`, or in the sbin directories a user's `PATH` often lacks.
pub(crate) fn mke2fs_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("mke2fs"))
        .find(|p| p.is_file())
}

fn mke2fs(args: &[&std::ffi::OsStr], target: &Path) -> Result<(), MicrovmError> {
    let binary = mke2fs_binary().ok_or_else(|| {
        disk_err(
            target,
            "mke2fs is not installed (apt-get install e2fsprogs)",
        )
    })?;
    let out = std::process::Command::new(&binary)
        .args(args)
        .env("E2FSPROGS_FAKE_TIME", "0")
        .output()
        .map_err(|e| disk_err(target, format!("cannot run {}: {e}", binary.display())))?;
    if !out.status.success() {
        return Err(disk_err(
            target,
            format!(
                "mke2fs failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

/// Bytes used by the files under `dir`.
fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len().max(4096),
                Err(_) => {}
            }
        }
    }
    total
}

/// Makes the root disk `out` from `rootfs` (built beside it, then renamed into place, so a
/// mesh starting meanwhile never boots half a disk). Blocking: call it off the runtime.
pub(super) fn root_disk(rootfs: &Tarball, out: &Path) -> Result<(), MicrovmError> {
    let parent = out.parent().unwrap_or(Path::new("."));
    let staging = tempfile::Builder::new()
        .prefix(".rootfs-")
        .tempdir_in(parent)
        .map_err(|e| disk_err(out, e))?;
    let tree = staging.path().join("tree");
    let tar = rootfs.build().map_err(|e| disk_err(out, e))?;
    let mut archive = tar::Archive::new(tar.as_slice());
    archive.set_preserve_permissions(true);
    archive.unpack(&tree).map_err(|e| disk_err(out, e))?;
    // Room for the filesystem's own structures on top of the files.
    let size = tree_size(&tree) * 5 / 4 + (32 << 20);
    let image = staging.path().join("root.ext4");
    let size_arg = format!("{}k", size / 1024);
    mke2fs(
        &[
            "-q".as_ref(),
            "-F".as_ref(),
            "-t".as_ref(),
            "ext4".as_ref(),
            // Never written: no journal, no reserved blocks.
            "-O".as_ref(),
            "^has_journal".as_ref(),
            "-m".as_ref(),
            "0".as_ref(),
            "-L".as_ref(),
            ROOT_LABEL.as_ref(),
            "-E".as_ref(),
            "root_owner=0:0".as_ref(),
            "-d".as_ref(),
            tree.as_os_str(),
            image.as_os_str(),
            size_arg.as_ref(),
        ],
        out,
    )?;
    std::fs::rename(&image, out).map_err(|e| disk_err(out, e))?;
    Ok(())
}

/// Makes the agent's data disk at `path` (sparse, `size` bytes, its root owned by the
/// agent's user) unless it exists. Blocking: call it off the runtime.
pub(super) fn data_disk(path: &Path, size: u64, owner: Owner) -> Result<(), MicrovmError> {
    if path.exists() {
        return Ok(());
    }
    let staging = path.with_extension("new");
    let file = std::fs::File::create(&staging).map_err(|e| disk_err(path, e))?;
    file.set_len(size).map_err(|e| disk_err(path, e))?;
    drop(file);
    let owner_arg = format!("root_owner={}:{}", owner.uid, owner.gid);
    let made = mke2fs(
        &[
            "-q".as_ref(),
            "-F".as_ref(),
            "-t".as_ref(),
            "ext4".as_ref(),
            "-m".as_ref(),
            "0".as_ref(),
            "-L".as_ref(),
            DATA_LABEL.as_ref(),
            "-E".as_ref(),
            owner_arg.as_ref(),
            staging.as_os_str(),
        ],
        path,
    );
    if let Err(e) = made {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    std::fs::rename(&staging, path).map_err(|e| disk_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::docker::image::tarball::Source;

    /// Reads a file's metadata out of an ext4 image with `debugfs` (e2fsprogs).
    fn debugfs(image: &Path, request: &str) -> String {
        let binary = mke2fs_binary().unwrap().with_file_name("debugfs");
        let out = std::process::Command::new(binary)
            .args(["-R", request])
            .arg(image)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn disks_are_ext4_with_their_labels_and_owners() {
        let dir = tempfile::tempdir().unwrap();
        let mut rootfs = Tarball::default();
        rootfs.file("/bin/hello", Source::Text("#!/bin/sh\n".into()), 0o755);
        rootfs.dirs.push(("/data".into(), 1000, 1000, 0o755));
        let root = dir.path().join("root.ext4");
        root_disk(&rootfs, &root).unwrap();
        assert!(debugfs(&root, "ls -l /bin").contains("hello"));
        let data = dir.path().join("data.ext4");
        data_disk(
            &data,
            64 << 20,
            Owner {
                uid: 1000,
                gid: 1001,
            },
        )
        .unwrap();
        assert_eq!(std::fs::metadata(&data).unwrap().len(), 64 << 20);
        let stat = debugfs(&data, "stat /");
        assert!(
            stat.contains("User:  1000") && stat.contains("Group:  1001"),
            "{stat}"
        );
        // Kept as it is once made.
        let before = std::fs::metadata(&data).unwrap().modified().unwrap();
        data_disk(&data, 128 << 20, Owner { uid: 1, gid: 1 }).unwrap();
        assert_eq!(
            std::fs::metadata(&data).unwrap().modified().unwrap(),
            before
        );
    }
}
