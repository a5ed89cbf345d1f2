//! What starts runs besides the operator: a publish on a workflow's topic (the event's
//! payload becomes `trigger.payload`), a delivery to `POST /webhook/trigger/{name}`
//! (checked as the webhooks check theirs: signature, rate limit, replay ids), and a cron
//! schedule. Also the reload hook, which re-reads the files with agents.yaml.
//!
//! The mesh holds these hooks; they hold the service weakly, so neither keeps the other
//! alive.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use openlegion_protocol::MeshEvent;
use serde_json::{Map, Value, json};

use super::{Started, Trigger, WorkflowError, Workflows};
use crate::config::{AgentsFile, ConfigError};
use crate::mesh::{Commit, EventListener, Reloadable};
use crate::webhooks::{Gate, WebhookError, Webhooks};

#[derive(Debug)]
struct Topics(Weak<Workflows>);

impl EventListener for Topics {
    fn published<'a>(
        &'a self,
        event: &'a MeshEvent,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>> {
        Box::pin(async move {
            let Some(svc) = self.0.upgrade() else {
                return Vec::new();
            };
            let names: Vec<String> = svc
                .definitions()
                .values()
                .filter(|w| w.triggers.topic.as_deref() == Some(event.topic.as_str()))
                .map(|w| w.name.clone())
                .collect();
            let mut started = Vec::new();
            for name in names {
                let trigger = Trigger {
                    kind: "topic".into(),
                    source: event.topic.clone(),
                    payload: event.payload.clone(),
                    trusted: true,
                    event: Some(json!({
                        "id": event.id,
                        "topic": event.topic,
                        "source": event.source,
                        "timestamp": event.timestamp,
                    })),
                };
                // A redelivered event (same id) starts nothing new.
                let dedup = format!("{name}:event:{}", event.id);
                match svc.start(&name, trigger, Some(dedup)).await {
                    Ok(s) if !s.duplicate => started.push(s.run_id),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(workflow = %name, topic = %event.topic, error = %e, "the event did not start its workflow")
                    }
                }
            }
            started
        })
    }
}

#[derive(Debug)]
struct Reload(Weak<Workflows>);

impl Reloadable for Reload {
    fn prepare(&self, agents: &AgentsFile) -> Result<(Commit, Option<String>), ConfigError> {
        let Some(svc) = self.0.upgrade() else {
            return Ok((Box::new(|| {}), Some("workflows: none".into())));
        };
        let defs = svc.reread(agents)?;
        let line = format!("{} workflows", defs.len());
        Ok((Box::new(move || svc.replace(defs)), Some(line)))
    }
}

/// Registers the topic listener and the reload hook with the mesh, and starts the clock of
/// the cron triggers.
pub(super) fn install(svc: &Arc<Workflows>) {
    svc.mesh
        .pubsub
        .listen(Arc::new(Topics(Arc::downgrade(svc))));
    svc.mesh.on_reload(Arc::new(Reload(Arc::downgrade(svc))));
    tokio::spawn(clock(Arc::downgrade(svc), svc.shutdown.clone()));
}

/// How often the cron triggers are looked at: a run starts within this of its time.
const TICK: std::time::Duration = std::time::Duration::from_millis(500);

