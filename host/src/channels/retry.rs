//! Calls to a platform's API, retried: network errors and 5xx answers with exponential
//! backoff, a 429 after the wait the platform names (Telegram's `retry_after`, Discord's
//! `retry_after` and `Retry-After`). A refusal (any other 4xx) is not retried.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

/// Tries of one call before it fails.
const MAX_TRIES: usize = 6;

/// The longest rate-limit wait honoured: a platform asking for more (a flood ban) fails
/// the call instead of holding the answer for longer.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Why a call to a platform failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The platform was not reached, or failed (5xx): worth retrying.
    #[error("{platform} unreachable: {reason}")]
    Unreachable {
        platform: &'static str,
        reason: String,
    },
    /// 429: wait `retry_after`, then retry.
    #[error("{platform} rate limit: retry after {retry_after:?}")]
    RateLimited {
        platform: &'static str,
        retry_after: Duration,
    },
    /// The platform refused the call (a 4xx other than 429): retrying will not help.
    #[error("{platform} refused {what}: {status} {description}")]
    Refused {
        platform: &'static str,
        what: String,
        status: u16,
        description: String,
    },
    /// The answer was not what the API documents.
    #[error("{platform} answered {what} with something unexpected: {reason}")]
    Malformed {
        platform: &'static str,
        what: String,
        reason: String,
    },
    /// An attachment over the size limit.
    #[error("the file is {size} bytes, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
}

impl PlatformError {
    fn retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::RateLimited { retry_after, .. } => *retry_after <= MAX_WAIT,
            _ => false,
        }
    }

    /// A failed request, without its URL (a Telegram URL holds the bot token).
    pub(crate) fn network(platform: &'static str, e: reqwest::Error) -> Self {
        Self::Unreachable {
            platform,
            reason: e.without_url().to_string(),
        }
    }

    /// The status `refused` or the wait of a 429.
    pub(crate) fn status(
        platform: &'static str,
        what: &str,
        status: u16,
        retry_after: Option<Duration>,
        description: String,
    ) -> Self {
        match status {
            429 => Self::RateLimited {
                platform,
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
            },
            500.. => Self::Unreachable {
                platform,
                reason: format!("{status} {description}"),
            },
            _ => Self::Refused {
                platform,
                what: what.to_owned(),
                status,
                description,
            },
        }
    }
}

/// Runs `call` until it succeeds, fails for good, or has been tried [`MAX_TRIES`] times.
pub(crate) async fn retried<T, F, Fut>(call: F) -> Result<T, PlatformError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PlatformError>>,
{
    call.retry(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(MAX_TRIES - 1)
            .with_jitter(),
    )
    .when(PlatformError::retryable)
    .adjust(|e, backoff| match e {
        // The platform's own wait, plus a little: its clock and ours differ.
        PlatformError::RateLimited { retry_after, .. } => {
            backoff.map(|_| *retry_after + Duration::from_millis(50))
        }
        _ => backoff,
    })
    .notify(|e, wait| tracing::warn!(error = %e, ?wait, "retrying a channel call"))
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_429_waits_what_the_platform_says_and_a_refusal_is_final() {
        let tries = AtomicU32::new(0);
        let started = std::time::Instant::now();
        let out = retried(|| async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 => Err(PlatformError::status(
                    "test",
                    "send",
                    429,
                    Some(Duration::from_millis(400)),
                    String::new(),
                )),
                _ => Ok("sent"),
            }
        })
        .await;
        assert_eq!(out.unwrap(), "sent");
        assert!(started.elapsed() >= Duration::from_millis(400));
        let tries = AtomicU32::new(0);
        let out: Result<(), _> = retried(|| async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(PlatformError::status(
                "test",
                "send",
                403,
                None,
                "Forbidden".into(),
            ))
        })
        .await;
        assert!(matches!(
            out,
            Err(PlatformError::Refused { status: 403, .. })
        ));
        assert_eq!(tries.load(Ordering::SeqCst), 1);
        let out: Result<(), _> = retried(|| async {
            Err(PlatformError::status(
                "test",
                "send",
                429,
                Some(Duration::from_secs(3600)),
                String::new(),
            ))
        })
        .await;
        assert!(
            matches!(out, Err(PlatformError::RateLimited { .. })),
            "an hour's flood wait is not waited out"
        );
    }
}
