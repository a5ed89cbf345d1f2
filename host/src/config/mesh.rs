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
    /// Whether agents may message each other at all (default `true`: permissions.json's
    /// `can_message` decides). `false` refuses every message from one agent to another;
    /// the operator still reaches every agent.
    pub collaboration: Option<bool>,
    /// How the mesh fetches URLs for agents.
    pub http: HttpSection,
    /// How agents are run.
    pub runtime: RuntimeSection,
    /// The browser the mesh runs for agents (`browser_*` tools).
    pub browser: BrowserSection,
    /// The web search behind `web_search`.
    pub search: SearchSection,
    /// Sub-agents (`spawn_agent`).
    pub spawn: SpawnSection,
    /// Per-agent rate limits on the mesh API.
    pub rate_limits: RateLimitsSection,
}

/// The `rate_limits:` section: how often one agent may call the mesh, per minute, so one
/// looping agent cannot starve the others. Each limit lets a burst of its own size through
/// and refills evenly over the minute; `0` turns it off. Operator calls are never limited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsSection {
    /// Blackboard writes (put, delete, claim) per agent a minute (default 6000).
    pub blackboard_writes_per_minute: Option<u32>,
    /// Messages sent (`POST /mesh/message`) per agent a minute (default 3000).
    pub messages_per_minute: Option<u32>,
    /// Publishes (`POST /mesh/publish`) per agent a minute (default 3000).
    pub publishes_per_minute: Option<u32>,
    /// LLM calls (`/mesh/api`, `/mesh/api/stream`) per agent a minute (default 600).
    pub llm_calls_per_minute: Option<u32>,
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
    /// Hosts (as written in URLs: `wiki.internal`, `10.0.0.5`, `127.0.0.1`) that may be
    /// private or local even though `allow_private` is off: an intranet service the agents
    /// need, without opening every private address.
    pub allow_private_hosts: Vec<String>,
}

/// The `browser:` section: the mesh's headless Chromium.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrowserSection {
    /// The Chromium binary (default: `chromium` or `chromium-browser` on PATH).
    pub executable: Option<PathBuf>,
    /// Most tabs one agent may have open (default 4).
    pub max_tabs: Option<usize>,
    /// An agent's browser context is closed after this many seconds unused (default 300).
    pub idle_timeout_seconds: Option<u64>,
    /// How long a navigation may load before it is stopped and read as it is, in ms
    /// (default 15000).
    pub navigation_timeout_ms: Option<u64>,
    /// Deadline of every other browser action, in ms (default 10000).
    pub action_timeout_ms: Option<u64>,
}

/// Which search engine `web_search` asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchProvider {
    /// DuckDuckGo's HTML endpoint: no key needed.
    #[default]
    Duckduckgo,
    /// Brave Search's API, with `OPENLEGION_CRED_BRAVE_SEARCH_API_KEY` from the vault.
    Brave,
}

/// The `search:` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSection {
    pub provider: SearchProvider,
    /// The provider's endpoint, to reach a mirror or a test server (default: the
    /// provider's own: `https://html.duckduckgo.com/html/`,
    /// `https://api.search.brave.com/res/v1/web/search`).
    pub base_url: Option<String>,
    /// Deadline of one search, in ms (default 15000).
    pub timeout_ms: Option<u64>,
}

/// The `spawn:` section: limits on sub-agents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpawnSection {
    /// Live sub-agents one agent may have at once (default 3).
    pub max_children: Option<u32>,
    /// How deep sub-agents may nest: 1 (the default) lets configured agents spawn but not
    /// their sub-agents, 2 one level more.
    pub max_depth: Option<u32>,
    /// Time to live of a sub-agent that asks for none, in seconds (default 600).
    pub default_ttl_seconds: Option<u64>,
    /// Longest time to live, in seconds (default 3600).
    pub max_ttl_seconds: Option<u64>,
    /// Budget of a sub-agent that asks for none, in USD (default 1.0).
    pub default_budget_usd: Option<f64>,
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
    /// Upper bound on one LLM call of an agent in seconds, streaming included (default
    /// 300; 10 to 7200): handed to every agent, which gives up on a call after it.
    pub timeout_seconds: Option<u64>,
    /// More models the mesh runs itself, as `local/<name>`: name → GGUF file (llama, qwen2
    /// or qwen3 architecture; relative to the config directory). `local/smollm2-135m-instruct`
    /// is always there.
    pub local_models: BTreeMap<String, PathBuf>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