/// Starts each workflow with a `trigger.cron` at every time its schedule names, read from
/// the definitions in force (a new or changed schedule counts from when this clock first
/// sees it). Each fire's dedup key is the workflow and the scheduled second, so a time is
/// run at most once, also across a restart; times that passed while the mesh was down are
/// not caught up.
async fn clock(svc: Weak<Workflows>, shutdown: tokio_util::sync::CancellationToken) {
    // Per workflow: its schedule's text and the next time it fires.
    let mut next: std::collections::HashMap<String, (String, chrono::DateTime<chrono::Utc>)> =
        std::collections::HashMap::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = shutdown.cancelled() => return,
        }
        let Some(svc) = svc.upgrade() else { return };
        let now = chrono::Utc::now();
        let defs = svc.definitions();
        next.retain(|name, (expr, _)| {
            defs.get(name)
                .is_some_and(|wf| wf.triggers.cron.as_ref() == Some(expr))
        });
        for wf in defs.values() {
            let Some(expr) = &wf.triggers.cron else {
                continue;
            };
            let Ok(schedule) = crate::triggers::Schedule::parse(expr, None) else {
                continue; // checked at load
            };
            let Some(at) = next
                .get(&wf.name)
                .map(|(_, at)| *at)
                .or_else(|| schedule.next_after(now))
            else {
                continue;
            };
            if at > now {
                next.insert(wf.name.clone(), (expr.clone(), at));
                continue;
            }
            // The first occurrence still ahead (a slow tick skips none it can still make).
            let upcoming = schedule
                .next_after(at)
                .filter(|t| *t > now)
                .or_else(|| schedule.next_after(now));
            match upcoming {
                Some(t) => next.insert(wf.name.clone(), (expr.clone(), t)),
                None => next.remove(&wf.name),
            };
            let trigger = Trigger {
                kind: "cron".into(),
                source: expr.clone(),
                payload: Map::from_iter([("scheduled_at".to_owned(), json!(at.to_rfc3339()))]),
                trusted: true,
                event: None,
            };
            let dedup = format!("{}:cron:{}", wf.name, at.timestamp());
            if let Err(e) = svc.start(&wf.name, trigger, Some(dedup)).await {
                tracing::error!(workflow = %wf.name, schedule = %expr, error = %e, "the schedule did not start its workflow");
            }
        }
    }
}

/// Why a webhook delivery started no run.
#[derive(Debug, thiserror::Error)]
pub(super) enum TriggerRefused {
    /// No such workflow, or it takes no webhook. (404)
    #[error("Unknown workflow trigger")]
    Unknown,
    /// (400)
    #[error("the body must be a JSON object: {0}")]
    NotAnObject(String),
    #[error(transparent)]
    Hook(#[from] WebhookError),
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
}

/// A delivery to `POST /webhook/trigger/{name}`.
pub(super) async fn deliver(
    svc: &Arc<Workflows>,
    hooks: &Webhooks,
    name: &str,
    body: &[u8],
    signature: Option<&[u8]>,
    delivery: Option<&str>,
) -> Result<Started, TriggerRefused> {
    let wf = svc.get(name).ok_or(TriggerRefused::Unknown)?;
    let hook = wf
        .triggers
        .webhook
        .as_ref()
        .ok_or(TriggerRefused::Unknown)?;
    let gate = Gate {
        key: format!("workflow:{name}"),
        name: name.to_owned(),
        secret_env: hook.secret_env.clone(),
        rate_per_minute: hook.rate_per_minute,
    };
    hooks.check(&gate, body, signature)?;
    let payload: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        Ok(other) => return Err(TriggerRefused::NotAnObject(format!("got {}", kind(&other)))),
        Err(e) => return Err(TriggerRefused::NotAnObject(e.to_string())),
    };
    let dedup = delivery.map(|d| format!("{name}:delivery:{d}"));
    if let Some(d) = delivery
        && !hooks.first_delivery(&gate, d).await?
    {
        // Seen within 24 h: answer with the run it started, if it is still kept.
        let run_id = match &dedup {
            Some(key) => svc.run_by_dedup(key).await?.unwrap_or_default(),
            None => String::new(),
        };
        return Ok(Started {
            run_id,
            duplicate: true,
        });
    }
    let trigger = Trigger {
        kind: "webhook".into(),
        source: name.to_owned(),
        payload,
        // Outside input: the agents take it as data, never as instructions.
        trusted: false,
        event: None,
    };
    match svc.start(name, trigger, dedup).await {
        Ok(s) => Ok(s),
        Err(e) => {
            if let Some(d) = delivery {
                hooks.forget_delivery(&gate, d).await;
            }
            Err(e.into())
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
