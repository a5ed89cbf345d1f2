//! The one clock a call runs against. `ChatRequest::timeout` bounds the whole call, from
//! connecting to the last streamed event, so the deadline is fixed once when the call
//! starts and every await afterwards (sending, reading a body, waiting for the next SSE
//! event) races the same instant instead of getting a fresh timeout of its own.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::LlmError;

/// When a call must be over, and how to report that it was not.
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    /// `None` when the request gave no timeout (`Duration::ZERO`, the `Default`): a zero
    /// budget would fail every call before it starts, which no caller means.
    at: Option<Instant>,
    after: Duration,
    provider: String,
}

impl Deadline {
    pub(crate) fn start(after: Duration, provider: &str) -> Self {
        Self {
            at: (!after.is_zero()).then(|| Instant::now() + after),
            after,
            provider: provider.to_owned(),
        }
    }

    /// `work`, or [`LlmError::Timeout`] if the deadline passes first.
    pub(crate) async fn run<T>(&self, work: impl Future<Output = T>) -> Result<T, LlmError> {
        match self.at {
            None => Ok(work.await),
            Some(at) => {
                tokio::time::timeout_at(at, work)
                    .await
                    .map_err(|_elapsed| LlmError::Timeout {
                        provider: self.provider.clone(),
                        after: self.after,
                    })
            }
        }
    }

    /// Like [`run`](Self::run) for work that can fail itself.
    pub(crate) async fn try_run<T>(
        &self,
        work: impl Future<Output = Result<T, LlmError>>,
    ) -> Result<T, LlmError> {
        self.run(work).await?
    }
}
