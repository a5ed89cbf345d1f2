//! What can go wrong talking to a provider, classified the way failover needs.

use std::time::Duration;

/// A failed provider call. Messages are built from provider responses, so they may quote
/// the provider; the proxy redacts credentials from them before they go anywhere.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum LlmError {
    /// The provider answered with an error status.
    #[error("{provider} returned HTTP {status}: {message}")]
    Status {
        provider: String,
        status: u16,
        message: String,
        /// From a `retry-after` header, if any.
        retry_after: Option<Duration>,
    },
    /// No connection, or it broke before a response.
    #[error("cannot reach {provider}: {message}")]
    Network { provider: String, message: String },
    /// No complete answer within the request's timeout.
    #[error("{provider} did not answer within {}s", after.as_secs_f64())]
    Timeout { provider: String, after: Duration },
    /// A success status with a body that is not what the protocol promises (HTML, truncated
    /// JSON, a missing field).
    #[error("{provider} sent an invalid response: {message}")]
    InvalidResponse { provider: String, message: String },
    /// A stream that ended (or broke) before its terminal event.
    #[error("{provider} stream ended early: {message}")]
    StreamCut { provider: String, message: String },
    /// The model id names no provider we can reach, or no credentials are configured.
    #[error("{message}")]
    Config { message: String },
}

/// How a failure affects failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// 429: cool down briefly, retry, then fall over.
    RateLimited,
    /// 5xx, 408, 529, network, timeout, broken stream: retry, then fall over.
    Transient,
    /// 401/403: this provider's credentials are wrong; fall over, cool down for long.
    Auth,
    /// 402: out of credit; do not cascade.
    Billing,
    /// 400/404/422: the request itself is wrong; another model would fail too.
    Permanent,
    /// Anything else: fall over with a short cooldown.
    Other,
}

impl LlmError {
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn kind(&self) -> FailureKind {
        match self {
            LlmError::Status { status, .. } => match status {
                429 => FailureKind::RateLimited,
                408 | 500 | 502 | 503 | 504 | 529 => FailureKind::Transient,
                401 | 403 => FailureKind::Auth,
                402 => FailureKind::Billing,
                400 | 404 | 422 => FailureKind::Permanent,
                _ => FailureKind::Other,
            },
            LlmError::Network { .. } | LlmError::Timeout { .. } | LlmError::StreamCut { .. } => {
                FailureKind::Transient
            }
            LlmError::InvalidResponse { .. } => FailureKind::Other,
            LlmError::Config { .. } => FailureKind::Permanent,
        }
    }
}
