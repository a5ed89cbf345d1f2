//! The environment the mesh hands an agent process: one name per setting, used by the
//! mesh when it starts an agent and by the agent when it reads its configuration.

/// The agent's id (`AgentId` grammar).
pub const AGENT_ID: &str = "AGENT_ID";
/// Its role, free text (default `assistant`).
pub const AGENT_ROLE: &str = "AGENT_ROLE";
/// Where the mesh listens: `unix:/path/mesh.sock` or `http://host:port`.
pub const MESH_URL: &str = "MESH_URL";
/// The agent's bearer token for the mesh.
pub const MESH_AUTH_TOKEN: &str = "MESH_AUTH_TOKEN";
/// A file holding the token instead, deleted once read (kept out of `/proc/*/environ`).
pub const MESH_AUTH_TOKEN_FILE: &str = "MESH_AUTH_TOKEN_FILE";
/// The Unix socket the agent serves its API on.
pub const AGENT_SOCKET: &str = "AGENT_SOCKET";
/// Or a TCP address to serve it on.
pub const AGENT_LISTEN: &str = "AGENT_LISTEN";
/// The agent's own data directory (workspace, memory, skills).
pub const DATA_DIR: &str = "DATA_DIR";
/// Where compiled skills are cached.
pub const SKILL_CACHE_DIR: &str = "SKILL_CACHE_DIR";
/// A read-only function cache compiled at image build time.
pub const SKILL_CACHE_SEED_DIR: &str = "SKILL_CACHE_SEED_DIR";
/// The project's PROJECT.md.
pub const PROJECT_BRIEF: &str = "PROJECT_BRIEF";
/// The capabilities the agent's permissions grant, comma-separated.
pub const ALLOWED_CAPABILITIES: &str = "ALLOWED_CAPABILITIES";
/// The system prompt and instructions of agents.yaml.
pub const INITIAL_INSTRUCTIONS: &str = "INITIAL_INSTRUCTIONS";
/// The first SOUL.md of a new workspace (`soul` / `initial_soul` of agents.yaml); an
/// existing SOUL.md is never replaced.
pub const INITIAL_SOUL: &str = "INITIAL_SOUL";
/// The first HEARTBEAT.md of a new workspace (`initial_heartbeat` of agents.yaml): what the
/// agent checks on each heartbeat turn; an existing HEARTBEAT.md is never replaced.
pub const INITIAL_HEARTBEAT: &str = "INITIAL_HEARTBEAT";
/// Bounds of one turn and one model call.
pub const TASK_MAX_ITERATIONS: &str = "TASK_MAX_ITERATIONS";
pub const CHAT_MAX_TOOL_ROUNDS: &str = "CHAT_MAX_TOOL_ROUNDS";
pub const LLM_MAX_TOKENS: &str = "LLM_MAX_TOKENS";
pub const LLM_TIMEOUT_SECONDS: &str = "LLM_TIMEOUT_SECONDS";
/// The model's context window, in tokens.
pub const CONTEXT_WINDOW: &str = "CONTEXT_WINDOW";
/// Set by the process backend: the agent exits when the mesh does.
pub const EXIT_WITH_PARENT: &str = "OPENLEGION_EXIT_WITH_PARENT";
/// How the agent logs: `json` (one JSON object a line, the default) or `text`; the mesh
/// hands its agents its own setting.
pub const LOG_FORMAT: &str = "OPENLEGION_LOG_FORMAT";
