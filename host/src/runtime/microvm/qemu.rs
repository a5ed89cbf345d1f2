//! QEMU's command line for one agent's VM (`-M microvm`: no PCI, no firmware, no network
//! device of any kind), running it so that it dies with the mesh, and finding the QEMUs of
//! an earlier mesh that did not.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};

use openlegion_vmlink::{LINK_PORT, LOG_PORT};

/// The QEMU system emulator for x86-64 guests (Debian `qemu-system-x86`).
pub(crate) const QEMU: &str = "qemu-system-x86_64";

/// How the guest's CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm`.
    Kvm,
    /// QEMU's software emulation: no host support needed, several times slower.
    Tcg,
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "KVM",
            Accel::Tcg => "TCG (software emulation)",
        })
    }
}

/// Where the guest's serial console goes.
#[derive(Debug, Clone)]
pub(super) enum Console {
    File(PathBuf),
    /// QEMU's standard output (the probe reads it).
    Stdout,
}

/// One VM.
#[derive(Debug, Clone)]
pub(super) struct Machine {
    /// `openlegion-INSTANCE-AGENT`: how a later mesh recognises it (see [`leftovers`]).
    pub(super) name: String,
    pub(super) accel: Accel,
    pub(super) memory_mib: u64,
    pub(super) cpus: u32,
    pub(super) vmlinux: PathBuf,
    pub(super) initrd: PathBuf,
    /// The root and data disks (none for the probe, which stops before mounting).
    pub(super) disks: Option<(PathBuf, PathBuf)>,
    /// The Unix socket QEMU connects the link port to, and the file the log port appends to.
    pub(super) ports: Option<(PathBuf, PathBuf)>,
    pub(super) console: Console,
    /// The host's TSC frequency: under emulation the guest's TSC runs at the host's rate,
    /// and calibrating it against the emulated timer fails on a busy host (the boot hangs).
    pub(super) tsc_khz: Option<u64>,
    /// Drop to this user once QEMU has opened its files (when the mesh runs as root).
    pub(super) run_as: Option<(u32, u32)>,
    /// Stop after loading the modules (the KVM probe).
    pub(super) probe: bool,
}

/// A path inside a QEMU option list, where a comma is written twice.
fn opt_path(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

/// The kernel's command line.
fn cmdline(m: &Machine) -> String {
    let mut line = vec![
        "console=ttyS0",
        "quiet",
        "panic=-1",
        "pci=off",
        "8250.nr_uarts=1",
        "rdinit=/init",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    if m.accel == Accel::Tcg {
        line.push(format!("tsc_early_khz={}", m.tsc_khz.unwrap_or(2_000_000)));
        line.extend(["tsc=reliable", "no_timer_check"].map(str::to_owned));
    }
    if m.probe {
        line.push("openlegion.probe".into());
    }
    line.join(" ")
}

/// QEMU's arguments for `m`.
pub(super) fn args(m: &Machine) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| (*s).to_owned()));
    push(&["-name", &format!("guest={},debug-threads=off", m.name)]);
    push(&["-M", "microvm"]);
    match m.accel {
        Accel::Kvm => push(&["-accel", "kvm", "-cpu", "host"]),
        Accel::Tcg => push(&["-accel", "tcg", "-cpu", "max"]),
    }
    push(&["-m", &format!("{}M", m.memory_mib)]);
    push(&["-smp", &m.cpus.to_string()]);
    // Nothing QEMU would add by itself: no NIC, no display, no default serial or monitor.
    push(&[
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-nic",
        "none",
    ]);
    push(&["-no-reboot"]);
    // A seccomp filter on QEMU itself. Dropping to another user is a setuid call, so it
    // stays allowed then (as nobody, there is nothing left to elevate to).
    let elevate = if m.run_as.is_some() { "allow" } else { "deny" };
    push(&[
        "-sandbox",
        &format!("on,obsolete=deny,elevateprivileges={elevate},spawn=deny,resourcecontrol=deny"),
    ]);
    push(&["-kernel", &m.vmlinux.display().to_string()]);
    push(&["-initrd", &m.initrd.display().to_string()]);
    push(&["-append", &cmdline(m)]);
    match &m.console {
        Console::File(path) => push(&["-serial", &format!("file:{}", path.display())]),
        Console::Stdout => push(&["-serial", "stdio"]),
    }
    if let Some((root, data)) = &m.disks {
        push(&[
            "-drive",
            &format!(
                "id=root,file={},format=raw,if=none,readonly=on",
                opt_path(root)
            ),
            "-device",
            "virtio-blk-device,drive=root",
            "-drive",
            &format!(
                "id=data,file={},format=raw,if=none,discard=unmap",
                opt_path(data)
            ),
            "-device",
            "virtio-blk-device,drive=data",
        ]);
    }
    if let Some((link, log)) = &m.ports {
        push(&[
            "-device",
            "virtio-serial-device",
            "-chardev",
            &format!("socket,id=link,path={}", opt_path(link)),
            "-device",
            &format!("virtserialport,chardev=link,name={LINK_PORT}"),
            "-chardev",
            &format!("file,id=log,path={},append=on", opt_path(log)),
            "-device",
            &format!("virtserialport,chardev=log,name={LOG_PORT}"),
        ]);
    }
    push(&["-device", "virtio-rng-device"]);
    if let Some((uid, gid)) = m.run_as {
        push(&["-run-with", &format!("user={uid}:{gid}")]);
    }
    a
}

