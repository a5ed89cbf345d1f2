//! The operator's channel routes (operator token only): `POST /mesh/channels/pair`
//! (`{"code"}`: approve a pairing code), `GET /mesh/channels/users` (paired users, and
//! those waiting with a code) and `DELETE /mesh/channels/users/{platform}/{user}` (unpair).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ChannelError, Channels, conversation::normalize_code};
use crate::auth::{Caller, Tokens};
use crate::server::ApiError;

#[derive(Debug, Clone, FromRef)]
struct RouteState {
    channels: Arc<Channels>,
    tokens: Arc<Tokens>,
}

/// The routes, with their own state, to merge into the mesh's app.
pub fn routes(channels: Arc<Channels>, tokens: Arc<Tokens>) -> Router {
    Router::new()
        .route("/mesh/channels/pair", post(pair))
        .route("/mesh/channels/users", get(users))
        .route("/mesh/channels/users/{platform}/{user}", delete(unpair))
        .with_state(RouteState { channels, tokens })
}

fn operator(caller: &Caller) -> Result<(), ApiError> {
    match caller.is_operator() {
        true => Ok(()),
        false => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Only the operator may manage channel users",
        )),
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::UnknownCode { .. } | ChannelError::UnknownUser { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, e.to_string())
            }
            e => {
                tracing::error!(error = %e, "channel request failed");
                ApiError::failed(&e)
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PairBody {
    code: String,
}

async fn pair(
    State(channels): State<Arc<Channels>>,
    caller: Caller,
    body: Result<Json<PairBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let Json(body) = body?;
    let user = channels.pair(&normalize_code(&body.code)).await?;
    Ok(Json(json!({ "paired": user })))
}

async fn users(
    State(channels): State<Arc<Channels>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let (users, pending) = channels.users().await?;
    Ok(Json(json!({ "users": users, "pending": pending })))
}

async fn unpair(
    State(channels): State<Arc<Channels>>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let Path((platform, user)) = path?;
    channels.unpair(&platform, &user).await?;
    Ok(Json(json!({ "unpaired": format!("{platform}:{user}") })))
}
