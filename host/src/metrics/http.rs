//! `GET /metrics`, and the middleware that times every request of the mesh's API.
//!
//! `/metrics` needs no token, like the original's (and like `/mesh/health`): a scraper
//! cannot follow the operator token, which changes at every start. It shows names and
//! counts only (agents, models, hook names, routes), never a token, a hook id or any
//! content; the listener is on loopback unless `mesh.host` says otherwise. Agents, which
//! reach the same routes through their sockets, are refused.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::fleet::SocketPeer;
use crate::mesh::Mesh;
use crate::server::ApiError;

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`, to merge into the mesh's app.
pub fn routes(mesh: Arc<Mesh>) -> Router {
    Router::new().route("/metrics", get(serve)).with_state(mesh)
}

async fn serve(State(mesh): State<Arc<Mesh>>, request: Request) -> Response {
    // Agents reach this app through their own sockets too; the fleet's figures are not
    // theirs to read.
    if request.extensions().get::<SocketPeer>().is_some() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "Only the operator's side may read metrics",
        )
        .into_response();
    }
    let body = super::scrape::render(&mesh).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// Wraps `app` so every request is counted and timed by method, matched route and status.
pub fn layer(app: Router) -> Router {
    app.layer(middleware::from_fn(track))
}

async fn track(request: Request, next: Next) -> Response {
    // The matched route, never the raw path: ids in paths would make a label per request.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| route_label(m.as_str()));
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let start = Instant::now();
    let response = next.run(request).await;
    crate::counters::http_request(
        method,
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// A route template as a label: `/mesh/agents/{agent}/api/{*path}` becomes
/// `/mesh/agents/:agent/api/*path`. Braces are valid in a label value, but simple
/// line-based readers of the format (regular expressions up to the first `}`) cut the line
/// there.
fn route_label(template: &str) -> String {
    template
        .replace("{*", "*")
        .replace('{', ":")
        .replace('}', "")
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_templates_lose_their_braces() {
        assert_eq!(
            super::route_label("/mesh/agents/{agent}/api/{*path}"),
            "/mesh/agents/:agent/api/*path"
        );
        assert_eq!(super::route_label("/metrics"), "/metrics");
    }
}
