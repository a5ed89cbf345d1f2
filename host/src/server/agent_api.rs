//! `/mesh/agents/{agent}/api/{path}`: the operator talking to an agent (chat, stream, reset,
//! status, tasks) through the mesh, which alone can reach the agent's socket. The answer is
//! passed through as it comes, so a streamed chat stays streamed.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

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
    let link = mesh.links.link(&agent, &url);
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes())
        .expect("an HTTP method is a method");
    let mut req = link.request(method, &format!("/{path}")).body(body);
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
