//! The microVM backend: each agent in its own QEMU `-M microvm` virtual machine, under its
//! own Linux kernel, so that a kernel exploit in one agent does not reach the host.
//!
//! The guest is Debian's kernel (booted at its PVH entry), an initramfs with busybox and
//! the virtio modules ([`initramfs`]), a read-only root disk holding what the minimal
//! container image holds ([`disks`]), and the agent's own data disk at `/data`, kept across
//! restarts. It has no network device at all: the agent's `mesh.sock` and `agent.sock` are
//! carried over one virtio-serial port by [`openlegion_vmlink`], so the mesh talks to
//! `agent.sock` in the agent's socket directory exactly as it does for a container.
//!
//! KVM is used where `/dev/kvm` really boots a guest ([`accel`]); elsewhere QEMU emulates
//! the CPU (TCG), which works anywhere and costs seconds of boot and a few hundred MB per
//! agent. QEMU gets SIGKILL when the mesh dies, its VMs are named after the mesh instance,
//! and a new start kills any an earlier mesh left.

mod accel;
mod disks;
mod initramfs;
mod kernel;
mod qemu;
mod seeds;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

use super::docker::Progress;
use super::docker::image::{Owner, minimal, seed, tarball};
use super::{AgentSpec, Inside, RuntimeBackend, RuntimeError};
use crate::config::{AgentImage, MicrovmAccel, MicrovmSection, parse_memory_limit};

pub use qemu::Accel;

/// Where the kernel is looked for when `runtime.microvm.kernel` is unset.
const KERNEL_DIRS: &[&str] = &["/usr/local/lib/openlegion/linux", "/"];
/// The guest's process 1, beside the agent binary.
const VM_INIT: &str = "openlegion-vm-init";
/// Defaults when agents.yaml sets no resources (those of the container backends).
const DEFAULT_MEMORY: u64 = 512 << 20;
const DEFAULT_DISK: u64 = 2 << 30;
/// How long QEMU may take to connect the link port (it does so before the guest starts).
const CONNECT: Duration = Duration::from_secs(30);
/// After the link closes, how long the guest gets to stop its agent, unmount `/data` and
/// power off before QEMU is killed: the agent's own grace (5 s) and some under KVM; under
/// emulation (several times slower, more so on a busy host) three times that.
const POWER_OFF: Duration = Duration::from_secs(15);
const POWER_OFF_TCG: Duration = Duration::from_secs(45);

/// [`POWER_OFF`] for a VM under `accel`.
fn power_off(accel: Accel) -> Duration {
    match accel {
        Accel::Kvm => POWER_OFF,
        Accel::Tcg => POWER_OFF_TCG,
    }
}
/// The user agents run as inside the guest.
const AGENT_USER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

/// Why the microVM backend cannot run agents here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MicrovmError {
    #[error(
        "QEMU ({}) is not installed: apt-get install qemu-system-x86 (on Debian bookworm \
         from bookworm-backports beside a backported qemu-utils)",
        qemu::QEMU
    )]
    NoQemu,
    #[error("no usable guest kernel in {}: {problem} (unpack Debian's linux-image package there: apt-get download linux-image-amd64's linux-image-VERSION-amd64, then dpkg-deb -x it into that directory; or set runtime.microvm.kernel)", root.display())]
    Kernel { root: PathBuf, problem: String },
    #[error("{}: {problem}", path.display())]
    Disk { path: PathBuf, problem: String },
    #[error("KVM was asked for (runtime.microvm.accel: kvm) but cannot be used: {0}")]
    NoKvm(String),
    #[error("{0}")]
    Other(String),
}

impl From<MicrovmError> for RuntimeError {
    fn from(e: MicrovmError) -> Self {
        RuntimeError::Engine(e.to_string())
    }
}

/// Where built kernels, initramfs and root disks are kept, for every mesh of this user:
/// `$XDG_CACHE_HOME/openlegion/microvm`, else `~/.cache/openlegion/microvm`.
fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("openlegion/microvm")
}

