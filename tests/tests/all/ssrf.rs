//! The SSRF suite: one table of hostile URLs, sent through every way an agent reaches the
//! web (`POST /mesh/http`, the browser's navigation, web search's redirects), each of which
//! must refuse it with the policy's reason and never reach the target. The target is a
//! real server on 127.0.0.2 counting every request it gets; the only exempt host
//! (`http.allow_private_hosts`) is 127.0.0.1, where a "public" site redirects.
//!
//! What is covered: loopback and private addresses by name and by number, decimal, octal
//! and hex IPv4, `0.0.0.0`, IPv4-mapped, -compatible, NAT64 and 6to4 IPv6, link-local and
//! the cloud metadata addresses, userinfo and fragment tricks, non-HTTP schemes, redirects
//! to all of these, and a caller's `Host` header. Rebinding between check and connect is
//! shown in `host/src/fetch.rs` (`the_checked_address_is_pinned_for_the_connection`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Redirect;
use axum::routing::get;
use openlegion_tests::{Client, MeshOptions, MeshProcess};
use serde_json::json;

use crate::browser::chromium_present;

/// A server on 127.0.0.2 that must never be reached; returns its port and hit counter.
async fn target() -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let app = Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "internal secret" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, hits)
}

/// The exempt "public" site on 127.0.0.1: `/to/{n}` redirects to the n-th hostile URL,
/// `/host` echoes the Host header it got.
async fn redirector(urls: Vec<String>) -> String {
    let urls = Arc::new(urls);
    let app = Router::new()
        .route(
            "/to/{n}",
            get(move |Path(n): Path<usize>| {
                let urls = Arc::clone(&urls);
                async move { Redirect::temporary(&urls[n]) }
            }),
        )
        .route(
            "/host",
            get(|headers: HeaderMap| async move {
                headers["host"].to_str().unwrap_or_default().to_owned()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The hostile URLs, `{p}` standing for the target's port.
fn hostile(p: u16) -> Vec<String> {
    [
        // Loopback and private, by name and by number.
        "http://127.0.0.2:{p}/",
        "http://localhost:{p}/",
        "http://localhost.:{p}/",
        "http://LOCALHOST:{p}/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        // One address, many spellings (the URL parser reads them all as 127.0.0.2).
        "http://2130706434:{p}/",
        "http://0177.0.0.2:{p}/",
        "http://0x7f.2:{p}/",
        "http://0x7f000002:{p}/",
        "http://127.2:{p}/",
        "http://127.0.0.2.:{p}/",
        "http://0:{p}/",
        "http://0.0.0.0:{p}/",
        // IPv6 forms of IPv4 addresses, and IPv6's own private ranges.
        "http://[::1]:{p}/",
        "http://[::ffff:127.0.0.2]:{p}/",
        "http://[::ffff:7f00:2]:{p}/",
        "http://[0:0:0:0:0:ffff:127.0.0.2]:{p}/",
        "http://[::127.0.0.2]:{p}/",
        "http://[64:ff9b::7f00:2]:{p}/",
        "http://[2002:7f00:2::1]:{p}/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[::]:{p}/",
        // Link-local and the cloud metadata services.
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        // Userinfo and fragment tricks.
        "http://evil.example@127.0.0.2:{p}/",
        "http://127.0.0.2:{p}@evil.example/",
        "http://user:pass@example.com/",
        "http://127.0.0.2:{p}#@example.com/",
        "http://127.0.0.2:{p}\\@example.com/",
        // Other schemes.
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "gopher://127.0.0.2:{p}/_GET%20/",
        "ftp://127.0.0.2:{p}/",
        "dict://127.0.0.2:{p}/",
        "ldap://127.0.0.2:{p}/",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "view-source:http://127.0.0.2:{p}/",
        "chrome://version",
    ]
    .iter()
    .map(|u| u.replace("{p}", &p.to_string()))
    .collect()
}

/// Whether `detail` is one of the policy's refusals, or a name that does not resolve at
/// all (`localhost.` on some resolvers): never a connection that was tried.
fn refused_by_policy(detail: &str) -> bool {
    [
        "private or local address",
        "cannot resolve",
        "only http and https",
        "credentials in URLs",
        "invalid URL",
    ]
    .iter()
    .any(|r| detail.contains(r))
}

async fn mesh() -> (MeshProcess, Client) {
    let mesh = MeshProcess::start(MeshOptions {
        mesh_yaml: "http:\n  allow_private_hosts: [\"127.0.0.1\"]\n".into(),
        ..MeshOptions::with_permissions(
            json!({"default": {"can_use_internet": true, "can_use_browser": true}}),
        )
    })
    .await;
    let agent = mesh.agent("a").await;
    (mesh, agent)
}

#[tokio::test]
async fn http_request_refuses_every_hostile_url_and_redirect() {
    let (port, hits) = target().await;
    let urls = hostile(port);
    let site = redirector(urls.clone()).await;
    let (_mesh, agent) = mesh().await;
    let fetch = |url: String| {
        let agent = agent.clone();
        async move {
            agent
                .post(
                    "/mesh/http",
                    &json!({"method": "GET", "url": url, "headers": [], "timeout_ms": 3000}),
                )
                .await
        }
    };
    let mut refused = 0;
    for (n, url) in urls.iter().enumerate() {
        for (how, asked) in [
            ("direct", url.clone()),
            ("redirect", format!("{site}/to/{n}")),
        ] {
            let reply = fetch(asked).await;
            assert!(
                matches!(reply.status.as_u16(), 400 | 502) && refused_by_policy(reply.detail()),
                "{how} {url}: {} {}",
                reply.status,
                reply.body
            );
            refused += 1;
        }
    }
    // A caller's Host header does not choose where the request goes or what it says.
    for header in ["Host", "host", "HOST"] {
        let reply = agent
            .post(
                "/mesh/http",
                &json!({"method": "GET", "url": format!("{site}/host"),
                        "headers": [[header, format!("127.0.0.2:{port}")]]}),
            )
            .await
            .expect(200);
        assert_eq!(reply["body"], site.trim_start_matches("http://"), "{reply}");
        refused += 1;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the target was reached");
    eprintln!("SSRF http_request: {refused} hostile requests refused");
}

#[tokio::test]
async fn the_browser_refuses_every_hostile_navigation_and_redirect() {
    if !chromium_present("the_browser_refuses_every_hostile_navigation_and_redirect") {
        return;
    }
    let (port, hits) = target().await;
    let urls = hostile(port);
    let site = redirector(urls.clone()).await;
    let (_mesh, agent) = mesh().await;
    let mut refused = 0;
    for (n, url) in urls.iter().enumerate() {
        let reply = agent
            .post("/mesh/browser", &json!({"action": "navigate", "url": url}))
            .await;
        assert!(
            matches!(reply.status.as_u16(), 403 | 422),
            "navigate {url}: {} {}",
            reply.status,
            reply.body
        );
        refused += 1;
        // Through a redirect the navigation's hop is blocked: the page is an error page
        // or the navigation fails; either way the target is not reached (checked below).
        let reply = agent
            .post(
                "/mesh/browser",
                &json!({"action": "navigate", "url": format!("{site}/to/{n}")}),
            )
            .await;
        assert!(
            !reply.body.to_string().contains("internal secret"),
            "redirect to {url}: {}",
            reply.body
        );
        refused += 1;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the target was reached");
    eprintln!("SSRF browser: {refused} hostile navigations refused");
}

#[tokio::test]
async fn web_search_refuses_a_provider_that_redirects_inward() {
    let (port, hits) = target().await;
    let urls = hostile(port);
    let site = redirector(urls.clone()).await;
    let mut refused = 0;
    // The provider is the operator's choice; what it redirects to is not.
    for n in [0, 1, 9, 16, 26, 28] {
        let mesh = MeshProcess::start(MeshOptions {
            mesh_yaml: format!(
                "http:\n  allow_private_hosts: [\"127.0.0.1\"]\nsearch:\n  base_url: {site}/to/{n}\n"
            ),
            ..MeshOptions::with_permissions(json!({"default": {"can_use_internet": true}}))
        })
        .await;
        let reply = mesh
            .agent("a")
            .await
            .post("/mesh/search", &json!({"query": "x"}))
            .await;
        assert!(
            reply.status == 400 && refused_by_policy(reply.detail()),
            "search redirected to {}: {} {}",
            urls[n],
            reply.status,
            reply.body
        );
        refused += 1;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the target was reached");
    eprintln!("SSRF web_search: {refused} hostile redirects refused");
}
