//! Loop detection: a model that keeps making the same call and getting the same answer is
//! stuck. The first repeats earn it a warning appended to the result; past
//! [`STOP_AFTER`] the turn ends, rather than burning the budget on a loop.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Warnings given and turns stopped since the process started: one process is one agent,
/// and the agent reports them in its `GET /status`, from which the mesh's `/metrics` reads
/// them.
static WARNINGS: AtomicU64 = AtomicU64::new(0);
static STOPS: AtomicU64 = AtomicU64::new(0);

/// (warnings, stopped turns) since the agent started.
pub(crate) fn findings() -> (u64, u64) {
    (
        WARNINGS.load(Ordering::Relaxed),
        STOPS.load(Ordering::Relaxed),
    )
}

/// Calls remembered.
const WINDOW: usize = 15;
/// Identical earlier calls (same tool, arguments and result) before a warning.
const WARN_AFTER: usize = 2;
/// Identical earlier calls before the turn is stopped.
pub(crate) const STOP_AFTER: usize = 4;

fn digest(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// What to do after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Fine,
    /// Append this warning to the result.
    Warn(String),
    /// End the turn: the model is looping.
    Stop(String),
}

#[derive(Debug, Default)]
pub(crate) struct LoopDetector {
    seen: VecDeque<(String, u64, u64)>,
}

impl LoopDetector {
    /// Records a finished call and judges it.
    pub(crate) fn record(&mut self, tool: &str, args: &str, result: &str) -> Verdict {
        let entry = (tool.to_owned(), digest(args), digest(result));
        let repeats = self.seen.iter().filter(|e| **e == entry).count();
        if self.seen.len() == WINDOW {
            self.seen.pop_front();
        }
        self.seen.push_back(entry);
        if repeats >= STOP_AFTER {
            STOPS.fetch_add(1, Ordering::Relaxed);
            Verdict::Stop(format!(
                "Stopped: `{tool}` was called {} times with the same arguments and returned the same result each time.",
                repeats + 1
            ))
        } else if repeats >= WARN_AFTER {
            WARNINGS.fetch_add(1, Ordering::Relaxed);
            Verdict::Warn(format!(
                "WARNING: this is call {} of `{tool}` with identical arguments and an identical result. Change your approach; repeating it again will stop the turn.",
                repeats + 1
            ))
        } else {
            Verdict::Fine
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_then_stops_on_identical_calls_only() {
        let mut d = LoopDetector::default();
        assert_eq!(
            d.record("read_file", "{\"path\":\"a\"}", "x"),
            Verdict::Fine
        );
        assert_eq!(
            d.record("read_file", "{\"path\":\"a\"}", "x"),
            Verdict::Fine
        );
        assert!(matches!(
            d.record("read_file", "{\"path\":\"a\"}", "x"),
            Verdict::Warn(_)
        ));
        // A different result or different arguments are progress.
        assert_eq!(
            d.record("read_file", "{\"path\":\"a\"}", "y"),
            Verdict::Fine
        );
        assert_eq!(
            d.record("read_file", "{\"path\":\"b\"}", "x"),
            Verdict::Fine
        );
        assert!(matches!(
            d.record("read_file", "{\"path\":\"a\"}", "x"),
            Verdict::Warn(_)
        ));
        assert!(matches!(
            d.record("read_file", "{\"path\":\"a\"}", "x"),
            Verdict::Stop(_)
        ));
    }
}