/// What every VM of one kernel boots: the ELF kernel and the shared initramfs.
#[derive(Debug, Clone)]
struct Boot {
    version: String,
    vmlinux: PathBuf,
    /// The shared initramfs, also as a file (the KVM probe boots it as it is).
    initramfs: Arc<Vec<u8>>,
    initramfs_file: PathBuf,
}

/// The directory of the kernel to boot.
fn kernel_root(section: &MicrovmSection) -> Result<PathBuf, MicrovmError> {
    if let Some(dir) = &section.kernel {
        return Ok(dir.clone());
    }
    KERNEL_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| kernel::find(d).is_ok())
        .ok_or_else(|| MicrovmError::Kernel {
            root: PathBuf::from(KERNEL_DIRS[0]),
            problem: format!("no kernel in {}", KERNEL_DIRS.join(" or ")),
        })
}

/// A static busybox for the initramfs (Debian `busybox-static`).
fn static_busybox() -> Result<PathBuf, MicrovmError> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file() && tarball::shared_libraries(p).is_ok_and(|l| l.is_empty()))
        .ok_or_else(|| {
            MicrovmError::Other(
                "the guest's initramfs needs a static busybox: apt-get install busybox-static"
                    .into(),
            )
        })
}

/// Unpacks the kernel and builds the initramfs, unless the cache has them.
fn prepare_boot(section: &MicrovmSection) -> Result<Boot, MicrovmError> {
    use sha2::Digest;
    let root = kernel_root(section)?;
    let kernel = kernel::find(&root)?;
    let busybox = static_busybox()?;
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).map_err(|e| MicrovmError::Disk {
        path: cache.clone(),
        problem: e.to_string(),
    })?;
    let stamp = |p: &Path| {
        std::fs::metadata(p).map_or_else(
            |_| String::new(),
            |m| format!("{}:{}:{:?}", p.display(), m.len(), m.modified().ok()),
        )
    };
    let kernel_id = hex::encode(&sha2::Sha256::digest(stamp(&kernel.bzimage))[..8]);
    let vmlinux = cache.join(format!("vmlinux-{}-{kernel_id}", kernel.version));
    if !vmlinux.is_file() {
        let bz = std::fs::read(&kernel.bzimage).map_err(|e| MicrovmError::Kernel {
            root: root.clone(),
            problem: format!("{}: {e}", kernel.bzimage.display()),
        })?;
        let elf = kernel::vmlinux(&bz).map_err(|problem| MicrovmError::Kernel {
            root: root.clone(),
            problem: format!("{}: {problem}", kernel.bzimage.display()),
        })?;
        crate::atomic_file::write(&vmlinux, &elf).map_err(|e| MicrovmError::Disk {
            path: vmlinux.clone(),
            problem: e.to_string(),
        })?;
    }
    let modules = kernel::modules(&kernel).map_err(|problem| MicrovmError::Kernel {
        root: root.clone(),
        problem,
    })?;
    let initramfs = initramfs::base(&busybox, &modules).map_err(|e| MicrovmError::Disk {
        path: busybox.clone(),
        problem: e.to_string(),
    })?;
    let initramfs_id = hex::encode(&sha2::Sha256::digest(&initramfs)[..8]);
    let initramfs_file = cache.join(format!("initramfs-{initramfs_id}.cpio"));
    if !initramfs_file.is_file() {
        // The probe boots it as it is: whole pages, with an empty handoff.
        let padded =
            initramfs::with_handoff(&initramfs, b"{}").map_err(|e| MicrovmError::Disk {
                path: initramfs_file.clone(),
                problem: e.to_string(),
            })?;
        crate::atomic_file::write(&initramfs_file, &padded).map_err(|e| MicrovmError::Disk {
            path: initramfs_file.clone(),
            problem: e.to_string(),
        })?;
    }
    Ok(Boot {
        version: kernel.version,
        vmlinux,
        initramfs: Arc::new(initramfs),
        initramfs_file,
    })
}

