//! What this machine offers the agents: a Docker engine, gVisor, KVM, the local models,
//! Chromium, the agent binary, disk space. `openlegion doctor` prints every probe; `setup`
//! uses them to offer only the isolation that works here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use openlegion_mesh::config::Config;
use openlegion_mesh::fleet::Backends;

/// Free space below which doctor warns (a full image is ~1.3 GB, and agents keep data).
const LOW_DISK: u64 = 2 << 30;

/// One probe's outcome.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// What was looked for.
    pub(crate) what: &'static str,
    pub(crate) ok: bool,
    /// What was found, or why not.
    pub(crate) detail: String,
    /// What does not work while it is missing.
    pub(crate) disables: &'static str,
}

/// Whether a Docker engine answers, and its version.
pub(crate) async fn docker() -> Probe {
    let disables =
        "isolation docker and gvisor: agents can only run as plain processes (no OS isolation)";
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        let engine = openlegion_mesh::runtime::docker::connect()
            .await
            .map_err(|e| e.to_string())?;
        engine.version().await.map_err(|e| e.to_string())
    })
    .await;
    match answered {
        Ok(Ok(v)) => Probe {
            what: "Docker engine",
            ok: true,
            detail: format!("version {}", v.version.unwrap_or_else(|| "?".into())),
            disables,
        },
        Ok(Err(_)) | Err(_) => Probe {
            what: "Docker engine",
            ok: false,
            detail: openlegion_mesh::runtime::docker::no_docker(),
            disables,
        },
    }
}

/// Whether gVisor's `runsc` is registered with the engine.
pub(crate) async fn gvisor() -> Probe {
    let disables = "isolation gvisor (a second kernel between agents and this one)";
    let runtimes = tokio::time::timeout(Duration::from_secs(10), async {
        let engine = openlegion_mesh::runtime::docker::connect().await.ok()?;
        engine.info().await.ok()?.runtimes
    })
    .await
    .ok()
    .flatten();
    let registered = runtimes.as_ref().is_some_and(|r| r.contains_key("runsc"));
    Probe {
        what: "gVisor (runsc)",
        ok: registered,
        detail: if registered {
            "registered with Docker".into()
        } else if runtimes.is_some() {
            "not registered with Docker (see the README: /etc/docker/daemon.json)".into()
        } else {
            "no Docker engine to run it".into()
        },
        disables,
    }
}

/// Whether agents can run in microVMs here (QEMU, a guest kernel, and how they would be
/// accelerated: KVM if a guest boots under it, else TCG).
pub(crate) async fn microvm(config: &Config) -> Probe {
    let found = openlegion_mesh::runtime::microvm::probe(&config.mesh.runtime.microvm).await;
    Probe {
        what: "microVM (QEMU)",
        ok: found.accel.is_ok(),
        detail: found.summary(),
        disables: "microVM isolation (isolation: microvm)",
    }
}

/// Whether /dev/kvm can be used.
pub(crate) fn kvm() -> Probe {
    let path = Path::new("/dev/kvm");
    let usable = nix::unistd::access(
        path,
        nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
    )
    .is_ok();
    Probe {
        what: "KVM (/dev/kvm)",
        ok: usable,
        detail: if usable {
            "present, readable and writable".into()
        } else if path.exists() {
            "present, but this user cannot open it (add it to the kvm group)".into()
        } else {
            "absent (no hardware virtualisation here)".into()
        },
        disables: "hardware-accelerated microVM isolation",
    }
}

/// Whether the local embedding model is installed.
pub(crate) fn embedding_model() -> Probe {
    let models = openlegion_mesh::embeddings::default_models_dir();
    let files = openlegion_embed::ModelFiles::under(&models);
    Probe {
        what: "local embedding model",
        ok: files.is_installed(),
        detail: if files.is_installed() {
            files.dir.display().to_string()
        } else {
            format!(
                "not installed under {} (`openlegion setup` with llm.embedding_model: local/{})",
                models.display(),
                openlegion_mesh::embeddings::MODEL_NAME
            )
        },
        disables: "memory search by meaning without a provider's embedding model",
    }
}

/// Whether the bundled chat model is installed.
pub(crate) fn chat_model() -> Probe {
    use openlegion_mesh::local_llm;
    let models = openlegion_mesh::embeddings::default_models_dir();
    let installed = local_llm::is_installed(&models);
    Probe {
        what: "local chat model",
        ok: installed,
        detail: if installed {
            local_llm::WHEEL.dir_under(&models).display().to_string()
        } else {
            format!(
                "not installed under {} (`openlegion setup`, or the first `start` without a key)",
                models.display()
            )
        },
        disables: "chatting with no provider key (the agents need a provider's key instead)",
    }
}

/// Whether Debian's Chromium is on `PATH`.
pub(crate) fn chromium() -> Probe {
    let found = on_path(&["chromium", "chromium-browser"]);
    Probe {
        what: "Chromium",
        ok: found.is_some(),
        detail: found.map_or_else(
            || "not on PATH (sudo apt-get install chromium)".into(),
            |p| p.display().to_string(),
        ),
        disables: "browser automation for agents",
    }
}

/// Whether the `openlegion-agent` binary agents run exists.
pub(crate) fn agent_binary(config: &Config) -> Probe {
    let binary = Backends::agent_binary(config);
    Probe {
        what: "agent binary",
        ok: binary.is_file(),
        detail: if binary.is_file() {
            binary.display().to_string()
        } else {
            format!(
                "{} does not exist (cargo build --release -p openlegion-agent, or set runtime.agent_binary)",
                binary.display()
            )
        },
        disables: "every agent: none can start",
    }
}

/// Free space where the mesh keeps its state.
pub(crate) fn disk(config: &Config) -> Probe {
    // The state directory may not exist yet: measure the nearest directory that does.
    let mut dir = config.state_dir();
    while !dir.exists() {
        match dir.parent() {
            Some(parent) => dir = parent.to_owned(),
            None => break,
        }
    }
    match nix::sys::statvfs::statvfs(&dir) {
        Ok(s) => {
            let free = s.blocks_available() * s.fragment_size();
            Probe {
                what: "disk space",
                ok: free >= LOW_DISK,
                detail: format!(
                    "{:.1} GiB free at {}",
                    free as f64 / f64::from(1 << 30),
                    dir.display()
                ),
                disables: "image builds (the full image is ~1.3 GB) and room for agents' data",
            }
        }
        Err(e) => Probe {
            what: "disk space",
            ok: false,
            detail: format!("cannot measure {}: {e}", dir.display()),
            disables: "nothing by itself; check the disk by hand",
        },
    }
}

/// The first of `names` found on `PATH`.
pub(crate) fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}
