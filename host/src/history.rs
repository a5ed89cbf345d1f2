//! `GET /mesh/agents/{agent}/history?limit=N`: another agent's recent conversation (its
//! daily log) and task results, for `read_agent_history`.
//!
//! Who may read: the operator; an agent whose `can_read_history` lists the target (or
//! `*`); a parent reading its sub-agents (the permission overlay grants it). The answer
//! comes from the target's own API (`/history`, `/result`) while it runs, and for a
//! sub-agent also from what the mesh kept of it (its task result outlives it). Every string
//! passes through the vault's redactor, so a credential the mesh knows never leaves in it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Caller, Tokens};
use crate::mesh::{Mesh, MeshError};
use crate::server::{ApiError, ApiPath, ApiQuery};
use crate::spawn::Spawner;
use crate::vault::Redactor;

/// Log entries returned when none are asked for, and the most that may be.
const DEFAULT_ENTRIES: usize = 20;
const MAX_ENTRIES: usize = 200;
/// Days of daily logs read from the agent.
const DAYS: u32 = 3;

#[derive(Debug, Clone, FromRef)]
struct HistoryState {
    tokens: Arc<Tokens>,
    mesh: Arc<Mesh>,
    spawner: Arc<Spawner>,
    redactor: Redactor,
}

/// The route, with its own state, to merge into the mesh's app.
pub fn routes(mesh: Arc<Mesh>, spawner: Arc<Spawner>, redactor: Redactor) -> Router {
    Router::new()
        .route("/mesh/agents/{agent}/history", get(history))
        .with_state(HistoryState {
            tokens: Arc::clone(&mesh.tokens),
            mesh,
            spawner,
            redactor,
        })
}

#[derive(Debug, Deserialize)]
struct Query {
    #[serde(default)]
    limit: usize,
}

async fn history(
    State(mesh): State<Arc<Mesh>>,
    State(spawner): State<Arc<Spawner>>,
    State(redactor): State<Redactor>,
    caller: Caller,
    ApiPath(agent): ApiPath<String>,
    ApiQuery(q): ApiQuery<Query>,
) -> Result<Json<Value>, ApiError> {
    let spawned = spawner.get(&agent);
    let parent = spawned.as_ref().map(|s| s.parent.as_str());
    let allowed = caller.is_operator()
        || mesh
            .permissions
            .current()
            .can_read_history(caller.id(), &agent)
        || parent == Some(caller.id());
    if !allowed {
        return Err(MeshError::Forbidden {
            agent: caller.id().into(),
            action: "read the history of",
            target: format!("{agent} (not in its can_read_history)"),
        }
        .into());
    }
    if spawned.is_none() && !mesh.registry.exists(&agent) {
        return Err(MeshError::UnknownAgent { agent }.into());
    }
    let limit = match q.limit {
        0 => DEFAULT_ENTRIES,
        n => n.min(MAX_ENTRIES),
    };
    let role = mesh
        .registry
        .get(&agent)
        .map(|a| a.role)
        .or_else(|| spawned.as_ref().map(|s| s.role.clone()))
        .unwrap_or_default();
    let mut answer = json!({
        "agent_id": agent,
        "role": role,
        "state": mesh.run_state(&agent),
        "entries": [],
        "task_results": [],
    });
    if let Some(url) = mesh.registry.url(&agent) {
        let link = mesh.links.link(&agent, &url);
        let ask = |path: String| {
            let request = link
                .request(reqwest::Method::GET, &path)
                .timeout(Duration::from_secs(10));
            async move {
                let resp = request.send().await.ok()?;
                if !resp.status().is_success() {
                    return None;
                }
                resp.json::<Value>().await.ok()
            }
        };
        if let Some(logs) = ask(format!("/history?days={DAYS}")).await {
            answer["entries"] = Value::Array(entries(&logs, limit));
        }
        if let Some(result) = ask("/result".into()).await {
            answer["task_results"] = json!([result]);
        }
    }
    if let Some(spawned) = spawned {
        if let Some(result) = &spawned.result
            && !answer["task_results"]
                .as_array()
                .is_some_and(|r| r.contains(result))
        {
            answer["task_results"]
                .as_array_mut()
                .expect("set above")
                .push(result.clone());
        }
        answer["spawned"] = serde_json::to_value(&spawned).unwrap_or(Value::Null);
        if answer["state"].is_null() {
            answer["state"] = Value::String(spawned.state);
        }
    }
    redact(&mut answer, &redactor);
    Ok(Json(answer))
}

/// The last `limit` lines of the agent's daily logs (`{"logs": [{"date", "content"}]}`,
/// newest day first), oldest first, as `{"date", "text"}`.
fn entries(history: &Value, limit: usize) -> Vec<Value> {
    let mut lines: Vec<Value> = Vec::new();
    let days = history["logs"].as_array().cloned().unwrap_or_default();
    for day in days.iter().rev() {
        let date = day["date"].as_str().unwrap_or_default();
        for line in day["content"].as_str().unwrap_or_default().lines() {
            let text = line.trim_start_matches("- ").trim();
            if !text.is_empty() {
                lines.push(json!({"date": date, "text": text}));
            }
        }
    }
    let skip = lines.len().saturating_sub(limit);
    lines.split_off(skip)
}

/// Replaces every credential value the vault knows, in every string of `value`.
fn redact(value: &mut Value, redactor: &Redactor) {
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(clean) = redactor.redact(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, redactor)),
        Value::Object(map) => map.values_mut().for_each(|v| redact(v, redactor)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_the_newest_lines_oldest_first() {
        let history = json!({"logs": [
            {"date": "2026-03-10", "content": "- 09:00:01 User: hi\n- 09:00:02 Agent: hello\n"},
            {"date": "2026-03-09", "content": "- 18:00:00 Task t1 ended: Complete\n"},
        ]});
        let all = entries(&history, 10);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0]["text"], "18:00:00 Task t1 ended: Complete");
        assert_eq!(
            all[2],
            json!({"date": "2026-03-10", "text": "09:00:02 Agent: hello"})
        );
        assert_eq!(entries(&history, 1)[0]["text"], "09:00:02 Agent: hello");
    }

    #[test]
    fn secrets_are_redacted_everywhere() {
        let redactor = Redactor::new(["sk-live-0123456789"]);
        let mut v = json!({"entries": [{"text": "key sk-live-0123456789 leaked"}],
                           "task_results": [{"result": {"k": "sk-live-0123456789"}}]});
        redact(&mut v, &redactor);
        assert!(!v.to_string().contains("sk-live"));
        assert_eq!(v["entries"][0]["text"], "key [REDACTED] leaked");
    }

    #[test]
    fn unknown_status_is_404() {
        use axum::http::StatusCode;
        let e: ApiError = MeshError::UnknownAgent { agent: "x".into() }.into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
    }
}
