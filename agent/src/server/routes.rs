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
use openlegion_protocol::{AgentMessage, ChatEvent, ChatMessage, ChatResponse, TaskAssignment};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::agent::Agent;
use crate::turn::TurnOutcome;

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
        .route("/artifacts/{name}", get(artifact))
        .route("/learnings/feedback", post(feedback))
        .route("/workspace-learnings", get(learnings))
        .route("/heartbeat/probes", post(heartbeat_probes))
        .route("/files", get(files))
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

/// The mesh's heartbeat: the probes that look inside the agent, and its HEARTBEAT.md.
async fn heartbeat_probes(
    State(agent): Shared,
    parsed: Result<Json<crate::heartbeat::ProbeRequest>, JsonRejection>,
) -> Result<Json<crate::heartbeat::ProbeAnswer>, Rejected> {
    let req = body(parsed)?;
    Ok(Json(agent.heartbeat_probes(&req).await))
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
    let (tx, mut rx) = mpsc::channel::<ChatEvent>(256);
    tokio::spawn(async move {
        let outcome = agent
            .chat(&msg.message, msg.origin.as_ref(), Some(tx.clone()))
            .await;
        let _ = tx.send(ChatEvent::Done(chat_response(outcome))).await;
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(|event| {
        let data = serde_json::to_string(&event).expect("chat events serialise");
        Ok(Event::default().data(data))
    });
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

/// `GET /artifacts/{name}`: the bytes of `artifacts/<name>` in the data directory, for the
/// mesh to hand to another agent (it checks the digest it registered). A plain file name
/// only; a symlink is not followed out of the directory.
async fn artifact(
    State(agent): Shared,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Vec<u8>, Rejected> {
    let not_found = || Rejected {
        status: StatusCode::NOT_FOUND,
        detail: format!("No artifact {name}"),
    };
    if !openlegion_protocol::is_plain_file_name(&name) {
        return Err(not_found());
    }
    let dir = agent.config().data_dir.join("artifacts");
    let path = dir.join(&name);
    let real = tokio::fs::canonicalize(&path)
        .await
        .map_err(|_| not_found())?;
    let dir = tokio::fs::canonicalize(&dir)
        .await
        .map_err(|_| not_found())?;
    if !real.starts_with(&dir) || !real.is_file() {
        return Err(not_found());
    }
    tokio::fs::read(&real).await.map_err(|_| not_found())
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

#[derive(Debug, Deserialize)]
struct FilesQuery {
    #[serde(default)]
    dir: String,
}

/// The regular files of one directory of the agent's data (the mesh's file watchers poll
/// it): 400 for a directory outside the data directory.
async fn files(
    State(agent): Shared,
    Query(q): Query<FilesQuery>,
) -> Result<Json<openlegion_protocol::DirListing>, Rejected> {
    let data_dir = agent.config().data_dir.clone();
    let listed = tokio::task::spawn_blocking(move || crate::files::list(&data_dir, &q.dir))
        .await
        .map_err(|e| Rejected {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: format!("the listing failed: {e}"),
        })?;
    listed.map(Json).map_err(|e| Rejected {
        status: match e {
            crate::files::ListError::Outside(_) => StatusCode::BAD_REQUEST,
            crate::files::ListError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        },
        detail: e.to_string(),
    })
}
