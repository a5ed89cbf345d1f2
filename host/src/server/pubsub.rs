//! `/mesh/subscribe`, `/mesh/unsubscribe`, `/mesh/publish`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use openlegion_protocol::MeshEvent;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, ApiJson, ApiQuery};
use crate::auth::Caller;
use crate::mesh::{PubSub, Published};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/mesh/subscribe", post(subscribe))
        .route("/mesh/unsubscribe", post(unsubscribe))
        .route("/mesh/publish", post(publish))
}

#[derive(Debug, Deserialize)]
struct TopicParams {
    topic: Option<String>,
}

/// The topic from `?topic=` (the original's form) or from a JSON body `{"topic": …}`.
fn topic_of(query: TopicParams, body: &Bytes) -> Result<String, ApiError> {
    if let Some(topic) = query.topic {
        return Ok(topic);
    }
    if !body.is_empty()
        && let Ok(parsed) = serde_json::from_slice::<TopicParams>(body)
        && let Some(topic) = parsed.topic
    {
        return Ok(topic);
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "topic is required (?topic= or a JSON body {\"topic\": ...})",
    ))
}

async fn subscribe(
    State(pubsub): State<Arc<PubSub>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TopicParams>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let topic = topic_of(q, &body)?;
    pubsub.subscribe(&caller, topic.clone()).await?;
    Ok(Json(json!({ "subscribed": true, "topic": topic })))
}

async fn unsubscribe(
    State(pubsub): State<Arc<PubSub>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TopicParams>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let topic = topic_of(q, &body)?;
    let removed = pubsub.unsubscribe(&caller, topic.clone()).await?;
    Ok(Json(json!({ "unsubscribed": removed, "topic": topic })))
}

async fn publish(
    State(pubsub): State<Arc<PubSub>>,
    caller: Caller,
    ApiJson(event): ApiJson<MeshEvent>,
) -> Result<Json<Published>, ApiError> {
    Ok(Json(pubsub.publish(&caller, event).await?))
}