/// One entry of `channels:` (`telegram`, `discord`; the original's `slack` and `whatsapp`
/// are accepted only while disabled). Bot tokens are credentials and come from the vault
/// (`OPENLEGION_CRED_TELEGRAM_BOT_TOKEN`, `OPENLEGION_CRED_DISCORD_BOT_TOKEN`), never from
/// this file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSection {
    pub enabled: bool,
    /// The agent a newly paired user talks to (default: the first agent of agents.yaml).
    pub default_agent: Option<String>,
    /// Platform user ids allowed to ask for pairing; empty = anyone may ask (pairing still
    /// needs the operator's approval).
    pub allowed_users: Vec<String>,
    /// Discord servers (guild ids) the bot answers in; empty = any. Direct messages are
    /// always answered (to paired users).
    pub allowed_guilds: Vec<String>,
    /// Chats (Telegram chat ids, Discord channel ids) the bot answers in; empty = any.
    pub allowed_chats: Vec<String>,
    /// The platform's API (default `https://api.telegram.org`, `https://discord.com/api/v10`):
    /// a self-hosted Bot API server, or a local fake in tests.
    pub api_base: Option<String>,
    /// Discord only: the gateway's WebSocket URL (default: the one `GET /gateway/bot` names).
    pub gateway_url: Option<String>,
    /// How often a streamed reply is edited as the agent writes, in ms (default 1500);
    /// 0 sends each reply once it is complete.
    pub edit_interval_ms: Option<u64>,
    /// Largest attachment saved into the agent's `inbox/`, in MiB (default 10, at most 50).
    pub max_attachment_mb: Option<u32>,
    /// Refused with advice: a bot token belongs in the vault.
    #[serde(skip_serializing)]
    pub token: Option<String>,
}

/// The channels this build runs.
pub const CHANNEL_KINDS: [&str; 2] = ["telegram", "discord"];

impl ChannelSection {
    /// Checks the section of channel `name`; the error is the field and what is wrong.
    pub(crate) fn validate(&self, name: &str) -> Result<(), (&'static str, String)> {
        if self.token.is_some() {
            return Err((
                "token",
                format!(
                    "a bot token is a credential: set OPENLEGION_CRED_{}_BOT_TOKEN in .env (or the \
                     environment), not in mesh.yaml",
                    name.to_uppercase()
                ),
            ));
        }
        if !CHANNEL_KINDS.contains(&name) {
            if self.enabled {
                return Err((
                    "enabled",
                    format!(
                        "this build has no {name} channel (it has {})",
                        CHANNEL_KINDS.join(" and ")
                    ),
                ));
            }
            return Ok(());
        }
        if let Some(agent) = &self.default_agent {
            openlegion_protocol::AgentId::parse(agent)
                .map_err(|e| ("default_agent", e.to_string()))?;
        }
        let url = |field, value: &Option<String>, schemes: &[&str]| match value {
            Some(v) => match reqwest::Url::parse(v) {
                Ok(u) if schemes.contains(&u.scheme()) && u.host().is_some() => Ok(()),
                _ => Err((
                    field,
                    format!("{v:?} is not a {} URL", schemes.join(" or ")),
                )),
            },
            None => Ok(()),
        };
        url("api_base", &self.api_base, &["https", "http"])?;
        url("gateway_url", &self.gateway_url, &["wss", "ws"])?;
        if self.gateway_url.is_some() && name != "discord" {
            return Err((
                "gateway_url",
                "only the discord channel has a gateway".into(),
            ));
        }
        if let Some(mb) = self.max_attachment_mb
            && !(1..=50).contains(&mb)
        {
            return Err((
                "max_attachment_mb",
                format!("{mb} is not a size of 1 to 50 MiB"),
            ));
        }
        Ok(())
    }
}
