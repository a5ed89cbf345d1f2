//! The mesh's HTTP API (axum). One router per feature, merged in [`app`]; handlers parse,
//! call a [`crate::mesh`] service with the verified [`Caller`](crate::auth::Caller), and map
//! its error to a status with [`ApiError`].

mod admin;
mod agent_api;
mod agents;
mod api;
mod auth;
mod blackboard;
mod error;
mod lanes;
mod messages;
mod pubsub;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::StatusCode;
use axum::serve::ListenerExt;
use futures_util::future::BoxFuture;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub(crate) use error::{ApiJson, ApiPath, ApiQuery};

use crate::auth::Tokens;
use crate::fleet::Fleet;
use crate::mesh::{Blackboard, Inboxes, Mesh, MeshError, Messages, PubSub, Reloaded};
use crate::proxy::Proxy;

/// What `POST /mesh/reload` runs. The server does not know every subsystem that reads a
/// config file (agents, permissions, hooks, …); whoever assembles the mesh does, and hands
/// the server this.
#[derive(Clone)]
pub struct ReloadHook(
    Arc<dyn Fn() -> BoxFuture<'static, Result<Reloaded, MeshError>> + Send + Sync>,
);

impl ReloadHook {
    pub fn new(
        reload: impl Fn() -> BoxFuture<'static, Result<Reloaded, MeshError>> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(reload))
    }

    pub(crate) async fn run(&self) -> Result<Reloaded, MeshError> {
        (self.0)().await
    }
}

impl std::fmt::Debug for ReloadHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadHook")
    }
}

/// The state handlers draw on; each takes only the part it needs.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    mesh: Arc<Mesh>,
    tokens: Arc<Tokens>,
    blackboard: Arc<Blackboard>,
    pubsub: Arc<PubSub>,
    messages: Arc<Messages>,
    inboxes: Arc<Inboxes>,
    proxy: Arc<Proxy>,
    fleet: Arc<Fleet>,
    reload: ReloadHook,
}

impl AppState {
    pub fn new(mesh: Arc<Mesh>, fleet: Arc<Fleet>, reload: ReloadHook) -> Self {
        Self {
            tokens: Arc::clone(&mesh.tokens),
            blackboard: Arc::clone(&mesh.blackboard),
            pubsub: Arc::clone(&mesh.pubsub),
            messages: Arc::clone(&mesh.messages),
            inboxes: Arc::clone(&mesh.inboxes),
            proxy: Arc::clone(&mesh.proxy),
            fleet,
            mesh,
            reload,
        }
    }
}

/// The whole API. `max_body` bounds every request body (larger ones get 413).
pub fn app(state: AppState, max_body: usize) -> Router {
    Router::new()
        .merge(admin::routes())
        .merge(agents::routes())
        .merge(agent_api::routes())
        .merge(api::routes())
        .merge(blackboard::routes())
        .merge(pubsub::routes())
        .merge(messages::routes())
        .merge(lanes::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "Not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // Without TCP_NODELAY a streamed token can wait for Nagle's algorithm and the client's
    // delayed ACK: about 40 ms per SSE event on Linux.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
