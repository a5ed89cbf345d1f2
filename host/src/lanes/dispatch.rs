//! Running one lane item on its agent: a chat turn through the agent's `/chat/stream`
//! (its events passed on to followers as they arrive), a task through `/task/run`.
//!
//! An agent that cannot be reached (or drops the connection) leaves the item queued at its
//! place and is tried again after a pause, up to [`MAX_ATTEMPTS`] runs; an answer that
//! refuses the item (an HTTP error) fails it.

use std::time::Duration;

use futures_util::StreamExt;
use openlegion_protocol::{ChatEvent, ChatMessage, Origin, TaskResult};

use super::{Lanes, Outcome, Work};
use crate::agent_link::AgentLink;
use crate::store::{lanes as rows, now_micros};

/// Runs of one item (first try and retries after an unreachable agent) before it fails.
const MAX_ATTEMPTS: u32 = 5;

/// How long a chat turn may take before it is abandoned.
const CHAT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Why a run did not produce an outcome.
enum Miss {
    /// The agent was not reached or dropped the connection: run it again.
    Unreachable(String),
}

impl Lanes {
    pub(super) async fn run(&self, agent: &str, url: &str, row: rows::Row) {
        let tracker = self.tracker(&row.id);
        let parsed = serde_json::from_str::<Work>(&row.work)
            .and_then(|w| Ok((w, serde_json::from_str::<Origin>(&row.origin)?)));
        let (work, origin) = match parsed {
            Ok(v) => v,
            Err(e) => {
                return self
                    .record(
                        &row.id,
                        Outcome::Failed {
                            error: format!("the stored item is damaged: {e}"),
                        },
                    )
                    .await;
            }
        };
        let link = self.links.link(agent, url);
        let run = async {
            match &work {
                Work::Chat { message } => chat(&link, message, &origin, &tracker.events).await,
                Work::Task { task } => {
                    let mut task = (**task).clone();
                    task.origin = Some(origin.clone());
                    run_task(&link, &task).await
                }
            }
        };
        let cancelled = async {
            tracker.cancel.cancelled().await;
            let body = match &work {
                Work::Task { task } => serde_json::json!({"task_id": task.task_id}),
                Work::Chat { .. } => serde_json::json!({}),
            };
            let _ = link
                .request(reqwest::Method::POST, "/cancel")
                .json(&body)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            // The run usually ends by itself once the agent stops; give it a moment.
            tokio::time::sleep(Duration::from_secs(10)).await;
        };
        let result = tokio::select! {
            r = run => r,
            () = cancelled => Ok(Outcome::Cancelled),
        };
        let result = match result {
            Ok(_) if tracker.cancel.is_cancelled() => Ok(Outcome::Cancelled),
            other => other,
        };
        match result {
            Ok(outcome) => self.record(&row.id, outcome).await,
            Err(Miss::Unreachable(why)) if row.attempts < MAX_ATTEMPTS => {
                tracing::warn!(agent, item = %row.id, attempt = row.attempts, reason = %why, "agent unreachable; the item stays queued");
                let seq = row.seq;
                if let Err(e) = self.store.write(move |c| rows::release(c, seq)).await {
                    tracing::error!(error = %e, "cannot requeue a lane item");
                }
                tokio::time::sleep(Duration::from_secs(u64::from(row.attempts.min(10)))).await;
            }
            Err(Miss::Unreachable(why)) => {
                self.record(
                    &row.id,
                    Outcome::Failed {
                        error: format!(
                            "agent {agent} unreachable after {MAX_ATTEMPTS} attempts: {why}"
                        ),
                    },
                )
                .await;
            }
        }
    }

    async fn record(&self, id: &str, outcome: Outcome) {
        let json = serde_json::to_string(&outcome).expect("an outcome serialises");
        let item = id.to_owned();
        match self
            .store
            .write(move |c| rows::finish(c, &item, &json, now_micros()))
            .await
        {
            Ok(_) => self.finished(id, outcome),
            Err(e) => tracing::error!(item = id, error = %e, "cannot record a lane outcome"),
        }
    }
}

async fn chat(
    link: &AgentLink,
    message: &str,
    origin: &Origin,
    events: &tokio::sync::broadcast::Sender<ChatEvent>,
) -> Result<Outcome, Miss> {
    let body = ChatMessage {
        message: message.to_owned(),
        origin: Some(origin.clone()),
    };
    let resp = link
        .request(reqwest::Method::POST, "/chat/stream")
        .timeout(CHAT_TIMEOUT)
        .json(&body)
        .send()
        .await
        .map_err(|e| Miss::Unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Ok(refused(resp).await);
    }
    let mut stream = openlegion_protocol::sse::frame(resp.bytes_stream());
    while let Some(event) = stream.next().await {
        let event = event.map_err(|e| Miss::Unreachable(e.to_string()))?;
        // An event this mesh does not know (an agent of another release) is skipped: the
        // turn goes on, and `done` still ends it.
        let parsed = match serde_json::from_str::<ChatEvent>(&event.data) {
            Ok(parsed) => parsed,
            Err(e) => {
                tracing::warn!(error = %e, data = %event.data, "skipping a chat event this mesh cannot read");
                continue;
            }
        };
        if let ChatEvent::Done(reply) = &parsed {
            let reply = reply.clone();
            let _ = events.send(parsed);
            return Ok(Outcome::Replied { reply });
        }
        let _ = events.send(parsed);
    }
    Err(Miss::Unreachable(
        "the stream ended before the turn did".into(),
    ))
}

async fn run_task(
    link: &AgentLink,
    task: &openlegion_protocol::TaskAssignment,
) -> Result<Outcome, Miss> {
    let resp = link
        .request(reqwest::Method::POST, "/task/run")
        .timeout(Duration::from_secs(task.timeout.max(1) + 30))
        .json(task)
        .send()
        .await
        .map_err(|e| Miss::Unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Ok(refused(resp).await);
    }
    let result: TaskResult = resp
        .json()
        .await
        .map_err(|e| Miss::Unreachable(e.to_string()))?;
    Ok(Outcome::Completed { result })
}

async fn refused(resp: reqwest::Response) -> Outcome {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    Outcome::Failed {
        error: format!(
            "the agent refused it: HTTP {status}: {}",
            text.chars().take(500).collect::<String>()
        ),
    }
}
