//! A stand-in for an agent's HTTP API that records what the mesh pushes to `POST /message`
//! and answers with scripted statuses, for testing delivery and retries.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Inner {
    /// Statuses to answer with, in order; 200 once exhausted.
    statuses: VecDeque<u16>,
    /// Every request body received, including refused ones.
    attempts: Vec<Value>,
    /// Bodies answered with 2xx.
    accepted: Vec<Value>,
}

/// A fake agent listening on an ephemeral loopback port.
#[derive(Debug, Clone)]
pub struct FakeAgent {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeAgent {
    /// Starts a fake agent that first answers with `statuses`, then 200.
    pub async fn start(statuses: impl IntoIterator<Item = u16>) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            statuses: statuses.into_iter().collect(),
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .route("/message", post(message))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn attempts(&self) -> Vec<Value> {
        self.inner.lock().unwrap().attempts.clone()
    }

    pub fn accepted(&self) -> Vec<Value> {
        self.inner.lock().unwrap().accepted.clone()
    }
}

async fn message(
    State(inner): State<Arc<Mutex<Inner>>>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut inner = inner.lock().unwrap();
    inner.attempts.push(body.clone());
    let status = inner.statuses.pop_front().unwrap_or(200);
    if (200..300).contains(&status) {
        inner.accepted.push(body);
    }
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({ "received": (200..300).contains(&status) })),
    )
}
