//! Why the proxy refuses a request before calling any model. Failures of the call itself
//! are answers (`success: false`), as in the original, not errors.

/// A request the proxy will not pass on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The permission matrix or the agent's allowed models say no. (403)
    #[error("Agent {agent} cannot {action} {target}")]
    Forbidden {
        agent: String,
        action: &'static str,
        target: String,
    },
    /// A missing or malformed parameter. (400)
    #[error("{field}: {problem}")]
    BadField {
        field: &'static str,
        problem: String,
    },
    /// The budget ledger could not be read or written. (500)
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
