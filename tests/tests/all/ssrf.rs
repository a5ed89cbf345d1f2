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
//! shown in `host/src/fetch.rs` (`the_checked_address_is_pinned_for_the_connection`), in
//! `host/src/browse_proxy/tests.rs`, and here for the browser with real Chromium
//! (`the_browser_connects_only_to_the_address_the_mesh_checked`).

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

/// A listener on 127.0.0.2 counting every connection it gets (plain HTTP or a tunnel's
/// TLS alike); returns its port and the count.
async fn counted_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepts);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, accepts)
}

/// DNS rebinding against the browser. The mesh answers names itself here (its debug-build
/// test hook, `OPENLEGION_TEST_RESOLVE`): `site.invalid` is the exempt local site, and each
/// `rebind-*.invalid` answers a public address to the URL checks before its connection
/// (the guard's for a sub-resource; the service's and the guard's for a navigation) and
/// 127.0.0.2 to every later question. Chromium resolves nothing: the page on
/// `site.invalid`, a name no DNS knows, loads only because its connection went through the
/// mesh's proxy; the proxy checks again at connect time and refuses the inward answer for
/// the page's image, its plain and its HTTPS `fetch()` (a CONNECT tunnel), and a
/// plain-HTTP navigation. (An HTTPS navigation is not among them: Chromium preconnects a
/// tunnel before the request the guard sees, so the number of questions before the
/// connection is not fixed; the proxy refuses that tunnel just the same.)
#[tokio::test]
async fn the_browser_connects_only_to_the_address_the_mesh_checked() {
    if !chromium_present("the_browser_connects_only_to_the_address_the_mesh_checked") {
        return;
    }
    let (port, accepts) = counted_listener().await;
    let page = format!(
        "<html><head><title>Pinned page</title></head><body><p>site body</p>\
         <img src=\"http://rebind-img.invalid:{port}/x.png\">\
         <script>window.fetched = Promise.allSettled([\
           fetch('http://rebind-fetch.invalid:{port}/f', {{mode: 'no-cors'}}),\
           fetch('https://rebind-tls.invalid:{port}/t', {{mode: 'no-cors'}})\
         ]).then(all => all.map(r => r.status).join(' '));</script>\
         </body></html>"
    );
    let app = Router::new().route(
        "/page",
        get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let answers = "site.invalid=127.0.0.1;\
                   rebind-img.invalid=1.1.1.1>127.0.0.2;\
                   rebind-fetch.invalid=1.1.1.1>127.0.0.2;\
                   rebind-tls.invalid=1.1.1.1>127.0.0.2;\
                   rebind-nav.invalid=1.1.1.1>1.1.1.1>127.0.0.2";
    let mesh = MeshProcess::start(MeshOptions {
        mesh_yaml: "http:\n  allow_private_hosts: [\"127.0.0.1\", \"site.invalid\"]\n".into(),
        env: vec![("OPENLEGION_TEST_RESOLVE".into(), answers.into())],
        ..MeshOptions::with_permissions(json!({"default": {"can_use_browser": true}}))
    })
    .await;
    let agent = mesh.agent("a").await;
    let browse = |action: serde_json::Value| {
        let agent = agent.clone();
        async move { agent.post("/mesh/browser", &action).await }
    };

    let loaded = browse(json!({"action": "navigate",
                               "url": format!("http://site.invalid:{site_port}/page")}))
    .await
    .expect(200);
    assert_eq!(loaded["title"], "Pinned page", "{loaded}");
    let fetched = browse(json!({"action": "evaluate", "script": "window.fetched"}))
        .await
        .expect(200);
    // The plain fetch gets the proxy's 403 (opaque to a no-cors page), the HTTPS one a
    // refused tunnel.
    assert_eq!(fetched["json"], "\"fulfilled rejected\"", "{fetched}");

    let plain = browse(json!({"action": "navigate",
                              "url": format!("http://rebind-nav.invalid:{port}/")}))
    .await
    .expect(200);
    assert!(
        plain["text"].as_str().unwrap_or_default().contains(
            "refused by the mesh: rebind-nav.invalid resolves to 127.0.0.2, a private or local address"
        ),
        "{plain}"
    );
    let log = mesh.log();
    for name in ["rebind-img", "rebind-fetch", "rebind-tls", "rebind-nav"] {
        assert!(
            log.lines().any(|l| l.contains("browser connection refused")
                && l.contains(&format!("{name}.invalid resolves to 127.0.0.2"))),
            "the proxy did not refuse {name}.invalid"
        );
    }
    assert_eq!(accepts.load(Ordering::SeqCst), 0, "127.0.0.2 was reached");
}
