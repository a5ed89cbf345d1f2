//! # The OpenLegion wire contract
//!
//! Every JSON body that crosses the boundary between the mesh (the trusted host process)
//! and an agent sandbox is one of the types in this crate. Field names and defaults follow
//! the Python original's `src/shared/types.py`, so its agents and tools can talk to this
//! mesh unchanged.
//!
//! This crate owns the *shapes* and the *limits* of the wire format (id formats, the agent
//! id grammar, blackboard key and value bounds). It does not own any behaviour: permission
//! checks, storage and routing live in `openlegion-mesh`.

mod agent;
mod blackboard;
mod browser;
mod cron;
pub mod env;
mod error;
mod fetch;
mod files;
mod ids;
pub mod limits;
mod message;
mod origin;
mod permissions;
mod proxy;
pub mod sse;
pub mod strict_yaml;
mod task;
mod team;
mod time;
pub mod unsupported;

pub use agent::{
    AgentInfo, AgentState, AgentStatus, ChatEvent, ChatMessage, ChatResponse, RegisterRequest,
    RegisterResponse, ToolCounts,
};
pub use blackboard::{
    BlackboardEntry, ClaimRequest, WatchRequest, is_history_key, validate_key, validate_value,
};
pub use browser::{
    BlockedRequest, BrowserAction, BrowserReply, MAX_BROWSER_JSON_BYTES, MAX_BROWSER_PNG_BYTES,
    MAX_BROWSER_SCRIPT_BYTES, MAX_BROWSER_SNAPSHOT_CHARS, MAX_BROWSER_TARGET_BYTES,
    MAX_BROWSER_TEXT_CHARS, MAX_BROWSER_TYPE_BYTES, MAX_BROWSER_URL_BYTES,
};
pub use cron::CronJob;
pub use error::ProtocolError;
pub use fetch::{FetchRequest, FetchResponse};
pub use files::{DirListing, FileStat, MAX_LISTED_FILES, data_relative};
pub use ids::{AgentId, RESERVED_AGENT_IDS, new_id};
pub use message::{AgentMessage, MeshEvent, MessageType, Priority};
pub use origin::{Origin, OriginKind};
pub use permissions::AgentPermissions;
pub use proxy::{
    ApiProxyRequest, ApiProxyResponse, ChatData, EmbedData, ProxyEvent, ProxyToolCall,
};
pub use task::{TaskAssignment, TaskResult, TaskStatus};
pub use team::{
    ArtifactMeta, DEFAULT_SEARCH_RESULTS, MAX_ARTIFACT_NAME_BYTES, MAX_SEARCH_QUERY_BYTES,
    MAX_SEARCH_RESULTS, MAX_SEARCH_SNIPPET_CHARS, MAX_SEARCH_TITLE_CHARS,
    MAX_SPAWN_INSTRUCTIONS_BYTES, MAX_SPAWN_ROLE_BYTES, SearchRequest, SearchResult, SearchResults,
    SpawnRequest, SpawnedAgent, is_plain_file_name,
};
