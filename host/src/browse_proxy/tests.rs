//! The proxy against real servers on loopback, with names only the mesh's resolver knows
//! (`.invalid`, answered by the debug-build test hook of [`crate::resolve`]): what is
//! reached is reached at the address the check saw, and nothing private is reached.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::resolve::test_hook;

fn policy(exempt: &[&str]) -> HttpSection {
    HttpSection {
        allow_private_hosts: exempt.iter().map(|h| h.to_string()).collect(),
        ..HttpSection::default()
    }
}

/// A site on 127.0.0.1 that says which Host and path it was asked for (and echoes a POST).
async fn site() -> SocketAddr {
    let app = axum::Router::new().fallback(
        |method: Method, headers: HeaderMap, uri: axum::http::Uri, body: String| async move {
            let host = headers.get("host").and_then(|h| h.to_str().ok());
            let hop = headers.contains_key("proxy-connection");
            format!(
                "reached {method} {} {}{body}{}",
                host.unwrap_or("-"),
                uri.path(),
                if hop {
                    " (hop-by-hop header leaked)"
                } else {
                    ""
                }
            )
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A listener on 127.0.0.2 that must never be reached: counts the connections it gets.
async fn target() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepts);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, accepts)
}

/// A client that sends plain HTTP through the proxy (absolute-form requests).
fn client(proxy: &BrowseProxy) -> reqwest::Client {
    crate::http_client::builder()
        .proxy(reqwest::Proxy::http(proxy.url()).unwrap())
        .build()
        .unwrap()
}

/// Sends `CONNECT authority` and returns the status and the open connection (a tunnel when
/// the status is 200).
async fn connect(proxy: &BrowseProxy, authority: &str) -> (u16, TcpStream) {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "proxy closed early"
        );
        got.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&got)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {got:?}"));
    (status, stream)
}

/// Asks for `/tunnelled` over an open tunnel, as plain HTTP.
async fn through(mut tunnel: TcpStream, host: &str) -> String {
    let request = format!("GET /tunnelled HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tunnel.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tunnel.read_to_string(&mut answer).await.unwrap();
    answer
}

/// Chromium never resolves a name: a `.invalid` name, which no DNS resolver knows, is
/// reached through the proxy at the address the mesh's resolver gave, for plain HTTP and
/// for a CONNECT tunnel.
#[tokio::test]
async fn a_name_only_the_mesh_knows_is_reached_at_its_pinned_address() {
    let site = site().await;
    test_hook::set(&format!("known.invalid={}", site.ip()));
    let proxy = BrowseProxy::start(policy(&["known.invalid"])).unwrap();
    let host = format!("known.invalid:{}", site.port());
    let reply = client(&proxy)
        .post(format!("http://{host}/page"))
        .header("proxy-connection", "keep-alive")
        .body(" with a body")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.text().await.unwrap(),
        format!("reached POST {host} /page with a body")
    );
    let (status, tunnel) = connect(&proxy, &host).await;
    assert_eq!(status, 200);
    let answer = through(tunnel, &host).await;
    assert!(
        answer.ends_with(&format!("reached GET {host} /tunnelled")),
        "{answer}"
    );
    // Nothing else knows the name.
    assert!(tokio::net::lookup_host(host.as_str()).await.is_err());
}

/// A name the mesh resolves to a private address is refused, plain and tunnelled, with the
/// reason in the 403 and kept for the browser tool; the address is never connected to.
#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_for_http_and_connect() {
    let (target, accepts) = target().await;
    test_hook::set("inner.invalid=127.0.0.2");
    let proxy = BrowseProxy::start(policy(&[])).unwrap();
    let host = format!("inner.invalid:{}", target.port());
    let reply = client(&proxy)
        .get(format!("http://{host}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
    let body = reply.text().await.unwrap();
    assert!(
        body.starts_with("refused by the mesh: inner.invalid resolves to 127.0.0.2, a private"),
        "{body}"
    );
    let (status, _) = connect(&proxy, &host).await;
    assert_eq!(status, 403);
    let kept = proxy.refusals().for_url(&format!("https://{host}/x"));
    assert!(
        kept.is_some_and(|r| r.contains("127.0.0.2")),
        "no refusal kept"
    );
    assert_eq!(proxy.refusals().for_url("https://elsewhere.invalid/"), None);
    assert_eq!(accepts.load(Ordering::SeqCst), 0, "the target was reached");
}

/// Literal private addresses, however spelled, are refused before any connection.
#[tokio::test]
async fn a_connect_to_a_literal_private_address_is_refused() {
    let (target, accepts) = target().await;
    let proxy = BrowseProxy::start(policy(&[])).unwrap();
    let port = target.port();
    for authority in [
        format!("127.0.0.2:{port}"),
        format!("[::ffff:127.0.0.2]:{port}"),
        format!("0x7f000002:{port}"),
        format!("localhost:{port}"),
        format!("0.0.0.0:{port}"),
        "169.254.169.254:80".to_owned(),
        "[fd00:ec2::254]:443".to_owned(),
    ] {
        let (status, _) = connect(&proxy, &authority).await;
        assert_eq!(status, 403, "CONNECT {authority}");
    }
    let reply = client(&proxy)
        .get(format!("http://127.0.0.2:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
    assert_eq!(accepts.load(Ordering::SeqCst), 0, "the target was reached");
}

/// Rebinding: the name's first answer is the site, every later one the private target.
/// The names are exempt, so only the pin decides: the proxy resolves once, checks that
/// answer and connects to it, never asking again.
#[tokio::test]
async fn the_connection_goes_to_the_answer_the_check_saw() {
    let site = site().await;
    let (target, accepts) = target().await;
    test_hook::set(&format!(
        "flip-http.invalid={site}>{target};flip-tunnel.invalid={site}>{target}"
    ));
    let proxy = BrowseProxy::start(policy(&["flip-http.invalid", "flip-tunnel.invalid"])).unwrap();
    let reply = client(&proxy)
        .get("http://flip-http.invalid/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.text().await.unwrap(),
        "reached GET flip-http.invalid /"
    );
    let (status, tunnel) = connect(&proxy, "flip-tunnel.invalid:80").await;
    assert_eq!(status, 200);
    assert!(
        through(tunnel, "flip-tunnel.invalid")
            .await
            .ends_with("reached GET flip-tunnel.invalid /tunnelled")
    );
    assert_eq!(
        accepts.load(Ordering::SeqCst),
        0,
        "the second answer was used"
    );
}

/// Requests that are not proxy requests get a clear 400, not a connection.
#[tokio::test]
async fn requests_a_proxy_does_not_serve_are_refused() {
    let proxy = BrowseProxy::start(policy(&[])).unwrap();
    let plain = crate::http_client::builder().no_proxy().build().unwrap();
    let reply = plain.get(proxy.url() + "/x").send().await.unwrap();
    assert_eq!(reply.status(), 400);
    assert!(reply.text().await.unwrap().contains("not a proxy request"));
    let (status, _) = connect(&proxy, "no-port.invalid").await;
    assert_eq!(status, 400);
}
