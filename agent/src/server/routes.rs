//! The agent's routes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use openlegion_protocol::{AgentMessage, ChatMessage, ChatResponse, TaskAssignment};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::agent::Agent;
use crate::turn::{TurnEvent, TurnOutcome};

type Shared = State<Arc<Agent>>;

pub(super) fn routes() -> Router<Arc<Agent>> {
    Router::new()
        .route("/status", get(status))
        .route("/capabilities", get(capabilities))
        .route("/skills", get(skills))
        .route("/chat", post(chat))
        .route("/chat/stream", post(chat_stream))
        .route("/chat/reset", post(reset))
        .route("/task", post(task))
        .route("/task/run", post(run_task))
        .route("/result", get(result))
        .route("/cancel", post(cancel))
        .route("/message", post(message))
        .route("/history", get(history))
        .route("/learnings/feedback", post(feedback))
        .route("/workspace-learnings", get(learnings))
        .route(
            "/inbox/{name}",
            axum::routing::put(super::inbox::put)
                .layer(axum::extract::DefaultBodyLimit::max(super::inbox::MAX_FILE)),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"detail": "Not found"}))) })
}

/// A refused request: a status and a JSON `{"detail"}`.
#[derive(Debug)]
struct Rejected {
    status: StatusCode,
    detail: String,
}

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"detail": self.detail}))).into_response()
    }
}

/// A JSON body whose rejection names what is wrong, with the right status.
fn body<T>(parsed: Result<Json<T>, JsonRejection>) -> Result<T, Rejected> {
    parsed.map(|Json(v)| v).map_err(|r| Rejected {
        status: r.status(),
        detail: r.body_text(),
    })
}

async fn status(State(agent): Shared) -> Json<Value> {
    Json(serde_json::to_value(agent.status()).expect("status serialises"))
}

async fn skills(State(agent): Shared) -> Json<Value> {
    Json(agent.skills())
}

async fn capabilities(State(agent): Shared) -> Json<Value> {
    let tools = agent.tool_definitions();
    Json(json!({
        "agent_id": agent.config().agent_id,
        "role": agent.config().role,
        "skills": tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "tool_definitions": tools.iter().map(crate::tools::ToolDef::openai).collect::<Vec<_>>(),
    }))
}

fn chat_response(outcome: TurnOutcome) -> ChatResponse {
    ChatResponse {
        response: outcome.response,
        tool_outputs: outcome.tool_outputs,
        tokens_used: outcome.tokens_used,
    }
}

async fn chat(
    State(agent): Shared,
    parsed: Result<Json<ChatMessage>, JsonRejection>,
) -> Result<Json<ChatResponse>, Rejected> {
    let msg = body(parsed)?;
    Ok(Json(chat_response(
        agent.chat(&msg.message, msg.origin.as_ref(), None).await,
    )))
}

/// SSE: `tool_start`, `tool_result`, `text_delta` as they happen, then `done`.
async fn chat_stream(
    State(agent): Shared,
    parsed: Result<Json<ChatMessage>, JsonRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Rejected> {
    let msg = body(parsed)?;
    let (tx, mut rx) = mpsc::channel::<Value>(256);
    tokio::spawn(async move {
        let (events_tx, mut events_rx) = mpsc::channel::<TurnEvent>(256);
        let forward = {
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(event) = events_rx.recv().await {
                    let _ = tx
                        .send(serde_json::to_value(event).expect("events serialise"))
                        .await;
                }
            })
        };
        let outcome = agent
            .chat(&msg.message, msg.origin.as_ref(), Some(events_tx))
            .await;
        let _ = forward.await;
        let mut done = json!(chat_response(outcome));
        done["type"] = "done".into();
        let _ = tx.send(done).await;
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(|v| Ok(Event::default().data(v.to_string())));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn reset(State(agent): Shared) -> Json<Value> {
    agent.reset().await;
    Json(json!({"status": "ok"}))
}

async fn task(
    State(agent): Shared,
    parsed: Result<Json<TaskAssignment>, JsonRejection>,
) -> Result<Json<Value>, Rejected> {
    let task = body(parsed)?;
    Ok(Json(match agent.start_task(task) {
        Ok(()) => json!({"accepted": true, "status": "executing"}),
        Err(busy) => json!({"accepted": false, "status": "busy", "error": busy.to_string()}),
    }))
}

/// Runs a task and answers with its `TaskResult` when it ends (the mesh's lanes use this:
/// they decide how many tasks run at once, so it is never refused as busy).
async fn run_task(
    State(agent): Shared,
    parsed: Result<Json<TaskAssignment>, JsonRejection>,
) -> Result<Json<openlegion_protocol::TaskResult>, Rejected> {
    let task = body(parsed)?;
    Ok(Json(agent.run_task_now(&task).await))
}

async fn result(State(agent): Shared) -> Response {
    match agent.last_result() {
        Some(r) => Json(r).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"detail": "No task result available"})),
        )
            .into_response(),
    }
}

/// `POST /cancel`: with `{"task_id"}`, that task alone; otherwise whatever runs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    task_id: Option<String>,
}

async fn cancel(State(agent): Shared, body: axum::body::Bytes) -> Result<Json<Value>, Rejected> {
    let parsed: CancelBody = if body.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: format!("cancel body: {e}"),
        })?
    };
    match parsed.task_id {
        Some(id) if !agent.cancel_task(&id) => Err(Rejected {
            status: StatusCode::NOT_FOUND,
            detail: format!("task {id} is not running"),
        }),
        Some(id) => Ok(Json(json!({"status": "cancelled", "task_id": id}))),
        None => {
            agent.cancel();
            Ok(Json(json!({"status": "cancelled"})))
        }
    }
}

async fn message(
    State(agent): Shared,
    parsed: Result<Json<AgentMessage>, JsonRejection>,
) -> Result<Json<Value>, Rejected> {
    let msg = body(parsed)?;
    agent.receive(&msg);
    Ok(Json(
        json!({"received": true, "from": msg.from_agent, "type": msg.kind}),
    ))
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    #[serde(default = "three")]
    days: u32,
}

fn three() -> u32 {
    3
}

async fn history(State(agent): Shared, Query(q): Query<HistoryQuery>) -> Json<Value> {
    Json(agent.history(q.days))
}

/// A correction from the agent's user, kept for its later sessions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Feedback {
    feedback: String,
}

async fn feedback(
    State(agent): Shared,
    parsed: Result<Json<Feedback>, JsonRejection>,
) -> Result<Json<Value>, Rejected> {
    let Feedback { feedback } = body(parsed)?;
    if feedback.trim().is_empty() {
        return Err(Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: "feedback: empty; say what the agent should do differently".into(),
        });
    }
    agent.learnings().corrected(&feedback);
    Ok(Json(json!({"recorded": true})))
}

async fn learnings(State(agent): Shared) -> Json<Value> {
    let (errors, corrections) = agent.learnings().files();
    Json(json!({"errors": errors, "corrections": corrections}))
}
