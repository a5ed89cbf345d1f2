//! The browser's only way out: an HTTP proxy on 127.0.0.1 (ephemeral port, one per mesh,
//! started with the first browser) that Chromium is launched to use for every connection
//! it makes, with the checked address pinned for each.
//!
//! Why a proxy: the mesh checks a page's requests by URL (the Fetch-domain guard of
//! `openlegion-browser`), but Chromium then resolved the name again itself, so a DNS answer
//! that changed between the check and the connection (rebinding) took the request inward.
//! Here the mesh resolves each target once with [`crate::fetch::check`] (the one SSRF
//! policy: allowlist, private addresses, `http.allow_private_hosts`) and connects only to
//! the address that check approved; Chromium resolves nothing (it is started with
//! `host-resolver-rules` that answer every name "not found"). A proxy sees every
//! connection of Chromium's network stack (navigations, sub-resources, redirects,
//! fetch/XHR, CORS preflights, service workers, WebSockets, HTTPS as opaque tunnels) and
//! keeps streaming; the alternative, fulfilling requests from the mesh over CDP
//! (`Fetch.fulfillRequest`), cannot see WebSockets, buffers whole bodies, and would re-make
//! Chromium's caching and cookie handling by hand.
//!
//! - Plain `http://` (absolute-form requests) is forwarded with the pinned client of
//!   [`crate::fetch`] (no redirects followed: Chromium asks again for the next hop, which
//!   is checked again), streaming both ways.
//! - `CONNECT host:port` (HTTPS, `wss:`) opens a tunnel only to the checked address of
//!   `host:port`; TLS stays end to end between Chromium and the site.
//! - A refused target gets `403` with `refused by the mesh: <reason>` (a plain-HTTP page
//!   shows it as its text); the reason is kept in [`Refusals`] so the browser tool can name
//!   it when a navigation fails on a refused tunnel.
//!
//! It listens on loopback only, like the mesh's API: sandboxed agents have their own
//! network namespace and cannot reach it, and it grants a local process nothing beyond
//! what that process could reach directly (every connection passes the mesh's policy).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use reqwest::Url;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::config::HttpSection;
use crate::fetch::FetchError;

/// How long opening a connection to a site may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Refusals remembered for the browser tool's messages: the recent ones are enough.
const MAX_REFUSALS: usize = 64;

/// Recent refusals by `host:port`, newest last.
#[derive(Debug, Default)]
pub struct Refusals(Mutex<VecDeque<(String, String)>>);

impl Refusals {
    fn record(&self, authority: String, reason: String) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if list.len() == MAX_REFUSALS {
            list.pop_front();
        }
        list.push_back((authority, reason));
    }

    /// Why the proxy last refused a connection to `url`'s host and port, if it did.
    pub fn for_url(&self, url: &str) -> Option<String> {
        let key = authority_of(&Url::parse(url).ok()?)?;
        let list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .rev()
            .find(|(a, _)| *a == key)
            .map(|(_, r)| r.clone())
    }
}

/// `host:port` of `url`, lowercase, the port spelled out.
fn authority_of(url: &Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?
    ))
}

/// The running proxy; stops when dropped.
#[derive(Debug)]
pub struct BrowseProxy {
    addr: SocketAddr,
    refusals: Arc<Refusals>,
    task: JoinHandle<()>,
}

impl Drop for BrowseProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct Shared {
    policy: HttpSection,
    refusals: Arc<Refusals>,
}

impl BrowseProxy {
    /// Listens on 127.0.0.1 (an ephemeral port) and serves under `policy`. Must be called
    /// inside a tokio runtime.
    pub fn start(policy: HttpSection) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        let refusals = Arc::new(Refusals::default());
        let shared = Arc::new(Shared {
            policy,
            refusals: Arc::clone(&refusals),
        });
        let task = tokio::spawn(accept(listener, shared));
        tracing::info!(%addr, "browser proxy listening");
        Ok(Self {
            addr,
            refusals,
            task,
        })
    }

    /// The value of Chromium's `--proxy-server`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn refusals(&self) -> &Arc<Refusals> {
        &self.refusals
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, most likely: wait instead of spinning.
                tracing::warn!(%error, "browser proxy: accepting a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(req, &shared).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "browser proxy connection");
            }
        });
    }
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Body> {
    if req.method() == Method::CONNECT {
        tunnel(req, shared).await
    } else {
        forward(req, shared).await
    }
}

