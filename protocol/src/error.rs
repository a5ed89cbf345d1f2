//! Validation errors for values that arrive over the wire.

/// Why a wire value was refused. The message names the offending value and the rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    #[error(
        "invalid agent id {id:?}: must start with a letter or digit, contain only letters, digits, '_' or '-', and be at most 64 characters"
    )]
    InvalidAgentId { id: String },
    #[error("agent id {id:?} is reserved")]
    ReservedAgentId { id: String },
    #[error("blackboard key is empty")]
    EmptyKey,
    #[error("blackboard key is {len} characters long; the limit is {max}")]
    KeyTooLong { len: usize, max: usize },
    #[error("blackboard key {key:?} is not allowed: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("blackboard value is {len} bytes of JSON; the limit is {max}")]
    ValueTooLarge { len: usize, max: usize },
}
