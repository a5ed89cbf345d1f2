//! The routes: `GET /mesh/workflows`, `POST /mesh/workflows/{name}/run`,
//! `GET /mesh/workflows/{name}/runs`, `GET /mesh/workflows/runs/{id}` (`?wait=SECONDS`
//! waits for the run to end, `&since=VERSION` for any change after that version) and
//! `POST /mesh/workflows/runs/{id}/cancel`, for the operator; and
//! `POST /webhook/trigger/{name}` without a token, for outside systems, checked like the
//! webhooks (signature, rate limit, replay ids, [`MAX_BODY`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::triggers::{self, TriggerRefused};
use super::{Trigger, WorkflowError, Workflows, load};
use crate::auth::{Caller, Tokens};
use crate::server::{ApiError, ApiPath, ApiQuery};
use crate::webhooks::{MAX_BODY, Webhooks, delivery_id, refusal, signature};

/// Longest `?wait=` of a run lookup, in seconds.
const MAX_WAIT: u64 = 60;

#[derive(Debug, Clone, FromRef)]
struct AppState {
    workflows: Arc<Workflows>,
    webhooks: Arc<Webhooks>,
    tokens: Arc<Tokens>,
}

/// The workflow routes with their own state, to merge into the mesh's app.
pub fn routes(workflows: Arc<Workflows>, webhooks: Arc<Webhooks>, tokens: Arc<Tokens>) -> Router {
    let hooks = Router::new()
        .route("/webhook/trigger/{name}", post(trigger))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/mesh/workflows", get(list))
        .route("/mesh/workflows/{name}/run", post(run))
        .route("/mesh/workflows/{name}/runs", get(runs))
        .route("/mesh/workflows/runs/{id}", get(status))
        .route("/mesh/workflows/runs/{id}/cancel", post(cancel))
        .merge(hooks)
        .with_state(AppState {
            workflows,
            webhooks,
            tokens,
        })
}

fn operator(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_operator() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "Only the operator may manage workflows",
    ))
}

impl From<WorkflowError> for ApiError {
    fn from(e: WorkflowError) -> Self {
        let status = match &e {
            WorkflowError::UnknownWorkflow { .. } | WorkflowError::UnknownRun { .. } => {
                StatusCode::NOT_FOUND
            }
            WorkflowError::TooManyRuns { .. } => StatusCode::TOO_MANY_REQUESTS,
            WorkflowError::Ended { .. } => StatusCode::CONFLICT,
            WorkflowError::Damaged { .. } | WorkflowError::Store(_) => {
                tracing::error!(error = %e, "workflow request failed");
                return ApiError::failed(&e);
            }
        };
        ApiError::new(status, e.to_string())
    }
}

async fn list(State(svc): State<Arc<Workflows>>, caller: Caller) -> Result<Response, ApiError> {
    operator(&caller)?;
    let active = svc.active_counts();
    let mut all = load::summary(&svc.definitions());
    for w in &mut all {
        let n = w["name"]
            .as_str()
            .and_then(|n| active.get(n))
            .copied()
            .unwrap_or(0);
        w["active_runs"] = json!(n);
    }
    Ok(axum::Json(json!({ "workflows": all })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    /// The run's `trigger.payload`.
    #[serde(default)]
    input: Map<String, Value>,
}

async fn run(
    State(svc): State<Arc<Workflows>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    // No body, or `{"input": {...}}`.
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        serde_json::from_slice::<RunBody>(&body)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("the body: {e}")))?
            .input
    };
    let trigger = Trigger {
        kind: "manual".into(),
        source: "operator".into(),
        payload: input,
        trusted: true,
        event: None,
    };
    let started = svc.start(&name, trigger, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"run_id": started.run_id, "workflow": name, "status": "running"})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    #[serde(default)]
    limit: Option<u32>,
}

async fn runs(
    State(svc): State<Arc<Workflows>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    let runs = svc
        .runs_of(&name, q.limit.unwrap_or(20).clamp(1, 500))
        .await?;
    Ok(axum::Json(json!({ "workflow": name, "runs": runs })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    /// Seconds to wait for the run to end (at most [`MAX_WAIT`]).
    #[serde(default)]
    wait: Option<u64>,
    /// With `wait`: return at the first change after this version.
    #[serde(default)]
    since: Option<u64>,
}

async fn status(
    State(svc): State<Arc<Workflows>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    if let Some(wait) = q.wait {
        svc.wait(&id, q.since, Duration::from_secs(wait.min(MAX_WAIT)))
            .await;
    }
    Ok(axum::Json(svc.run_view(&id).await?).into_response())
}

async fn cancel(
    State(svc): State<Arc<Workflows>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    operator(&caller)?;
    svc.cancel(&id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"run_id": id, "cancelling": true})),
    )
        .into_response())
}

async fn trigger(
    State(svc): State<Arc<Workflows>>,
    State(hooks): State<Arc<Webhooks>>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return ApiError::new(e.status(), e.body_text()).into_response(),
    };
    let sig = headers.get(signature::HEADER).map(HeaderValue::as_bytes);
    let started = triggers::deliver(&svc, &hooks, &name, &body, sig, delivery_id(&headers)).await;
    match started {
        Ok(s) if s.duplicate => (
            StatusCode::OK,
            axum::Json(json!({"status": "duplicate", "workflow": name, "run_id": s.run_id})),
        )
            .into_response(),
        Ok(s) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"status": "started", "workflow": name, "run_id": s.run_id})),
        )
            .into_response(),
        Err(TriggerRefused::Unknown) => {
            ApiError::new(StatusCode::NOT_FOUND, "Unknown workflow trigger").into_response()
        }
        Err(e @ TriggerRefused::NotAnObject(_)) => {
            ApiError::new(StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(TriggerRefused::Hook(e)) => refusal(e),
        Err(TriggerRefused::Workflow(e)) => {
            let busy = matches!(e, WorkflowError::TooManyRuns { .. });
            let mut resp = ApiError::from(e).into_response();
            if busy {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            resp
        }
    }
}