/// `setpriv` (util-linux), which makes QEMU get SIGKILL when the mesh dies however it dies.
fn setpriv() -> Option<PathBuf> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// The command that runs `qemu` with `args`, in its own process group, killed with the
/// mesh (through `setpriv --pdeathsig` where there is one; else a later mesh finds it as a
/// [`leftover`](leftovers)).
pub(super) fn command(qemu: &Path, args: &[String]) -> tokio::process::Command {
    let mut cmd = match setpriv() {
        Some(setpriv) => {
            let mut c = tokio::process::Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(qemu);
            c
        }
        None => tokio::process::Command::new(qemu),
    };
    cmd.args(args)
        .env_clear()
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    cmd
}

/// The QEMU binary on `PATH`.
pub(crate) fn find_qemu() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(QEMU))
        .find(|p| p.is_file())
}

/// `QEMU emulator version 10.0.2 (…)` → `10.0.2`.
pub(crate) async fn version(qemu: &Path) -> Result<String, String> {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::process::Command::new(qemu)
            .arg("--version")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| format!("{} --version did not answer", qemu.display()))?
    .map_err(|e| format!("cannot run {}: {e}", qemu.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(3))
        .map(str::to_owned)
        .ok_or_else(|| format!("{} --version said {text:?}", qemu.display()))
}

/// QEMUs running VMs whose name starts with `prefix` (`openlegion-INSTANCE-`): their pids
/// and VM names. Found by their command line, so it works for those of a mesh that crashed.
pub(super) fn leftovers(prefix: &str) -> Vec<(i32, String)> {
    let wanted = format!("guest={prefix}");
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
        if !args.first().is_some_and(|a| a.ends_with(QEMU)) {
            continue;
        }
        let name = args
            .windows(2)
            .find(|w| w[0] == "-name" && w[1].starts_with(&wanted))
            .and_then(|w| w[1].strip_prefix("guest="))
            .map(|n| n.split(',').next().unwrap_or(n).to_owned());
        if let Some(name) = name {
            found.push((pid, name));
        }
    }
    found
}

/// The host's TSC frequency in kHz, from `/proc/cpuinfo` (`cpu MHz`, which is the TSC's
/// rate where the TSC is constant).
pub(super) fn host_tsc_khz() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let constant = info
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "constant_tsc"));
    let mhz: f64 = info
        .lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split(':')
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    (constant && mhz > 100.0).then_some((mhz * 1000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(accel: Accel) -> Machine {
        Machine {
            name: "openlegion-abcd-alpha".into(),
            accel,
            memory_mib: 256,
            cpus: 1,
            vmlinux: "/cache/vmlinux".into(),
            initrd: "/run/a/boot.cpio".into(),
            disks: Some(("/cache/root.ext4".into(), "/data/a,b.ext4".into())),
            ports: Some(("/run/a/link.sock".into(), "/run/a/agent.log".into())),
            console: Console::File("/run/a/console.log".into()),
            tsc_khz: Some(2_600_000),
            run_as: None,
            probe: false,
        }
    }

    fn after<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn the_vm_has_no_network_device_and_nothing_by_default() {
        let args = args(&machine(Accel::Tcg));
        assert_eq!(after(&args, "-nic"), ["none"]);
        assert!(args.iter().any(|a| a == "-nodefaults"));
        assert!(args.iter().any(|a| a == "-no-reboot"));
        let devices = after(&args, "-device").join(" ");
        assert!(!devices.contains("net"), "{devices}");
        assert_eq!(after(&args, "-m"), ["256M"]);
        assert_eq!(after(&args, "-smp"), ["1"]);
        assert_eq!(
            after(&args, "-name"),
            ["guest=openlegion-abcd-alpha,debug-threads=off"]
        );
        // A comma in a path is doubled inside an option list.
        assert!(after(&args, "-drive")[1].contains("file=/data/a,,b.ext4"));
        assert!(after(&args, "-drive")[0].contains("readonly=on"));
    }

    #[test]
    fn emulation_gets_the_host_tsc_and_kvm_the_host_cpu() {
        let tcg = args(&machine(Accel::Tcg));
        assert_eq!(after(&tcg, "-accel"), ["tcg"]);
        assert!(after(&tcg, "-append")[0].contains("tsc_early_khz=2600000"));
        let kvm = args(&machine(Accel::Kvm));
        assert_eq!(after(&kvm, "-accel"), ["kvm"]);
        assert_eq!(after(&kvm, "-cpu"), ["host"]);
        assert!(!after(&kvm, "-append")[0].contains("tsc"));
    }
}
