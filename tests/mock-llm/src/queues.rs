//! The queued turns, and which queue a request takes its turn from.
//!
//! Rule: a model that was ever given a queue of its own (since the last
//! reset) answers only from that queue; every other model answers from the
//! default queue. So a test that scripts a summariser model separately gets a
//! clear "script exhausted" error when the summariser is called once too often,
//! instead of having it silently eat the main model's turns.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::script::Turn;

/// Every queue of one mock server.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    default: VecDeque<Turn>,
    models: HashMap<String, VecDeque<Turn>>,
}

/// How many turns are still queued; the body of `GET /_mock/script`.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) default: usize,
    pub(crate) models: BTreeMap<String, usize>,
}

impl Pending {
    pub(crate) fn total(&self) -> usize {
        self.default + self.models.values().sum::<usize>()
    }
}

impl Queues {
    /// Appends `turns` to the queue of `model` (the default queue for `None`)
    /// and returns that queue's new length.
    pub(crate) fn push(
        &mut self,
        model: Option<&str>,
        turns: impl IntoIterator<Item = Turn>,
    ) -> usize {
        let queue = match model {
            Some(model) => self.models.entry(model.to_owned()).or_default(),
            None => &mut self.default,
        };
        queue.extend(turns);
        queue.len()
    }

    /// The next turn for a chat request to `model`, following the module rule.
    pub(crate) fn next_for(&mut self, model: &str) -> Option<Turn> {
        match self.models.get_mut(model) {
            Some(queue) => queue.pop_front(),
            None => self.default.pop_front(),
        }
    }

    /// The next turn from `model`'s own queue only; embeddings use this so
    /// they never take the chat models' default turns.
    pub(crate) fn next_own(&mut self, model: &str) -> Option<Turn> {
        self.models.get_mut(model).and_then(VecDeque::pop_front)
    }

    /// True when `model` has a queue of its own, even an empty one.
    pub(crate) fn has_own(&self, model: &str) -> bool {
        self.models.contains_key(model)
    }

    pub(crate) fn pending(&self) -> Pending {
        Pending {
            default: self.default.len(),
            models: self
                .models
                .iter()
                .map(|(model, queue)| (model.clone(), queue.len()))
                .collect(),
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_with_its_own_queue_never_falls_back() {
        let mut queues = Queues::default();
        queues.push(None, [Turn::text("default")]);
        queues.push(Some("small"), [Turn::text("small")]);
        assert_eq!(queues.next_for("small"), Some(Turn::text("small")));
        assert_eq!(queues.next_for("small"), None);
        assert_eq!(queues.next_for("big"), Some(Turn::text("default")));
        assert_eq!(queues.next_for("big"), None);
    }

    #[test]
    fn pending_counts_every_queue() {
        let mut queues = Queues::default();
        assert_eq!(queues.push(None, [Turn::hang(), Turn::hang()]), 2);
        assert_eq!(queues.push(Some("m"), [Turn::hang()]), 1);
        let pending = queues.pending();
        assert_eq!(
            (pending.default, pending.models["m"], pending.total()),
            (2, 1, 3)
        );
        queues.clear();
        assert_eq!(queues.pending().total(), 0);
        assert!(!queues.has_own("m"));
    }
}
