//! `config/mesh.yaml`: where the mesh listens, where it keeps its state, and the LLM and
//! channel settings the original keeps in the same file.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole of mesh.yaml. Unknown keys are errors so a misspelt setting is reported.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshFile {
    pub mesh: MeshSection,
    pub llm: LlmSection,
    pub channels: BTreeMap<String, ChannelSection>,
    /// Whether agents of a team may message each other by default (original: `true`).
    pub collaboration: Option<bool>,
    /// How the mesh fetches URLs for agents.
    pub http: HttpSection,
    /// How agents are run.
    pub runtime: RuntimeSection,
}

/// The `http:` section: the policy of `POST /mesh/http`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// Hosts agents may reach (a domain also admits its subdomains); empty = any public host.
    pub allowed_domains: Vec<String>,
    /// Allow private, loopback and link-local targets (off: SSRF protection).
    pub allow_private: bool,
    /// Largest response body returned, in KiB (default 1024).
    pub max_body_kb: Option<u32>,
}

/// Where agents run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// A plain child process: no OS isolation (tools are still WebAssembly-sandboxed).
    Process,
    /// A hardened Docker container.
    Docker,
    /// A Docker container under gVisor (runsc).
    Gvisor,
    /// A QEMU microVM with its own kernel (KVM where `/dev/kvm` runs a guest, else software
    /// emulation).
    Microvm,
    /// Not started by the mesh: the agent runs elsewhere and registers itself.
    External,
}

/// The image an agent's container runs (container backends only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentImage {
    /// The agent binary and a static busybox: starts fastest, smallest.
    #[default]
    Minimal,
    /// Debian with a shell, Python, Node and the skill compilers, built on this machine the
    /// first time an agent asks for it.
    Full,
}

/// The `runtime:` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSection {
    /// The backend for agents that do not choose one. Unset: the strongest that works here
    /// (microVM under KVM, else gVisor, else Docker).
    pub isolation: Option<Isolation>,
    /// The `openlegion-agent` binary (default: beside the `openlegion` binary).
    pub agent_binary: Option<PathBuf>,
    /// Let agents on the process backend use the `exec` tool (a shell on this machine).
    pub allow_exec: bool,
    /// Let agents on the process backend create skills (`create_skill`): their compilers
    /// run code the agent wrote, on this machine. Container backends always may (the
    /// compilers are in the `full` image). The process backend hands the agents the
    /// mesh's `SKILL_COMPILERS` (where `skills-sdk/compilers.sh` installed them).
    pub allow_skill_compile: bool,
    /// How often each agent's health is checked, in ms (default 30000).
    pub health_interval_ms: Option<u64>,
    /// The wait before the first restart of an unhealthy agent, in ms; it doubles with each
    /// restart within the hour, up to 10 minutes (default 30000).
    pub restart_backoff_ms: Option<u64>,
    /// The image of agents that do not choose one (default `minimal`).
    pub image: Option<AgentImage>,
    /// Extra labels on every container and volume (for your own tooling; `openlegion.*`
    /// is reserved).
    pub labels: std::collections::BTreeMap<String, String>,
    /// The microVM backend's settings.
    pub microvm: MicrovmSection,
}

/// How microVMs run (`runtime.microvm`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MicrovmSection {
    /// A directory holding a Debian `linux-image` package's files (`boot/vmlinuz-*` and
    /// `lib/modules/*`), installed or unpacked with `dpkg-deb -x`. Default:
    /// `/usr/local/lib/openlegion/linux`, then `/`.
    pub kernel: Option<PathBuf>,
    /// `kvm`, `tcg`, or unset: KVM if `/dev/kvm` boots a guest, else TCG.
    pub accel: Option<MicrovmAccel>,
    /// Size of each agent's data disk (sparse), Docker-style (`2g`; default 2 GiB).
    pub disk_size: Option<String>,
}

/// The microVM's accelerator, when chosen by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MicrovmAccel {
    /// Hardware virtualisation (`/dev/kvm`); the start fails if it cannot boot a guest.
    Kvm,
    /// Software emulation: works anywhere, several times slower.
    Tcg,
}

/// The `mesh:` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshSection {
    /// Address of the operator/webhook listener. Loopback by default: agents never reach the
    /// mesh over TCP, and the CLI runs on the same machine.
    pub host: IpAddr,
    pub port: u16,
    /// Where the mesh keeps its database, tokens, pid and log files. Relative paths are
    /// relative to the config directory's parent. Default: `.openlegion/` beside `config/`.
    pub state_dir: Option<PathBuf>,
    /// Most undelivered messages kept per agent; beyond it senders get an error.
    pub inbox_max: u32,
    /// Largest request body in MiB (larger ones get 413).
    pub max_body_mb: u32,
}

impl Default for MeshSection {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8420,
            state_dir: None,
            inbox_max: 1000,
            max_body_mb: 8,
        }
    }
}

/// The `llm:` section (used by the LLM proxy).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSection {
    pub default_model: Option<String>,
    pub utility_model: Option<String>,
    pub embedding_model: Option<String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    /// `primary model → [fallback, …]`.
    pub failover: BTreeMap<String, Vec<String>>,
    /// Per-model prices overriding the built-in list, by `provider/model`.
    pub prices: BTreeMap<String, Price>,
    /// Budget of agents whose agents.yaml entry sets none (default $50/day, $200/month).
    pub default_budget: Option<super::Budget>,
    /// Upper bound on one LLM call in seconds, streaming included (default 300).
    pub timeout_seconds: Option<u64>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

/// One entry of `channels:` (telegram, discord, …).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSection {
    pub enabled: bool,
    pub default_agent: Option<String>,
    pub allowed_users: Vec<String>,
    pub allowed_guilds: Vec<String>,
}
