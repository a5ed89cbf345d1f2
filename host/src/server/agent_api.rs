//! `/mesh/agents/{agent}/api/{path}`: the operator talking to an agent (chat, stream, reset,
//! status, tasks) through the mesh, which alone can reach the agent's socket.
//!
//! `chat`, `chat/stream` and `task` go through the agent's lane, so they never interleave
//! with another turn: a chat waits its turn and answers the reply, a stream streams the
//! agent's events as they arrive, and a task to a busy agent is queued (its result is the
//! lane item's outcome, and the agent's `/result` as before). A full lane answers 429.
//! Everything else is passed through as it comes.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::StreamExt;

use super::AppState;
use super::error::{ApiError, ApiPath};
use crate::auth::Caller;
use crate::mesh::{Mesh, MeshError};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/mesh/agents/{agent}/api/{*path}", any(forward))
}

async fn forward(
    State(mesh): State<Arc<Mesh>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((agent, path)): ApiPath<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !caller.is_operator() {
        return Err(MeshError::OperatorOnly {
            action: "talk to agents through the mesh",
        }
        .into());
    }
    let url = mesh
        .registry
        .url(&agent)
        .ok_or_else(|| match mesh.registry.exists(&agent) {
            true => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Agent {agent} is not running"),
            ),
            false => MeshError::UnknownAgent {
                agent: agent.clone(),
            }
            .into(),
        })?;
    if method == Method::POST && matches!(path.as_str(), "chat" | "chat/stream" | "task") {
        return through_lane(&mesh, &agent, &path, &body).await;
    }
    let link = mesh.links.link(&agent, &url);
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes())
        .expect("an HTTP method is a method");
    // The query goes along (`history?days=7`, `files?dir=inbox`).
    let target = match query {
        Some(q) => format!("/{path}?{q}"),
        None => format!("/{path}"),
    };
    let mut req = link.request(method, &target).body(body);
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        req = req.header(header::CONTENT_TYPE.as_str(), ct.as_bytes());
    }
    let resp = req.send().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("Agent {agent} is unreachable: {e}"),
        )
    })?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut response = Body::from_stream(resp.bytes_stream()).into_response();
    *response.status_mut() = status;
    if let Some(ct) = content_type
        && let Ok(value) = ct.parse()
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    Ok(response)
}

fn bad_body(e: serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("body: {e} (line {}, column {})", e.line(), e.column()),
    )
}

async fn through_lane(
    mesh: &Mesh,
    agent: &str,
    path: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    use crate::lanes::{Outcome, Submission, Work};
    use openlegion_protocol::{ChatEvent, ChatMessage, TaskAssignment};
    let id = openlegion_protocol::AgentId::parse(agent).map_err(MeshError::from)?;
    let (work, origin) = if path == "task" {
        let task: TaskAssignment = serde_json::from_slice(body).map_err(bad_body)?;
        let origin = task.origin.clone();
        (
            Work::Task {
                task: Box::new(task),
            },
            origin,
        )
    } else {
        let msg: ChatMessage = serde_json::from_slice(body).map_err(bad_body)?;
        (
            Work::Chat {
                message: msg.message,
            },
            msg.origin,
        )
    };
    let task_id = match &work {
        Work::Task { task } => Some(task.task_id.clone()),
        Work::Chat { .. } => None,
    };
    let sub = Submission {
        agent: id,
        work,
        origin: origin.unwrap_or_default(),
    };
    let mut ticket = match mesh.lanes.submit(sub).await {
        Ok(t) => t,
        Err(e) => return Ok(super::lanes::refusal(e)),
    };
    match path {
        "task" => Ok(axum::Json(serde_json::json!({
            "accepted": true, "status": "queued", "task_id": task_id, "lane_item": ticket.id,
        }))
        .into_response()),
        "chat" => match ticket.outcome().await {
            Outcome::Replied { reply } => Ok(axum::Json(reply).into_response()),
            Outcome::Cancelled => Err(ApiError::new(
                StatusCode::CONFLICT,
                "the turn was cancelled",
            )),
            Outcome::Failed { error } => Err(ApiError::new(StatusCode::BAD_GATEWAY, error)),
            Outcome::Completed { .. } => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a chat turn ended as a task",
            )),
        },
        _ => {
            use axum::response::sse::{Event, KeepAlive, Sse};
            let (tx, mut rx) = tokio::sync::mpsc::channel::<ChatEvent>(256);
            tokio::spawn(async move {
                loop {
                    match ticket.events.recv().await {
                        Ok(event) => {
                            let done = matches!(event, ChatEvent::Done(_));
                            if tx.send(event).await.is_err() || done {
                                return;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
                let error = match ticket.outcome().await {
                    Outcome::Failed { error } => error,
                    Outcome::Cancelled => "the turn was cancelled".into(),
                    _ => return,
                };
                let _ = tx.send(ChatEvent::Error { error }).await;
            });
            let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(|event| {
                let data = serde_json::to_string(&event).expect("chat events serialise");
                Ok::<_, std::convert::Infallible>(Event::default().data(data))
            });
            Ok(Sse::new(stream)
                .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
                .into_response())
        }
    }
}
