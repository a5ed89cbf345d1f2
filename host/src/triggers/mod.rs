//! Triggers: what makes an agent act without anyone typing to it. Each kind lives in the
//! mesh (so it survives agent restarts), in its own module, and reaches the agent through
//! its lane ([`crate::lanes`]).
//!
//! - [`schedule`]: when something recurring fires (cron expressions and `every 30m`), in a
//!   time zone; shared by cron jobs, heartbeats and workflows.
//! - [`cron`]: jobs in `config/cron.json` and the scheduler that fires them.
//! - [`heartbeat`]: cheap probes on a schedule; a turn only when one finds something.
//! - [`watchers`]: files appearing in a directory of an agent's data (`config/watchers.yaml`).

pub mod cron;
pub mod heartbeat;
pub mod schedule;
pub mod watchers;

pub use schedule::{Schedule, ScheduleError, Zone};
