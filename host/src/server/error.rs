//! The one error type of the HTTP API, and the extractors that reject into it, so every
//! failure, including a malformed body or a missing token, is a JSON `{"detail": ...}`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::mesh::MeshError;
use crate::proxy::ProxyError;
use crate::store::StoreError;
use crate::store::blackboard::BlackboardError;
use openlegion_protocol::ProtocolError;

/// An HTTP error: a status and a short message for the client. Internal details are logged,
/// never sent.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error, "internal error");
        Self::failed(error)
    }

    /// The answer to a failure that is not the caller's (the caller logs `error`): 507 when
    /// the mesh's disk is full (the client can tell that nothing was stored and that trying
    /// again later may work), else 500; details stay in the log.
    pub(crate) fn failed(error: &(dyn std::error::Error + 'static)) -> Self {
        if is_disk_full(error) {
            return Self::new(StatusCode::INSUFFICIENT_STORAGE, DISK_FULL);
        }
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error (see the mesh log)",
        )
    }
}

/// What a client hears when a write failed for lack of disk space.
const DISK_FULL: &str = "No space left on device: the mesh's disk is full, so this was not \
                         stored and nothing was changed; it can be sent again once space is \
                         freed on the mesh's host";

/// Whether `error`, or anything in its chain of causes, is a full disk: SQLite's
/// `SQLITE_FULL`, or `ENOSPC` / `EDQUOT` from the OS (also when a layer kept only its text).
pub(crate) fn is_disk_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let sqlite_full =
        |e: &rusqlite::Error| e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull);
    let mut next = Some(error);
    while let Some(e) = next {
        let typed = e.downcast_ref::<rusqlite::Error>().is_some_and(sqlite_full)
            || e.downcast_ref::<std::sync::Arc<rusqlite::Error>>()
                .is_some_and(|e| sqlite_full(e))
            || e.downcast_ref::<std::io::Error>().is_some_and(|e| {
                matches!(
                    e.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                )
            });
        let text = e.to_string();
        if typed
            || text.contains("database or disk is full")
            || text.contains("No space left on device")
        {
            return true;
        }
        next = e.source();
    }
    false
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "detail": self.detail }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn store_error(e: &StoreError) -> ApiError {
    ApiError::internal(e)
}

impl From<MeshError> for ApiError {
    fn from(e: MeshError) -> Self {
        let status = match &e {
            MeshError::Forbidden { .. }
            | MeshError::OperatorOnly { .. }
            | MeshError::Proxy(ProxyError::Forbidden { .. }) => StatusCode::FORBIDDEN,
            MeshError::KeyNotFound { .. }
            | MeshError::UnknownTarget { .. }
            | MeshError::UnknownAgent { .. } => StatusCode::NOT_FOUND,
            MeshError::Invalid(ProtocolError::ValueTooLarge { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            MeshError::InboxFull { .. } | MeshError::Lane(crate::lanes::LaneError::Full { .. }) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            MeshError::Lane(crate::lanes::LaneError::UnknownItem { .. }) => StatusCode::NOT_FOUND,
            MeshError::Lane(crate::lanes::LaneError::Store(s)) => return store_error(s),
            MeshError::Blackboard(
                BlackboardError::Conflict { .. } | BlackboardError::HistoryExists { .. },
            ) => StatusCode::CONFLICT,
            MeshError::Fetch(
                crate::fetch::FetchError::Failed { .. }
                | crate::fetch::FetchError::Resolve { .. }
                | crate::fetch::FetchError::TooManyRedirects,
            ) => StatusCode::BAD_GATEWAY,
            MeshError::Blackboard(BlackboardError::Store(s))
            | MeshError::Store(s)
            | MeshError::Proxy(ProxyError::Store(s)) => {
                return store_error(s);
            }
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, e.to_string())
    }
}

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> Self {
        MeshError::from(e).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        Self::new(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

/// `Json<T>` whose rejection is an [`ApiError`] (400 malformed, 413 too large, 415 not JSON,
/// 422 wrong shape).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Ok(Self(Json::<T>::from_request(req, state).await?.0))
    }
}

/// `Query<T>` whose rejection is an [`ApiError`].
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Self(
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

/// `Path<T>` whose rejection is an [`ApiError`].
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Self(
            axum::extract::Path::<T>::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_507_wherever_it_is_in_the_chain_and_anything_else_500() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let commit = StoreError::Commit(std::sync::Arc::new(full));
        assert_eq!(
            ApiError::failed(&commit).status,
            StatusCode::INSUFFICIENT_STORAGE
        );
        let io = std::io::Error::from_raw_os_error(28);
        assert_eq!(
            ApiError::failed(&io).status,
            StatusCode::INSUFFICIENT_STORAGE
        );
        assert!(
            ApiError::failed(&io)
                .detail
                .starts_with("No space left on device")
        );
        let busy = StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ));
        assert_eq!(
            ApiError::failed(&busy).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
