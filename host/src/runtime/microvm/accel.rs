//! Whether `/dev/kvm` really runs a guest. A `/dev/kvm` that opens is not enough: a nested
//! "PVM" KVM (kvm-pvm, as on some cloud VMs) creates VMs but runs only kernels built for it,
//! so an ordinary kernel crawls and then dies. The probe boots the agents' own kernel and
//! initramfs under KVM as far as loading the modules, once per machine boot, QEMU and kernel:
//! the answer is kept in the cache directory.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::qemu::{self, Accel, Console, Machine};

/// A guest that boots under KVM reaches the modules in well under a second; under a nested
/// KVM that cannot run it, it has not after a minute.
const PROBE_DEADLINE: Duration = Duration::from_secs(20);
/// What `init.sh` prints when the probe boot got through.
const BOOTED: &str = "openlegion-probe: booted";

/// What a probe found out, as kept in the cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Verdict {
    kvm: bool,
    why: String,
}

/// `/dev/kvm` exists and this user may open it for reading and writing.
fn device() -> Result<(), String> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(
            "there is no /dev/kvm (no hardware virtualisation, or its kernel module is not loaded)"
                .into(),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err("/dev/kvm is not open to this user (add it to the kvm group)".into())
        }
        Err(e) => Err(format!("/dev/kvm: {e}")),
    }
}

/// The cache key: what could change the answer.
fn key(qemu_version: &str, kernel_version: &str) -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let mut h = sha2::Sha256::new();
    h.update(format!("{}/{qemu_version}/{kernel_version}", boot.trim()));
    hex::encode(&h.finalize()[..8])
}

/// Boots the probe under KVM: `Ok` if the guest got through, else why not.
async fn boot(qemu_bin: &Path, vmlinux: &Path, initramfs: &Path) -> Result<(), String> {
    let machine = Machine {
        name: format!("openlegion-probe-{}", std::process::id()),
        accel: Accel::Kvm,
        memory_mib: 256,
        cpus: 1,
        vmlinux: vmlinux.to_owned(),
        initrd: initramfs.to_owned(),
        disks: None,
        ports: None,
        console: Console::Stdout,
        tsc_khz: None,
        run_as: None,
        probe: true,
    };
    let child = qemu::command(qemu_bin, &qemu::args(&machine))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", qemu_bin.display()))?;
    match tokio::time::timeout(PROBE_DEADLINE, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let console = String::from_utf8_lossy(&out.stdout);
            if console.contains(BOOTED) {
                return Ok(());
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .chain(console.lines())
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("no output");
            Err(format!(
                "a guest under KVM did not boot ({}): {last}",
                out.status
            ))
        }
        Ok(Err(e)) => Err(format!("running QEMU: {e}")),
        // Dropping the child kills it (kill_on_drop).
        Err(_) => Err(format!(
            "a guest under KVM did not boot within {}s (a nested KVM that runs only kernels \
             built for it, such as kvm-pvm, does this)",
            PROBE_DEADLINE.as_secs()
        )),
    }
}

/// Whether KVM runs this kernel here: `Ok` with how it was known, or `Err` with why not.
/// The boot happens once per machine boot, QEMU and kernel; the verdict is kept in `cache`.
pub(super) async fn kvm(
    cache: &Path,
    qemu_bin: &Path,
    qemu_version: &str,
    kernel_version: &str,
    vmlinux: &Path,
    initramfs: &Path,
) -> Result<String, String> {
    device()?;
    let file = cache.join(format!(
        "kvm-probe-{}.json",
        key(qemu_version, kernel_version)
    ));
    if let Some(verdict) = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Verdict>(&b).ok())
    {
        return if verdict.kvm {
            Ok(verdict.why)
        } else {
            Err(verdict.why)
        };
    }
    let verdict = match boot(qemu_bin, vmlinux, initramfs).await {
        Ok(()) => Verdict {
            kvm: true,
            why: format!("/dev/kvm booted kernel {kernel_version}"),
        },
        Err(why) => Verdict { kvm: false, why },
    };
    if let Ok(bytes) = serde_json::to_vec(&verdict) {
        let _ = crate::atomic_file::write(&file, &bytes);
    }
    if verdict.kvm {
        Ok(verdict.why)
    } else {
        Err(verdict.why)
    }
}
