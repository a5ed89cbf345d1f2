//! The probes a heartbeat runs in the mesh: reads of its own database, no agent involved.

use chrono::{DateTime, Utc};

use super::Finding;
use crate::lanes::Lanes;
use crate::mesh::{Inboxes, MeshError};
use crate::store::{Store, blackboard as rows, now_micros};

/// Keys a `signals`/`tasks` probe looks at (more are counted, not listed).
const MAX_KEYS: u32 = 200;

/// Keys listed by name in a summary.
const NAMED_KEYS: usize = 10;

/// Queued lane items from which the `lane` probe reports a backlog.
pub(super) const LANE_BACKLOG: u64 = 10;

/// `signals/<agent>` and `tasks/<agent>` (the key itself or anything under it, as the
/// original's prefix): actionable when one was written after `since` (the last heartbeat),
/// so the agent hears of each one once.
pub(super) async fn keys(
    store: &Store,
    space: &str,
    agent: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Finding, MeshError> {
    let prefix = format!("{space}/{agent}");
    let now = now_micros();
    let (own, nested) = (prefix.clone(), format!("{prefix}/"));
    let entries = store
        .read(move |c| rows::list(c, &own, now, MAX_KEYS).map_err(MeshError::from))
        .await?;
    let fresh: Vec<String> = entries
        .into_iter()
        .filter(|e| e.key == prefix || e.key.starts_with(&nested))
        .filter(|e| since.is_none_or(|s| e.updated_at > s))
        .map(|e| format!("{} (by {})", e.key, e.written_by))
        .collect();
    let summary = match fresh.len() {
        0 => format!("no new {space} for you"),
        n => {
            let mut s = format!(
                "{n} new {space} for you: {}",
                fresh[..n.min(NAMED_KEYS)].join(", ")
            );
            if n > NAMED_KEYS {
                s.push_str(&format!(" and {} more", n - NAMED_KEYS));
            }
            s.push_str(" (read them with read_shared_state)");
            s
        }
    };
    Ok(Finding {
        probe: space.to_owned(),
        actionable: !fresh.is_empty(),
        summary,
    })
}

/// Messages waiting in the agent's inbox (not yet delivered or acknowledged).
pub(super) async fn inbox(inboxes: &Inboxes, agent: &str) -> Result<Finding, MeshError> {
    let n = inboxes
        .counts()
        .await?
        .into_iter()
        .find(|(a, _)| a == agent)
        .map_or(0, |(_, n)| n);
    Ok(Finding {
        probe: "inbox".into(),
        actionable: n > 0,
        summary: format!("{n} messages waiting in your inbox"),
    })
}

/// A backlog in the agent's lane: [`LANE_BACKLOG`] or more items queued.
pub(super) async fn lane(lanes: &Lanes, agent: &str) -> Result<Finding, MeshError> {
    let status = lanes.status().await?;
    let (queued, age) = status
        .iter()
        .find(|l| l.agent == agent)
        .map_or((0, 0.0), |l| (l.queued, l.oldest_age_seconds));
    Ok(Finding {
        probe: "lane".into(),
        actionable: queued >= LANE_BACKLOG,
        summary: format!(
            "{queued} items queued in your lane, the oldest waiting {:.0} s",
            age
        ),
    })
}
