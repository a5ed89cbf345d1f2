//! The initramfs (newc cpio, uncompressed: decompressing costs more than reading under
//! emulation): a static busybox, the kernel modules the guest needs in load order, and
//! `init.sh`, shared by every VM booting that kernel; and the small per-boot archive
//! appended to it, which carries the [`Handoff`](openlegion_vmlink::Handoff) (the agent's
//! environment and token) into the guest without putting it on QEMU's command line.

use std::io::Write;
use std::path::Path;

/// The script the kernel runs first (`/init`).
const INIT: &str = include_str!("init.sh");
/// The busybox applets `init.sh` uses (linked to `/bin/busybox`).
const APPLETS: &[&str] = &[
    "sh",
    "mount",
    "insmod",
    "grep",
    "uname",
    "reboot",
    "sleep",
    "ip",
    "findfs",
    "mkdir",
    "cp",
    "chmod",
    "switch_root",
];
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
/// QEMU puts the initramfs at the very top of the guest's low memory and the ACPI tables of
/// `-M microvm` on the last page, so an initramfs whose size is not a whole number of pages
/// overwrites the tables by the remainder (QEMU 10.0, PVH boot) and the kernel hangs. The
/// kernel skips the zeros of the padding.
const PAGE: usize = 4096;

/// Writes newc archives.
struct Archive {
    out: Vec<u8>,
    ino: u32,
}

impl Archive {
    fn new() -> Self {
        Self {
            out: Vec::new(),
            ino: 1,
        }
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) -> std::io::Result<()> {
        self.ino += 1;
        let size = u32::try_from(data.len()).map_err(std::io::Error::other)?;
        let mut w = cpio::newc::Builder::new(name)
            .ino(self.ino)
            .mode(mode)
            .nlink(1)
            .write(&mut self.out, size);
        w.write_all(data)?;
        w.finish()?;
        Ok(())
    }

    fn dir(&mut self, name: &str, mode: u32) -> std::io::Result<()> {
        self.entry(name, S_IFDIR | mode, &[])
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> std::io::Result<()> {
        self.entry(name, S_IFREG | mode, data)
    }

    fn finish(mut self) -> std::io::Result<Vec<u8>> {
        cpio::newc::trailer(&mut self.out)?;
        Ok(self.out)
    }
}

/// The shared archive: busybox (static: the initramfs has no libraries), the modules and
/// their load order, and `/init`.
pub(super) fn base(busybox: &Path, modules: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let mut a = Archive::new();
    for dir in ["bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"] {
        a.dir(dir, 0o755)?;
    }
    a.file("bin/busybox", 0o755, &std::fs::read(busybox)?)?;
    for applet in APPLETS {
        a.entry(&format!("bin/{applet}"), S_IFLNK | 0o777, b"busybox")?;
    }
    let mut order = String::new();
    for (name, bytes) in modules {
        a.file(&format!("lib/modules/{name}.ko"), 0o644, bytes)?;
        order.push_str(name);
        order.push('\n');
    }
    a.file("lib/modules/order", 0o644, order.as_bytes())?;
    a.file("init", 0o755, INIT.as_bytes())?;
    a.finish()
}

/// `base` with the per-boot archive (`/openlegion/handoff.json`, 0600) appended, padded to
/// whole pages.
pub(super) fn with_handoff(base: &[u8], handoff: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut a = Archive::new();
    a.dir("openlegion", 0o700)?;
    a.file("openlegion/handoff.json", 0o600, handoff)?;
    let extra = a.finish()?;
    let mut out = Vec::with_capacity(base.len() + extra.len() + PAGE);
    out.extend_from_slice(base);
    // Archives start on a 4-byte boundary (the trailer already pads to one).
    out.extend_from_slice(&extra);
    out.resize(out.len().div_ceil(PAGE) * PAGE, 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(archive: &[u8]) -> Vec<String> {
        let mut names = Vec::new();
        let mut rest = archive;
        loop {
            let reader = cpio::NewcReader::new(rest).unwrap();
            if reader.entry().is_trailer() {
                break;
            }
            names.push(reader.entry().name().to_owned());
            rest = reader.finish().unwrap();
        }
        names
    }

    #[test]
    fn the_boot_archive_is_whole_pages_and_carries_the_handoff() {
        let dir = tempfile::tempdir().unwrap();
        let busybox = dir.path().join("busybox");
        std::fs::write(&busybox, b"\x7fELF").unwrap();
        let base = base(&busybox, &[("virtio".into(), b"ko".to_vec())]).unwrap();
        let listed = names(&base);
        for wanted in [
            "bin/busybox",
            "bin/sh",
            "lib/modules/virtio.ko",
            "lib/modules/order",
            "init",
        ] {
            assert!(listed.iter().any(|n| n == wanted), "{wanted} in {listed:?}");
        }
        let boot = with_handoff(&base, b"{}").unwrap();
        assert_eq!(boot.len() % PAGE, 0);
        assert!(boot.starts_with(&base));
        let appended = &boot[base.len()..];
        assert_eq!(names(appended), ["openlegion", "openlegion/handoff.json"]);
    }
}