/// What the microVM backend finds on this machine: for `openlegion doctor`, the choice of
/// backend at start, and the backend itself.
#[derive(Debug, Clone)]
pub struct Probe {
    /// QEMU's version, or why there is none.
    pub qemu: Result<String, String>,
    /// The guest kernel's version, or why there is none.
    pub kernel: Result<String, String>,
    /// How VMs would run (`runtime.microvm.accel`, else KVM if it boots a guest, else TCG),
    /// and why; `Err` when QEMU or the kernel is missing, or KVM was asked for and fails.
    pub accel: Result<(Accel, String), String>,
}

impl Probe {
    /// One line for the user: what runs how, or what is missing.
    pub fn summary(&self) -> String {
        match (&self.qemu, &self.kernel, &self.accel) {
            (Ok(q), Ok(k), Ok((accel, why))) => {
                format!("QEMU {q}, kernel {k}, {accel} ({why})")
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => e.clone(),
        }
    }

    /// Whether microVMs run under KVM here.
    pub fn kvm(&self) -> bool {
        matches!(self.accel, Ok((Accel::Kvm, _)))
    }
}

/// Looks at QEMU, the kernel and KVM as `section` would use them. Boots a guest under KVM
/// once per machine boot (the answer is cached); otherwise quick.
pub async fn probe(section: &MicrovmSection) -> Probe {
    probe_with_boot(section).await.0
}

async fn probe_with_boot(section: &MicrovmSection) -> (Probe, Option<Boot>) {
    let qemu_bin = qemu::find_qemu();
    let qemu = match &qemu_bin {
        Some(bin) => qemu::version(bin).await,
        None => Err(MicrovmError::NoQemu.to_string()),
    };
    let prepared = {
        let section = section.clone();
        tokio::task::spawn_blocking(move || prepare_boot(&section))
            .await
            .unwrap_or_else(|e| Err(MicrovmError::Other(e.to_string())))
    };
    let kernel = prepared
        .as_ref()
        .map(|b| b.version.clone())
        .map_err(ToString::to_string);
    let accel = match (&qemu_bin, &qemu, &prepared) {
        (Some(bin), Ok(version), Ok(boot)) => {
            let cache = cache_dir();
            let kvm = || {
                accel::kvm(
                    &cache,
                    bin,
                    version,
                    &boot.version,
                    &boot.vmlinux,
                    &boot.initramfs_file,
                )
            };
            match section.accel {
                Some(MicrovmAccel::Tcg) => Ok((Accel::Tcg, "runtime.microvm.accel: tcg".into())),
                Some(MicrovmAccel::Kvm) => kvm()
                    .await
                    .map(|why| (Accel::Kvm, why))
                    .map_err(|e| MicrovmError::NoKvm(e).to_string()),
                None => Ok(match kvm().await {
                    Ok(why) => (Accel::Kvm, why),
                    Err(why) => (Accel::Tcg, format!("no KVM: {why}")),
                }),
            }
        }
        (_, Err(e), _) => Err(e.clone()),
        (_, _, Err(e)) => Err(e.to_string()),
        (None, _, _) => Err(MicrovmError::NoQemu.to_string()),
    };
    (
        Probe {
            qemu,
            kernel,
            accel,
        },
        prepared.ok(),
    )
}

/// A running VM.
#[derive(Debug)]
struct Vm {
    /// Closes the link: the guest stops its agent and powers off.
    stop: CancellationToken,
    /// Ends once QEMU has exited (on its own, or killed after [`POWER_OFF`]).
    done: tokio::task::JoinHandle<()>,
}

pub struct MicrovmBackend {
    instance: String,
    qemu: PathBuf,
    accel: Accel,
    boot: Boot,
    root_disk: PathBuf,
    disk_size: u64,
    tsc_khz: Option<u64>,
    vms: tokio::sync::Mutex<HashMap<String, Vm>>,
}

impl std::fmt::Debug for MicrovmBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicrovmBackend")
            .field("instance", &self.instance)
            .field("accel", &self.accel)
            .field("kernel", &self.boot.version)
            .finish_non_exhaustive()
    }
}