fn text(status: StatusCode, message: String) -> Response<Body> {
    let mut response = Response::new(Body::from(message + "\n"));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Checks `url` with the mesh's policy; on refusal, the 403 to answer with (recorded).
async fn check(url: &Url, shared: &Shared) -> Result<SocketAddr, Response<Body>> {
    crate::fetch::check(url, &shared.policy)
        .await
        .map_err(|error| {
            let reason = error.to_string();
            tracing::info!(%url, %reason, "browser connection refused");
            if let Some(authority) = authority_of(url) {
                shared.refusals.record(authority, reason.clone());
            }
            match error {
                FetchError::Resolve { .. } => {
                    text(StatusCode::BAD_GATEWAY, format!("the mesh {reason}"))
                }
                _ => text(
                    StatusCode::FORBIDDEN,
                    format!("refused by the mesh: {reason}"),
                ),
            }
        })
}

/// `CONNECT host:port`: a byte tunnel to the checked address of `host:port`.
async fn tunnel(req: Request<Incoming>, shared: &Shared) -> Response<Body> {
    let Some(authority) = req.uri().authority().filter(|a| a.port().is_some()) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("CONNECT needs host:port, not {}", req.uri()),
        );
    };
    // The check reads only the host and port; `https` carries them for ws:// tunnels too.
    let Ok(url) = Url::parse(&format!("https://{authority}/")) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("{authority} is not host:port"),
        );
    };
    let addr = match check(&url, shared).await {
        Ok(addr) => addr,
        Err(refused) => return refused,
    };
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            return text(
                StatusCode::BAD_GATEWAY,
                format!("cannot connect to {authority}: {error}"),
            );
        }
        Err(_) => {
            return text(
                StatusCode::GATEWAY_TIMEOUT,
                format!("connecting to {authority} took too long"),
            );
        }
    };
    tokio::spawn(async move {
        let mut upstream = upstream;
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let mut client = TokioIo::new(upgraded);
                if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                {
                    tracing::debug!(%error, "browser tunnel closed");
                }
            }
            Err(error) => tracing::debug!(%error, "browser tunnel: no upgrade"),
        }
    });
    Response::new(Body::empty())
}

/// Hop-by-hop headers (and `Host`, which the URL decides), never forwarded, plus those the
/// `Connection` header names.
fn end_to_end(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &header::HeaderValue)> {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    headers.iter().filter(move |(name, _)| {
        !matches!(
            name.as_str(),
            "connection"
                | "keep-alive"
                | "proxy-connection"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
                | "host"
        ) && !named.iter().any(|n| n == name.as_str())
    })
}

/// A plain `http://` request in absolute form, sent on with the pinned client.
async fn forward(req: Request<Incoming>, shared: &Shared) -> Response<Body> {
    let Ok(url) = Url::parse(&req.uri().to_string()) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("not a proxy request: {}", req.uri()),
        );
    };
    if url.scheme() != "http" {
        return text(
            StatusCode::BAD_REQUEST,
            format!("only http:// is forwarded (https goes through CONNECT), not {url}"),
        );
    }
    let addr = match check(&url, shared).await {
        Ok(addr) => addr,
        Err(refused) => return refused,
    };
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let client = match crate::fetch::pinned_builder(host, addr)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("no HTTP client: {error}"),
            );
        }
    };
    let (parts, body) = req.into_parts();
    let mut request = client.request(parts.method, url.clone());
    for (name, value) in end_to_end(&parts.headers) {
        request = request.header(name, value);
    }
    let has_body = parts.headers.contains_key(header::TRANSFER_ENCODING)
        || parts
            .headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|l| l != "0");
    if has_body {
        request = request.body(reqwest::Body::wrap_stream(
            Body::new(body).into_data_stream(),
        ));
    }
    let upstream = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            return text(
                StatusCode::BAD_GATEWAY,
                format!("cannot reach {url}: {error}"),
            );
        }
    };
    let mut response = Response::builder().status(upstream.status());
    for (name, value) in end_to_end(upstream.headers()) {
        response = response.header(name, value);
    }
    response
        .body(Body::from_stream(upstream.bytes_stream()))
        .unwrap_or_else(|error| text(StatusCode::BAD_GATEWAY, error.to_string()))
}

// The tests name hosts through the resolver's hook, which only debug builds have.
#[cfg(all(test, debug_assertions))]
mod tests;
