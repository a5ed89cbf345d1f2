//! `/mesh/blackboard/…`: read, list, write, delete, claim and watch keys.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use openlegion_protocol::{BlackboardEntry, ClaimRequest, WatchRequest};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::auth::Caller;
use crate::mesh::Blackboard;

pub(super) fn routes() -> Router<AppState> {
    // `claim` and `watch` are POST actions; a key literally named so stays readable and
    // writable with the other methods.
    Router::new()
        .route("/mesh/blackboard", get(list))
        .route("/mesh/blackboard/", get(list))
        .route(
            "/mesh/blackboard/claim",
            post(claim)
                .get(get_claim)
                .put(put_claim)
                .delete(delete_claim),
        )
        .route(
            "/mesh/blackboard/watch",
            post(watch)
                .get(get_watch)
                .put(put_watch)
                .delete(delete_watch),
        )
        .route(
            "/mesh/blackboard/{*key}",
            get(get_entry).put(put_entry).delete(delete_entry),
        )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    prefix: String,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    1000
}

#[derive(Debug, Deserialize)]
struct PutQuery {
    ttl: Option<i64>,
}

type Bb = State<Arc<Blackboard>>;

async fn list(
    State(bb): Bb,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<Vec<BlackboardEntry>>, ApiError> {
    Ok(axum::Json(bb.list(&caller, q.prefix, q.limit).await?))
}

async fn read(
    bb: &Blackboard,
    caller: &Caller,
    key: String,
) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    Ok(axum::Json(bb.get(caller, key).await?))
}

async fn write(
    bb: &Blackboard,
    caller: &Caller,
    key: String,
    ttl: Option<i64>,
    value: Map<String, Value>,
) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    Ok(axum::Json(bb.put(caller, key, value, ttl).await?))
}

async fn remove(
    bb: &Blackboard,
    caller: &Caller,
    key: String,
) -> Result<axum::Json<Value>, ApiError> {
    bb.delete(caller, key.clone()).await?;
    Ok(axum::Json(json!({ "deleted": true, "key": key })))
}

async fn get_entry(
    State(bb): Bb,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    read(&bb, &caller, key).await
}

async fn put_entry(
    State(bb): Bb,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiQuery(q): ApiQuery<PutQuery>,
    ApiJson(value): ApiJson<Map<String, Value>>,
) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    write(&bb, &caller, key, q.ttl, value).await
}

async fn delete_entry(
    State(bb): Bb,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    remove(&bb, &caller, key).await
}

async fn claim(
    State(bb): Bb,
    caller: Caller,
    ApiJson(req): ApiJson<ClaimRequest>,
) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    Ok(axum::Json(
        bb.claim(&caller, req.key, req.value, req.expected_version)
            .await?,
    ))
}

async fn watch(
    State(bb): Bb,
    caller: Caller,
    ApiJson(req): ApiJson<WatchRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    bb.watch(&caller, req.pattern.clone()).await?;
    Ok(axum::Json(
        json!({ "watching": true, "pattern": req.pattern }),
    ))
}

async fn get_claim(State(bb): Bb, caller: Caller) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    read(&bb, &caller, "claim".into()).await
}

async fn put_claim(
    State(bb): Bb,
    caller: Caller,
    ApiQuery(q): ApiQuery<PutQuery>,
    ApiJson(value): ApiJson<Map<String, Value>>,
) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    write(&bb, &caller, "claim".into(), q.ttl, value).await
}

async fn delete_claim(State(bb): Bb, caller: Caller) -> Result<axum::Json<Value>, ApiError> {
    remove(&bb, &caller, "claim".into()).await
}

async fn get_watch(State(bb): Bb, caller: Caller) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    read(&bb, &caller, "watch".into()).await
}

async fn put_watch(
    State(bb): Bb,
    caller: Caller,
    ApiQuery(q): ApiQuery<PutQuery>,
    ApiJson(value): ApiJson<Map<String, Value>>,
) -> Result<axum::Json<BlackboardEntry>, ApiError> {
    write(&bb, &caller, "watch".into(), q.ttl, value).await
}

async fn delete_watch(State(bb): Bb, caller: Caller) -> Result<axum::Json<Value>, ApiError> {
    remove(&bb, &caller, "watch".into()).await
}
