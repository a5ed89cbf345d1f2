//! What the handlers of one mock server share: the queues, the request log,
//! the id counter and the shutdown signal. Only data lives here; the rules
//! for using it belong to `queues`, `recording` and `play`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::queues::Queues;
use crate::recording::Recorder;

#[derive(Debug)]
pub(crate) struct Shared {
    queues: Mutex<Queues>,
    pub(crate) log: Recorder,
    /// Vector length of embeddings when the request asks for none.
    pub(crate) embedding_dim: usize,
    ids: AtomicU64,
    stop: watch::Receiver<bool>,
}

impl Shared {
    pub(crate) fn new(embedding_dim: usize, stop: watch::Receiver<bool>) -> Self {
        Self {
            queues: Mutex::default(),
            log: Recorder::default(),
            embedding_dim,
            ids: AtomicU64::new(1),
            stop,
        }
    }

    pub(crate) fn queues(&self) -> MutexGuard<'_, Queues> {
        // Every change to the queues is one push or pop, so a panic elsewhere
        // cannot leave them inconsistent.
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A number unique within this server, for response and tool-call ids.
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Resolves once the server is shutting down; hung and delayed requests
    /// wait on it so that shutdown never waits for them.
    pub(crate) async fn stopped(&self) {
        let mut stop = self.stop.clone();
        // An error means the sender is gone, which is a shutdown as well.
        let _closed = stop.wait_for(|stopping| *stopping).await;
    }
}
