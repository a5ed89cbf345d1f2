//! The [`Caller`] extractor: the identity behind the request's bearer token.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::auth::{Caller, Tokens};
use crate::fleet::SocketPeer;

impl<S> FromRequestParts<S> for Caller
where
    Arc<Tokens>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let unauthorized = |detail| ApiError::new(StatusCode::UNAUTHORIZED, detail);
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(unauthorized("Missing authentication token"));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| unauthorized("Invalid authentication token"))?;
        let caller = Arc::<Tokens>::from_ref(state)
            .caller(token)
            .ok_or_else(|| unauthorized("Invalid authentication token"))?;
        // On an agent's own socket, only that agent may speak.
        if let Some(SocketPeer(owner)) = parts.extensions.get::<SocketPeer>()
            && caller != Caller::Agent(owner.clone())
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "This socket belongs to agent {owner}; the token is {}'s",
                    caller.id()
                ),
            ));
        }
        Ok(caller)
    }
}
