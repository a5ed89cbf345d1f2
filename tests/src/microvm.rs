//! MicroVMs as the tests see them: whether QEMU, a guest kernel, e2fsprogs and a static
//! busybox are here (`.ci/microvm.sh` installs them), the `runtime:` section that runs
//! agents in microVMs under software emulation (what CI can do everywhere), and the QEMU
//! processes of a mesh.

use std::path::Path;
use std::process::Command;

use crate::bins::binary;
use crate::skip::skip;

/// Where `.ci/microvm.sh` unpacks Debian's kernel (the mesh's default).
pub const KERNEL_DIR: &str = "/usr/local/lib/openlegion/linux";

/// Whether microVMs can run here; skips loudly outside CI, fails in CI.
pub fn microvm_available(test: &str) -> bool {
    let qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let kernel = std::fs::read_dir(Path::new(KERNEL_DIR).join("boot")).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
    });
    let mke2fs = ["/usr/sbin/mke2fs", "/sbin/mke2fs"]
        .iter()
        .any(|p| Path::new(p).is_file());
    let missing: Vec<&str> = [
        (!qemu, "QEMU (qemu-system-x86)"),
        (!kernel, "a guest kernel in /usr/local/lib/openlegion/linux"),
        (!mke2fs, "mke2fs (e2fsprogs)"),
    ]
    .into_iter()
    .filter_map(|(absent, what)| absent.then_some(what))
    .collect();
    if !missing.is_empty() {
        skip(
            test,
            &missing.join(", "),
            "bash -c 'source .ci/run' installs them: see .ci/microvm.sh",
        );
        return false;
    }
    true
}

/// The `runtime:` section of mesh.yaml that runs agents in microVMs under TCG with this
/// build's agent (and, beside it, the guest's init); `extra` lines go under it.
pub fn microvm_runtime(extra: &str) -> String {
    let agent = binary("openlegion-agent", "openlegion-agent");
    let init = binary("openlegion-vmlink", "openlegion-vm-init");
    assert_eq!(
        agent.parent(),
        init.parent(),
        "the guest's init must be built beside the agent binary"
    );
    format!(
        "runtime:\n  isolation: microvm\n  agent_binary: {}\n  microvm:\n    accel: tcg\n{extra}",
        agent.display()
    )
}

/// The QEMU processes running VMs of mesh `instance`: their pids and VM names.
pub fn vm_processes(instance: &str) -> Vec<(i32, String)> {
    let wanted = format!("guest=openlegion-{instance}-");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args
            .first()
            .is_some_and(|a| a.ends_with("qemu-system-x86_64"))
        {
            continue;
        }
        if let Some(name) = args.iter().find_map(|a| a.strip_prefix(&wanted)) {
            let name = name.split(',').next().unwrap_or(name).to_owned();
            found.push((pid, name));
        }
    }
    found
}
