//! Errors of mesh operations, each of which the HTTP layer maps to one status code.

use openlegion_protocol::ProtocolError;

use crate::config::ConfigError;
use crate::store::StoreError;
use crate::store::blackboard::BlackboardError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeshError {
    /// The permission matrix says no. (403)
    #[error("Agent {agent} cannot {action} {target}")]
    Forbidden {
        agent: String,
        action: &'static str,
        target: String,
    },
    /// Only the operator may do this. (403)
    #[error("Only the operator may {action}")]
    OperatorOnly { action: &'static str },
    /// (404)
    #[error("Key not found: {key}")]
    KeyNotFound { key: String },
    /// A message was addressed to no known agent. (404)
    #[error("No agent found for target: {target}")]
    UnknownTarget { target: String },
    /// (404)
    #[error("Unknown agent: {agent}")]
    UnknownAgent { agent: String },
    /// (400)
    #[error("Cannot delete from history: {key}")]
    HistoryDelete { key: String },
    /// (400)
    #[error("History keys are permanent and take no ttl: {key}")]
    HistoryTtl { key: String },
    /// (400)
    #[error("ttl must be a positive number of seconds, got {ttl}")]
    BadTtl { ttl: i64 },
    /// (400)
    #[error("The operator has no inbox; {action} needs an agent's token")]
    NoInbox { action: &'static str },
    /// A bad name, size or count in a request. (400)
    #[error("{field}: {problem}")]
    BadField {
        field: &'static str,
        problem: String,
    },
    /// (400, or 413 for oversize values)
    #[error(transparent)]
    Invalid(#[from] ProtocolError),
    /// The recipient's inbox is at its bound; nothing was queued. (429)
    #[error("Inbox of {agent} is full ({max} messages waiting)")]
    InboxFull { agent: String, max: u32 },
    /// Version conflict (409), history already written (409), or storage (500).
    #[error(transparent)]
    Blackboard(#[from] BlackboardError),
    /// A reload found a broken config file; the previous config stays in force. (400)
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// (500)
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A lane refused or lost an item (429 when full).
    #[error(transparent)]
    Lane(#[from] crate::lanes::LaneError),
    /// The LLM proxy refused the request (403 or 400).
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    /// A fetch refused by policy (400) or failed upstream (502).
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
}