impl MicrovmBackend {
    /// Finds QEMU and the kernel, decides KVM or TCG, builds the root disk from
    /// `agent_binary` (and `openlegion-vm-init` beside it) if the cache lacks it, and kills
    /// the VMs an earlier run of mesh `instance` left behind.
    pub async fn new(
        section: &MicrovmSection,
        instance: String,
        agent_binary: &Path,
        progress: Progress,
    ) -> Result<Self, MicrovmError> {
        let (probe, boot) = probe_with_boot(section).await;
        let (accel, why) = probe.accel.clone().map_err(MicrovmError::Other)?;
        let boot = boot.ok_or_else(|| MicrovmError::Other(probe.summary()))?;
        let qemu = qemu::find_qemu().ok_or(MicrovmError::NoQemu)?;
        progress(&format!("microVMs: {}", probe.summary()));
        if accel == Accel::Tcg {
            progress(&format!(
                "warning: microVMs run under software emulation ({why}): each agent boots in \
                 seconds and holds a few hundred MB; use it for tests and machines without \
                 virtualisation"
            ));
        }
        let disk_size = match &section.disk_size {
            Some(size) => parse_memory_limit(size).map_err(MicrovmError::Other)?,
            None => DEFAULT_DISK,
        };
        let tsc_khz = qemu::host_tsc_khz();
        let guest = Guest {
            qemu: &qemu,
            accel,
            boot: &boot,
            tsc_khz,
        };
        let root_disk = root_disk(agent_binary, guest, &progress).await?;
        let backend = Self {
            instance,
            qemu,
            accel,
            boot,
            root_disk,
            disk_size,
            tsc_khz,
            vms: tokio::sync::Mutex::new(HashMap::new()),
        };
        backend.kill_leftovers("").await;
        Ok(backend)
    }

    /// How the VMs run.
    pub fn accel(&self) -> Accel {
        self.accel
    }

    /// The root disk every VM boots (built from the agent binary).
    pub fn root_disk(&self) -> &Path {
        &self.root_disk
    }

    fn vm_name(&self, agent: &str) -> String {
        format!("openlegion-{}-{agent}", self.instance)
    }

