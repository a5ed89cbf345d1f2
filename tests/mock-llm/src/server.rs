//! Starting and stopping a mock server, and the in-process handle tests use.
//!
//! The server runs on a spawned tokio task, so it needs a tokio runtime (any
//! flavour). Shutdown is graceful but bounded: requests that hang or wait on
//! a delay are woken and their connections dropped, so stopping never waits
//! on a scripted hang.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::MockError;
use crate::recording::RecordedRequest;
use crate::script::{Script, Turn};
use crate::shared::Shared;
use crate::{anthropic, control, embeddings, openai};

/// Request bodies up to this size are accepted. Long agent conversations
/// exceed axum's 2 MB default; real providers allow far more than this too.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How long [`MockLlm::shutdown`] waits for in-flight responses to finish
/// before abandoning them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where and how to run a mock server.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// The address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Embedding length when a request does not ask for `dimensions`.
    pub embedding_dim: usize,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            embedding_dim: 8,
        }
    }
}

/// A running mock LLM server. Dropping it stops the server.
#[derive(Debug)]
pub struct MockLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockLlm {
    /// Starts a server on `127.0.0.1` with a free port.
    ///
    /// # Panics
    /// If no local port can be bound, which in a test is an environment
    /// problem, not something to handle. Use [`MockLlm::try_start`] otherwise.
    pub async fn start() -> Self {
        match Self::try_start(MockConfig::default()).await {
            Ok(mock) => mock,
            Err(error) => panic!("mock-llm failed to start: {error}"),
        }
    }

    /// Starts a server as configured.
    ///
    /// # Errors
    /// If the address cannot be bound.
    pub async fn try_start(config: MockConfig) -> Result<Self, MockError> {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| MockError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(MockError::LocalAddr)?;
        let (stop, stopping) = watch::channel(false);
        let shared = Arc::new(Shared::new(config.embedding_dim.max(1), stopping.clone()));
        let app = app(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let mut stopping = stopping;
            let signal = async move {
                // An error means the handle is gone, which also means stop.
                let _closed = stopping.wait_for(|stop| *stop).await;
            };
            // Like a real provider: every SSE event leaves at once (no Nagle delay).
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                tracing::error!(%error, "mock-llm server failed");
            }
        });
        tracing::debug!(%addr, "mock-llm listening");
        Ok(Self {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The listening address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OpenAI base URL, `http://127.0.0.1:PORT/v1`.
    #[must_use]
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The Anthropic base URL (clients append `/v1/messages`), same as [`url`](Self::url).
    #[must_use]
    pub fn anthropic_base(&self) -> String {
        self.url()
    }

    /// Appends a turn to the default queue.
    pub fn push(&self, turn: Turn) {
        self.shared.queues().push(None, [turn]);
    }

    /// Appends a turn to `model`'s own queue. From then on that model answers
    /// only from its own queue, never the default one.
    pub fn push_for(&self, model: &str, turn: Turn) {
        self.shared.queues().push(Some(model), [turn]);
    }

    /// Appends turns to `model`'s own queue, or to the default queue for `None`.
    pub fn script(&self, model: Option<&str>, turns: impl IntoIterator<Item = Turn>) {
        self.shared.queues().push(model, turns);
    }

    /// Appends a whole [`Script`], as `POST /_mock/script` does.
    pub fn load(&self, script: Script) {
        self.script(script.model.as_deref(), script.turns);
    }

    /// How many turns are still queued, over all queues.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.shared.queues().pending().total()
    }

    /// Every request received so far, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.all()
    }

    /// The requests whose body named `model`.
    #[must_use]
    pub fn requests_for(&self, model: &str) -> Vec<RecordedRequest> {
        self.shared.log.for_model(model)
    }

    /// Forgets the recorded requests; the queues stay.
    pub fn clear(&self) {
        self.shared.log.clear();
    }

    /// Forgets the recorded requests and every queued turn.
    pub fn reset(&self) {
        self.shared.queues().clear();
        self.shared.log.clear();
    }

    /// Stops the server and waits (a bounded time) until it has stopped.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            tracing::warn!("mock-llm did not stop in time; aborting it");
            task.abort();
        }
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The whole HTTP surface: protocols, embeddings and the control API.
fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(openai::routes())
        .merge(anthropic::routes())
        .merge(embeddings::routes())
        .merge(control::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// Unknown routes get a JSON 404 naming the route, so a client with a wrong
/// base URL finds out at once.
async fn not_found(method: Method, uri: Uri) -> Response {
    let message = format!("mock-llm: no route for {method} {}", uri.path());
    tracing::warn!(%message, "unknown route");
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": {"message": message, "type": "not_found_error"}})),
    )
        .into_response()
}
