//! Upkeep of the fact store while the agent runs: salience decays (the original decays on
//! each fresh task and every 6 hours when idle; here every 6 hours, whatever the agent
//! does), and facts saved while no embedder answered get their vectors once one does.

use std::sync::Arc;
use std::time::Duration;

use super::Memory;

/// How often salience decays.
const DECAY_EVERY: Duration = Duration::from_secs(6 * 3600);
/// How often facts without vectors are looked for, and how many are embedded at a time.
const BACKFILL_EVERY: Duration = Duration::from_secs(600);
const BACKFILL_BATCH: usize = 64;

/// Runs the upkeep until the agent stops (the task is dropped with the runtime).
pub fn spawn(memory: Arc<Memory>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut decay = tokio::time::interval(DECAY_EVERY);
        let mut backfill = tokio::time::interval(BACKFILL_EVERY);
        // The first decay waits a full period: a restart must not decay twice.
        decay.reset();
        loop {
            tokio::select! {
                _ = decay.tick() => match memory.store().decay() {
                    Ok(n) => tracing::info!(facts = n, "memory: salience decayed"),
                    Err(e) => tracing::warn!(error = %e, "memory: decay failed"),
                },
                _ = backfill.tick() => match memory.store().backfill(BACKFILL_BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(facts = n, "memory: vectors added to facts saved without"),
                    Err(e) => tracing::warn!(error = %e, "memory: backfill failed"),
                },
            }
        }
    })
}
