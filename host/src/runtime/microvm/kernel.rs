//! The guest kernel: Debian's `linux-image` package, installed or only unpacked
//! (`dpkg-deb -x`) into a directory, as `boot/vmlinuz-VERSION` beside
//! `lib/modules/VERSION/`. QEMU boots the PVH entry point of the uncompressed ELF kernel
//! directly (skipping real-mode setup and the kernel's own decompression, about half the
//! boot under emulation), so the ELF is taken out of the bzImage once and cached.
//!
//! Debian builds virtio, ext4 and their helpers as modules: [`modules`] finds the ones the
//! guest needs, with what they depend on, in the order `insmod` must load them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::MicrovmError;

/// What the guest's init loads: the virtio-mmio transport (microvm has no PCI), block
/// devices (root and data disks), the serial ports (the link and the log), the entropy
/// device, ext4, and the CRC32C implementation ext4 asks the crypto API for at mount time
/// (no modprobe in the guest to load it on demand).
pub(super) const WANTED: &[&str] = &[
    "virtio_mmio",
    "virtio_blk",
    "virtio_console",
    "virtio_rng",
    "crc32c_generic",
    "ext4",
];

/// Kernel options the guest cannot work without (`y`, or `m` for the modules above).
const REQUIRED_CONFIG: &[&str] = &["CONFIG_PVH=y", "CONFIG_ACPI=y", "CONFIG_DEVTMPFS=y"];

/// A kernel found in a `linux-image` tree.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    /// `6.1.0-57-amd64`.
    pub(crate) version: String,
    pub(crate) bzimage: PathBuf,
    pub(crate) modules_dir: PathBuf,
}

fn missing(root: &Path, problem: impl std::fmt::Display) -> MicrovmError {
    MicrovmError::Kernel {
        root: root.to_owned(),
        problem: problem.to_string(),
    }
}

/// The newest kernel under `root` that has its modules beside it.
pub(crate) fn find(root: &Path) -> Result<Kernel, MicrovmError> {
    let boot = root.join("boot");
    let entries =
        std::fs::read_dir(&boot).map_err(|e| missing(root, format!("{}: {e}", boot.display())))?;
    let mut found: Vec<Kernel> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix("vmlinuz-")?.to_owned();
            let modules_dir = ["lib/modules", "usr/lib/modules"]
                .iter()
                .map(|m| root.join(m).join(&version))
                .find(|d| d.join("kernel").is_dir())?;
            Some(Kernel {
                version,
                bzimage: e.path(),
                modules_dir,
            })
        })
        .collect();
    found.sort_by_key(|k| version_key(&k.version));
    let kernel = found.pop().ok_or_else(|| {
        missing(
            root,
            "no boot/vmlinuz-VERSION with lib/modules/VERSION beside it",
        )
    })?;
    if let Ok(config) =
        std::fs::read_to_string(root.join("boot").join(format!("config-{}", kernel.version)))
    {
        for option in REQUIRED_CONFIG {
            if !config.lines().any(|l| l == *option) {
                return Err(missing(
                    root,
                    format!("kernel {} is built without {option}", kernel.version),
                ));
            }
        }
    }
    Ok(kernel)
}

/// `6.1.0-57-amd64` → `[6, 1, 0, 57]`, so that -57 sorts above -9.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The uncompressed ELF inside a bzImage, found through its setup header
/// (Documentation/arch/x86/boot.rst: `payload_offset`/`payload_length`) and decompressed.
/// Debian compresses with xz; any other compression is reported.
pub(crate) fn vmlinux(bzimage: &[u8]) -> Result<Vec<u8>, String> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            bzimage.get(at..at + 4)?.try_into().ok()?,
        ))
    };
    if bzimage.get(0x202..0x206) != Some(b"HdrS") {
        return Err("not a bzImage (no HdrS setup header)".into());
    }
    let setup_sects = match bzimage[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let (offset, length) = u32_at(0x248)
        .zip(u32_at(0x24c))
        .ok_or("truncated setup header")?;
    let start = (setup_sects + 1) * 512 + offset as usize;
    let payload = bzimage
        .get(start..start + length as usize)
        .ok_or("the payload lies outside the file")?;
    if !payload.starts_with(b"\xfd7zXZ\0") {
        return Err(
            "the kernel is not xz-compressed (Debian's are); unpack it to an ELF vmlinux yourself"
                .into(),
        );
    }
    let mut out = Vec::with_capacity(payload.len() * 8);
    lzma_rust2::XzReader::new(payload, false)
        .read_to_end(&mut out)
        .map_err(|e| format!("decompressing the kernel: {e}"))?;
    if !out.starts_with(b"\x7fELF") {
        return Err("the decompressed kernel is not an ELF file".into());
    }
    Ok(out)
}

