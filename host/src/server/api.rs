//! `/mesh/api`, `/mesh/api/stream` (SSE), `/mesh/model-health` and `/mesh/costs`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use openlegion_protocol::{ApiProxyRequest, ApiProxyResponse};
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiQuery};
use crate::auth::Caller;
use crate::costs::{CostReport, Period};
use crate::proxy::Proxy;
use crate::proxy::model_health::HealthRow;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mesh/api", post(call))
        .route("/mesh/api/stream", post(stream))
        .route("/mesh/model-health", get(health))
        .route("/mesh/costs", get(costs))
}

async fn call(
    State(proxy): State<Arc<Proxy>>,
    caller: Caller,
    ApiJson(req): ApiJson<ApiProxyRequest>,
) -> Result<Json<ApiProxyResponse>, ApiError> {
    Ok(Json(proxy.call(&caller, req).await?))
}

async fn stream(
    State(proxy): State<Arc<Proxy>>,
    caller: Caller,
    ApiJson(req): ApiJson<ApiProxyRequest>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut events = proxy.stream(&caller, req)?;
    let stream = futures_util::stream::poll_fn(move |cx| events.poll_recv(cx)).map(|event| {
        let data = serde_json::to_string(&event).expect("proxy events serialise");
        Ok(Event::default().data(data))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn health(State(proxy): State<Arc<Proxy>>, _caller: Caller) -> Json<Vec<HealthRow>> {
    Json(proxy.health())
}

#[derive(Debug, Deserialize)]
struct CostQuery {
    #[serde(default = "today")]
    period: Period,
}

fn today() -> Period {
    Period::Today
}

/// The operator sees every agent; an agent sees its own spending.
async fn costs(
    State(proxy): State<Arc<Proxy>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CostQuery>,
) -> Result<Json<CostReport>, ApiError> {
    let only = (!caller.is_operator()).then(|| caller.id().to_owned());
    Ok(Json(
        proxy
            .costs()
            .report(q.period, only)
            .await
            .map_err(crate::mesh::MeshError::from)?,
    ))
}
