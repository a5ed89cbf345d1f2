//! The agent's built-in skills compiled inside a VM, for the root disk to carry.
//!
//! Compiled code is only reused by an engine that sees the same CPU features. Under
//! emulation the guest's CPU is QEMU's model, not the host's (no AVX-512, say), so code
//! compiled on the host (what container images carry) is refused and every agent would
//! compile its skills at boot — about a minute of emulated Cranelift. Instead the root disk
//! is booted once, in a VM like the agents' but told to run `openlegion-agent precompile`
//! onto a scratch disk; the files are read back with `debugfs` and put on the final root
//! disk.

use std::path::Path;
use std::time::Duration;

use super::disks;
use super::qemu::{self, Accel, Console, Machine};
use super::{Boot, initramfs};
use crate::runtime::docker::image::Owner;

/// Compiling three skills under emulation on a busy machine.
const DEADLINE: Duration = Duration::from_secs(900);
/// The scratch disk the compiled files are written to.
const SCRATCH: u64 = 256 << 20;

/// The compiled skills, by file name, as the agent's `precompile` wrote them inside a VM
/// booted from `root_disk` with `accel`. `work` is an empty scratch directory.
pub(super) async fn compile(
    qemu_bin: &Path,
    accel: Accel,
    boot: &Boot,
    tsc_khz: Option<u64>,
    root_disk: &Path,
    work: &Path,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let data = work.join("scratch.ext4");
    {
        let data = data.clone();
        tokio::task::spawn_blocking(move || {
            disks::data_disk(&data, SCRATCH, Owner { uid: 0, gid: 0 })
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    }
    let handoff = openlegion_vmlink::Handoff {
        agent: "openlegion-seeds".into(),
        env: Vec::new(),
        uid: 0,
        gid: 0,
        project_brief: None,
        precompile: true,
    };
    let json = serde_json::to_vec(&handoff).map_err(|e| e.to_string())?;
    let initrd = work.join("boot.cpio");
    let archive = initramfs::with_handoff(&boot.initramfs, &json).map_err(|e| e.to_string())?;
    std::fs::write(&initrd, archive).map_err(|e| e.to_string())?;
    let console = work.join("console.log");
    let machine = Machine {
        name: format!("openlegion-seeds-{}", std::process::id()),
        accel,
        memory_mib: 1024,
        // Cranelift compiles functions in parallel; emulated CPUs run on host threads.
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get().min(4) as u32),
        vmlinux: boot.vmlinux.clone(),
        initrd,
        disks: Some((root_disk.to_owned(), data.clone())),
        ports: None,
        console: Console::File(console.clone()),
        tsc_khz,
        run_as: nix::unistd::geteuid().is_root().then_some((65534, 65534)),
        probe: false,
    };
    let mut child = qemu::command(qemu_bin, &qemu::args(&machine))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", qemu_bin.display()))?;
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .map_err(|_| {
            format!(
                "the VM compiling the skills took over {}s",
                DEADLINE.as_secs()
            )
        })?
        .map_err(|e| e.to_string())?;
    let said = super::tail(&console);
    if !status.success() && !said.contains("compiled into") {
        return Err(format!(
            "the VM compiling the skills failed ({status}): {said}"
        ));
    }
    let out = work.join("out");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let debugfs = disks::mke2fs_binary()
        .map(|m| m.with_file_name("debugfs"))
        .filter(|d| d.is_file())
        .ok_or("debugfs (e2fsprogs) is not installed")?;
    let request = format!("rdump /seeds {}", out.display());
    let dumped = tokio::process::Command::new(&debugfs)
        .args(["-R", &request])
        .arg(&data)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", debugfs.display()))?;
    if !dumped.status.success() {
        return Err(format!(
            "debugfs could not read the compiled skills: {}",
            String::from_utf8_lossy(&dumped.stderr).trim()
        ));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(out.join("seeds")).map_err(|e| format!("{e}: {said}"))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".cwasm") {
            files.push((
                name,
                std::fs::read(entry.path()).map_err(|e| e.to_string())?,
            ));
        }
    }
    if files.is_empty() {
        return Err(format!("the VM compiled no skills: {said}"));
    }
    files.sort();
    Ok(files)
}