/// A kernel module's file, by module name (`virtio-rng.ko` is module `virtio_rng`).
fn index(modules_dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![modules_dir.join("kernel")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name
                .strip_suffix(".ko")
                .or_else(|| name.strip_suffix(".ko.xz"))
            {
                out.insert(stem.replace('-', "_"), path);
            }
        }
    }
    out
}

/// The names after `depends=` in a module's `.modinfo` (NUL-separated `key=value`
/// strings; the key does not occur anywhere else in a module).
fn depends(module: &[u8]) -> Vec<String> {
    let key = b"\0depends=";
    let Some(at) = module.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let rest = &module[at + key.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| d.replace('-', "_"))
        .collect()
}

/// A module's contents, decompressed if it is `.ko.xz`.
fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "xz") {
        let mut out = Vec::new();
        lzma_rust2::XzReader::new(bytes.as_slice(), false)
            .read_to_end(&mut out)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(out);
    }
    Ok(bytes)
}

/// The modules the guest loads, each after what it depends on: `(name, contents)`.
/// Modules built into the kernel (`modules.builtin`) are skipped.
pub(crate) fn modules(kernel: &Kernel) -> Result<Vec<(String, Vec<u8>)>, String> {
    let files = index(&kernel.modules_dir);
    let builtin: BTreeSet<String> =
        std::fs::read_to_string(kernel.modules_dir.join("modules.builtin"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| Path::new(l).file_name())
            .map(|f| {
                f.to_string_lossy()
                    .trim_end_matches(".ko")
                    .replace('-', "_")
            })
            .collect();
    let mut ordered: Vec<(String, Vec<u8>)> = Vec::new();
    let mut done = BTreeSet::new();
    // Depth-first, dependencies first; `visiting` catches a cycle instead of looping.
    fn visit(
        name: &str,
        files: &BTreeMap<String, PathBuf>,
        builtin: &BTreeSet<String>,
        done: &mut BTreeSet<String>,
        visiting: &mut Vec<String>,
        ordered: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<(), String> {
        if done.contains(name) || builtin.contains(name) {
            return Ok(());
        }
        if visiting.iter().any(|v| v == name) {
            return Err(format!(
                "modules depend on each other in a circle: {visiting:?}"
            ));
        }
        let path = files.get(name).ok_or_else(|| {
            format!("module {name} is neither in the kernel nor in its modules directory")
        })?;
        let bytes = read_module(path)?;
        visiting.push(name.to_owned());
        for dep in depends(&bytes) {
            visit(&dep, files, builtin, done, visiting, ordered)?;
        }
        visiting.pop();
        done.insert(name.to_owned());
        ordered.push((name.to_owned(), bytes));
        Ok(())
    }
    for name in WANTED {
        visit(
            name,
            &files,
            &builtin,
            &mut done,
            &mut Vec::new(),
            &mut ordered,
        )?;
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_their_numbers() {
        let mut v = vec!["6.1.0-9-amd64", "6.1.0-57-amd64", "5.10.0-30-amd64"];
        v.sort_by_key(|v| version_key(v));
        assert_eq!(v, ["5.10.0-30-amd64", "6.1.0-9-amd64", "6.1.0-57-amd64"]);
    }

    #[test]
    fn dependencies_are_read_from_modinfo() {
        let module = b"\x7fELF...\0license=GPL\0depends=jbd2,mbcache,crc16\0name=ext4\0";
        assert_eq!(depends(module), ["jbd2", "mbcache", "crc16"]);
        assert!(depends(b"\0depends=\0name=virtio_ring\0").is_empty());
        assert!(depends(b"no modinfo here").is_empty());
    }

    #[test]
    fn a_file_that_is_no_bzimage_is_refused() {
        assert!(vmlinux(&[0u8; 1024]).unwrap_err().contains("not a bzImage"));
    }
}
