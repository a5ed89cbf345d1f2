//! Waiting in tests for a condition on a fake's state.

use std::time::{Duration, Instant};

/// How long a test waits for the bot to do something before failing.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `check` until it gives a value, panicking with `what` after [`PATIENCE`].
pub(crate) async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// UTF-16 length, as the platforms count.
pub(crate) fn units(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}