    /// Kills the QEMUs of this mesh instance whose VM name starts with
    /// `openlegion-INSTANCE-{agent}` and that this backend is not running.
    async fn kill_leftovers(&self, agent: &str) {
        let prefix = format!("{}{agent}", self.vm_name(""));
        for (pid, name) in qemu::leftovers(&prefix) {
            if !agent.is_empty() && name != self.vm_name(agent) {
                continue;
            }
            tracing::warn!(pid, vm = %name, "killing a VM an earlier mesh left running");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    async fn launch(&self, spec: &AgentSpec) -> Result<Vm, MicrovmError> {
        let agent = spec.id.as_str();
        let run = &spec.run_dir;
        let err = |e: std::io::Error| MicrovmError::Other(format!("agent {agent}: {e}"));
        std::fs::create_dir_all(&spec.data_dir).map_err(err)?;
        let data_disk = spec.data_dir.join(DATA_DISK);
        {
            let (path, size) = (data_disk.clone(), self.disk_size);
            tokio::task::spawn_blocking(move || disks::data_disk(&path, size, AGENT_USER))
                .await
                .map_err(|e| MicrovmError::Other(e.to_string()))??;
        }
        let handoff = openlegion_vmlink::Handoff {
            agent: agent.to_owned(),
            env: spec.env.clone(),
            uid: AGENT_USER.uid,
            gid: AGENT_USER.gid,
            project_brief: std::fs::read_to_string(run.join("PROJECT.md")).ok(),
            precompile: false,
        };
        let json = serde_json::to_vec(&handoff).map_err(|e| MicrovmError::Other(e.to_string()))?;
        let boot_archive = run.join("boot.cpio");
        let archive = initramfs::with_handoff(&self.boot.initramfs, &json).map_err(err)?;
        crate::atomic_file::write(&boot_archive, &archive).map_err(err)?;

        let link_path = run.join("link.sock");
        let _ = std::fs::remove_file(&link_path);
        let listener = UnixListener::bind(&link_path).map_err(err)?;
        let (console, agent_log) = (run.join("console.log"), run.join("agent.log"));
        let memory_mib = spec
            .memory_bytes
            .unwrap_or(DEFAULT_MEMORY)
            .div_ceil(1 << 20)
            .max(128);
        let cpus = spec.cpus.map_or(1, |c| c.ceil().max(1.0) as u32);
        let machine = qemu::Machine {
            name: self.vm_name(agent),
            accel: self.accel,
            memory_mib,
            cpus,
            vmlinux: self.boot.vmlinux.clone(),
            initrd: boot_archive,
            disks: Some((self.root_disk.clone(), data_disk)),
            ports: Some((link_path.clone(), agent_log)),
            console: qemu::Console::File(console),
            tsc_khz: self.tsc_khz,
            run_as: nix::unistd::geteuid().is_root().then_some((65534, 65534)),
            probe: false,
        };
        let qemu_log = run.join("qemu.log");
        let log = std::fs::File::create(&qemu_log).map_err(err)?;
        let mut child = qemu::command(&self.qemu, &qemu::args(&machine))
            .stdout(log.try_clone().map_err(err)?)
            .stderr(log)
            .spawn()
            .map_err(|e| MicrovmError::Other(format!("cannot run {}: {e}", self.qemu.display())))?;
        let accepted = tokio::select! {
            accepted = tokio::time::timeout(CONNECT, listener.accept()) => accepted,
            status = child.wait() => {
                let _ = std::fs::remove_file(&link_path);
                return Err(MicrovmError::Other(format!(
                    "QEMU exited at once ({}): {}",
                    status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                    tail(&qemu_log)
                )));
            }
        };
        drop(listener);
        let _ = std::fs::remove_file(&link_path);
        let link = match accepted {
            Ok(Ok((stream, _))) => stream,
            Ok(Err(e)) => return Err(err(e)),
            Err(_) => {
                return Err(MicrovmError::Other(format!(
                    "QEMU did not connect the link within {}s: {}",
                    CONNECT.as_secs(),
                    tail(&qemu_log)
                )));
            }
        };
        let stop = CancellationToken::new();
        let done = tokio::spawn(supervise(
            agent.to_owned(),
            child,
            link,
            run.clone(),
            stop.clone(),
            power_off(self.accel),
        ));
        tracing::info!(agent, vm = %machine.name, accel = ?self.accel, memory_mib, cpus, "agent VM started");
        Ok(Vm { stop, done })
    }
}

/// The agent's data disk, in its data directory on the host.
const DATA_DISK: &str = "disk.ext4";

/// The last lines of a log file, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(5);
    if lines.is_empty() {
        format!("nothing in {}", path.display())
    } else {
        lines[start..].join(" | ")
    }
}

/// Carries the agent's sockets until the link closes (QEMU died, the guest powered off, or
/// `stop`), then waits for QEMU to exit, killing it after `grace` ([`power_off`]).
async fn supervise(
    agent: String,
    mut child: tokio::process::Child,
    link: tokio::net::UnixStream,
    run: PathBuf,
    stop: CancellationToken,
    grace: Duration,
) {
    let ended = openlegion_vmlink::bridge(
        link,
        openlegion_vmlink::Side::Host,
        &run.join("agent.sock"),
        &run.join("mesh.sock"),
        stop.clone().cancelled_owned(),
    )
    .await;
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            tracing::warn!(
                agent,
                "the VM did not power off within {}s; killing QEMU",
                grace.as_secs()
            );
            let _ = child.kill().await;
            None
        }
    };
    let _ = std::fs::remove_file(run.join("boot.cpio"));
    if stop.is_cancelled() {
        tracing::info!(agent, ?status, "agent VM stopped");
    } else {
        tracing::warn!(
            agent,
            ?status,
            link = ?ended,
            console = %tail(&run.join("console.log")),
            "agent VM ended by itself"
        );
    }
}

/// How the guest runs, for building its root disk.
struct Guest<'a> {
    qemu: &'a Path,
    accel: Accel,
    boot: &'a Boot,
    tsc_khz: Option<u64>,
}

/// The root disk for `agent_binary`: the minimal image's files, the guest's init, the
/// mount points, and the built-in skills compiled inside such a VM ([`seeds`]); built into
/// the cache unless it is there.
async fn root_disk(
    agent_binary: &Path,
    guest: Guest<'_>,
    progress: &Progress,
) -> Result<PathBuf, MicrovmError> {
    let vm_init = agent_binary.with_file_name(VM_INIT);
    if !vm_init.is_file() {
        return Err(MicrovmError::Other(format!(
            "{} does not exist (build it with cargo build -p openlegion-vmlink; it goes beside the agent binary)",
            vm_init.display()
        )));
    }
    let rootfs = {
        let (binary, init) = (agent_binary.to_owned(), vm_init.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<tarball::Tarball> {
            let mut t = minimal::root_filesystem(&binary, AGENT_USER)?;
            t.file(
                "/sbin/openlegion-vm-init",
                tarball::Source::Host(init.clone()),
                0o755,
            );
            for lib in tarball::shared_libraries(&init)? {
                t.file(lib.display().to_string(), tarball::Source::Host(lib), 0o755);
            }
            for dir in ["/dev", "/proc", "/sys", "/run"] {
                t.dirs.push((dir.into(), 0, 0, 0o755));
            }
            Ok(t)
        })
        .await
        .map_err(|e| MicrovmError::Other(e.to_string()))?
        .map_err(|e| MicrovmError::Other(format!("reading the root disk's files: {e}")))?
    };
    let cache = cache_dir();
    // Compiled skills depend on the CPU the guest sees, so on the accelerator.
    let fingerprint = rootfs.fingerprint(&format!("openlegion-microvm-root-2/{:?}", guest.accel));
    let path = cache.join(format!("root-{fingerprint}.ext4"));
    if path.is_file() {
        return Ok(path);
    }
    progress(&format!(
        "building the microVM root disk {} from {} …",
        path.display(),
        agent_binary.display()
    ));
    let started = std::time::Instant::now();
    let work = tempfile::Builder::new()
        .prefix(".root-")
        .tempdir_in(&cache)
        .map_err(|e| MicrovmError::Disk {
            path: cache.clone(),
            problem: e.to_string(),
        })?;
    let bare = work.path().join("bare.ext4");
    let (tree, out) = (Arc::new(std::sync::Mutex::new(rootfs)), bare.clone());
    let built = Arc::clone(&tree);
    tokio::task::spawn_blocking(move || {
        disks::root_disk(&built.lock().expect("rootfs lock"), &out)
    })
    .await
    .map_err(|e| MicrovmError::Other(e.to_string()))??;
    progress(&format!(
        "compiling the built-in skills inside a microVM ({}) …",
        guest.accel
    ));
    let compiled = seeds::compile(
        guest.qemu,
        guest.accel,
        guest.boot,
        guest.tsc_khz,
        &bare,
        work.path(),
    )
    .await;
    match compiled {
        Ok(files) => {
            let out = work.path().join("root.ext4");
            let (built, out2) = (Arc::clone(&tree), out.clone());
            tokio::task::spawn_blocking(move || {
                let mut rootfs = built.lock().expect("rootfs lock");
                for (name, bytes) in files {
                    rootfs.file(
                        format!("{}/{name}", seed::DIR),
                        tarball::Source::Bytes(bytes),
                        0o644,
                    );
                }
                disks::root_disk(&rootfs, &out2)
            })
            .await
            .map_err(|e| MicrovmError::Other(e.to_string()))??;
            std::fs::rename(&out, &path)
        }
        Err(problem) => {
            progress(&format!(
                "warning: the built-in skills could not be compiled ahead of time ({problem}); \
                 each agent compiles its own when it boots"
            ));
            std::fs::rename(&bare, &path)
        }
    }
    .map_err(|e| MicrovmError::Disk {
        path: path.clone(),
        problem: e.to_string(),
    })?;
    progress(&format!(
        "microVM root disk ready in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(path)
}

impl RuntimeBackend for MicrovmBackend {
    fn name(&self) -> &'static str {
        "microvm"
    }

    fn inside(&self, _spec: &AgentSpec) -> Inside {
        Inside {
            data_dir: PathBuf::from("/data"),
            run_dir: PathBuf::from("/run/mesh"),
            env: vec![
                ("SKILL_CACHE_SEED_DIR".into(), seed::DIR.into()),
                ("PATH".into(), "/bin".into()),
            ],
        }
    }

    fn start_grace(&self) -> Duration {
        match self.accel {
            Accel::Kvm => Duration::from_secs(60),
            // Boot and first compile under emulation, on a machine that may be busy.
            Accel::Tcg => Duration::from_secs(240),
        }
    }

    fn start<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let agent = spec.id.as_str();
            if spec.image == AgentImage::Full {
                return Err(RuntimeError::Start {
                    agent: agent.into(),
                    problem: "the microvm backend runs the minimal image only (image: full is for containers)".into(),
                });
            }
            let old = self.vms.lock().await.remove(agent);
            if let Some(old) = old {
                shut_down(agent, old).await;
            }
            self.kill_leftovers(agent).await;
            let vm = self.launch(spec).await.map_err(|e| RuntimeError::Start {
                agent: agent.into(),
                problem: e.to_string(),
            })?;
            let raced = self.vms.lock().await.insert(agent.to_owned(), vm);
            if let Some(raced) = raced {
                shut_down(agent, raced).await;
            }
            Ok(())
        })
    }

    fn stop<'a>(&'a self, agent: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let vm = self.vms.lock().await.remove(agent);
            let Some(vm) = vm else {
                return Err(RuntimeError::NotRunning {
                    agent: agent.to_owned(),
                });
            };
            shut_down(agent, vm).await;
            Ok(())
        })
    }

    fn restart<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        // A fresh VM from the same spec; the data disk stays.
        self.start(spec)
    }

    fn purge<'a>(&'a self, spec: &'a AgentSpec) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            match std::fs::remove_dir_all(&spec.data_dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(RuntimeError::Stop {
                    agent: spec.id.to_string(),
                    problem: e.to_string(),
                }),
            }
        })
    }

    fn stop_all(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let all: Vec<(String, Vm)> = self.vms.lock().await.drain().collect();
            futures_util::future::join_all(all.into_iter().map(|(a, vm)| async move {
                shut_down(&a, vm).await;
            }))
            .await;
            self.kill_leftovers("").await;
        })
    }
}

/// Closes the VM's link (the guest stops its agent and powers off) and waits for QEMU to
/// be gone.
async fn shut_down(agent: &str, vm: Vm) {
    vm.stop.cancel();
    // The supervisor kills QEMU after its grace; this bound is only against a wedged task.
    if tokio::time::timeout(POWER_OFF_TCG + Duration::from_secs(10), vm.done)
        .await
        .is_err()
    {
        tracing::error!(agent, "the VM's supervisor did not finish");
    }
}
