//! The browser service in a real Chromium against pages served by a local axum server.
//! Skips (loudly) only where no Chromium is installed, and never in CI.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use openlegion_browser::{BrowserError, BrowserService, BrowserSettings, RequestPolicy};
use openlegion_protocol::{AgentId, BrowserAction};

/// Lets through only the test server's own origin, refusing everything else the way the
/// mesh refuses private addresses.
#[derive(Debug)]
struct OnlyOrigin(String);

#[async_trait::async_trait]
impl RequestPolicy for OnlyOrigin {
    async fn check(&self, url: &str) -> Result<(), String> {
        if url.starts_with(&self.0) {
            Ok(())
        } else {
            Err("a private or local address; refused".into())
        }
    }

    /// The test server is named by its address: no name to resolve, no proxy needed (the
    /// mesh's proxy is tested in the mesh).
    fn proxy(&self) -> Result<Option<String>, String> {
        Ok(None)
    }
}

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/links",
            get(|| async { Html("<h1>Links</h1><a href=\"/next\">Next page</a>") }),
        )
        .route("/next", get(|| async { Html("<p>You reached next</p>") }))
        .route(
            "/form",
            get(|| async {
                Html("<form action=\"/done\"><input id=\"name\" name=\"name\" aria-label=\"Name\"><button>Go</button></form>")
            }),
        )
        .route("/done", get(|| async { Html("<p>submitted</p>") }))
        .route(
            "/private",
            get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data") }),
        )
        .route(
            "/sub",
            get(|| async { Html("<p>with image</p><img src=\"http://10.0.0.1/x.png\">") }),
        )
        .route(
            "/never",
            get(|| async {
                let stream = futures_util::stream::once(async {
                    Ok::<_, std::io::Error>("<p>partial text</p>".to_owned())
                })
                .chain(futures_util::stream::pending());
                ([("content-type", "text/html")], axum::body::Body::from_stream(stream))
                    .into_response()
            }),
        )
        .route(
            "/big",
            get(|| async {
                let mut page = String::with_capacity(50 * 1024 * 1024 + 64);
                page.push_str("<p>");
                while page.len() < 50 * 1024 * 1024 {
                    page.push_str("lorem ipsum dolor sit amet ");
                }
                page.push_str("</p>");
                Html(page)
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

use futures_util::StreamExt;

fn chromium_present(test: &str) -> bool {
    if openlegion_browser::find_chromium(None).is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: no Chromium in CI (install Debian's chromium)"
    );
    eprintln!("\n*** SKIPPED {test}: no Chromium installed (apt-get install chromium) ***\n");
    // Counted with the end-to-end tests' skips (see tests/src/skip.rs; this crate does not
    // depend on that one).
    if let Some(log) = std::env::var_os("OPENLEGION_SKIP_LOG") {
        use std::io::Write;
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(format!("{test}: no Chromium installed\n").as_bytes()));
    }
    false
}

async fn service(base: &str) -> Arc<BrowserService> {
    let settings = BrowserSettings {
        max_tabs: 2,
        navigation_timeout: Duration::from_secs(3),
        ..BrowserSettings::default()
    };
    Arc::new(BrowserService::new(
        settings,
        Arc::new(OnlyOrigin(base.to_owned())),
    ))
}

fn nav(url: String) -> BrowserAction {
    BrowserAction::Navigate {
        url,
        new_tab: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_click_type_and_refusals() {
    if !chromium_present("browse_click_type_and_refusals") {
        return;
    }
    let base = serve().await;
    let svc = service(&base).await;
    let a = AgentId::parse("alice").unwrap();

    let page = svc.run(&a, nav(format!("{base}/links"))).await.unwrap();
    assert!(page.text.unwrap().contains("Next page"));
    let snap = svc
        .run(&a, BrowserAction::Snapshot)
        .await
        .unwrap()
        .text
        .unwrap();
    let line = snap
        .lines()
        .find(|l| l.contains("link \"Next page\""))
        .unwrap();
    let r = line
        .rsplit('[')
        .next()
        .unwrap()
        .trim_end_matches(']')
        .to_owned();
    let again = svc
        .run(&a, BrowserAction::Snapshot)
        .await
        .unwrap()
        .text
        .unwrap();
    assert!(
        again.contains(&format!("[{r}]")),
        "refs are stable: {again}"
    );
    let clicked = svc
        .run(&a, BrowserAction::Click { target: r })
        .await
        .unwrap();
    assert!(clicked.url.ends_with("/next"), "{}", clicked.url);

    svc.run(&a, nav(format!("{base}/form"))).await.unwrap();
    let typed = svc
        .run(
            &a,
            BrowserAction::Type {
                target: "#name".into(),
                text: "Ada".into(),
                submit: true,
            },
        )
        .await
        .unwrap();
    assert!(typed.url.ends_with("/done?name=Ada"), "{}", typed.url);

    let redirect = svc
        .run(&a, nav(format!("{base}/private")))
        .await
        .unwrap_err();
    assert!(
        matches!(&redirect, BrowserError::Refused { url, .. } if url.contains("169.254.169.254")),
        "{redirect}"
    );
    let direct = svc
        .run(&a, nav("http://10.1.1.1/".into()))
        .await
        .unwrap_err();
    assert!(matches!(direct, BrowserError::Refused { .. }), "{direct}");
    let sub = svc.run(&a, nav(format!("{base}/sub"))).await.unwrap();
    assert!(
        sub.blocked.iter().any(|b| b.url.contains("10.0.0.1")),
        "{sub:?}"
    );

    let never = svc.run(&a, nav(format!("{base}/never"))).await.unwrap();
    assert!(never.timed_out);
    assert!(never.text.unwrap().contains("partial text"));

    let big = svc.run(&a, nav(format!("{base}/big"))).await.unwrap();
    // Cut at the bound, or stopped at the navigation deadline: either way bounded.
    assert!(
        big.truncated || big.timed_out,
        "{:?}",
        (big.truncated, big.timed_out)
    );
    assert!(big.text.unwrap().chars().count() <= openlegion_protocol::MAX_BROWSER_TEXT_CHARS);

    let json = svc
        .run(
            &a,
            BrowserAction::Evaluate {
                script: "({a: 1 + 1})".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(json.json.as_deref(), Some(r#"{"a":2}"#));
    let shot = svc
        .run(&a, BrowserAction::Screenshot { full_page: false })
        .await
        .unwrap();
    assert!(shot.png_base64.unwrap().starts_with("iVBORw0KGgo"));
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contexts_are_isolated_tabs_bounded_and_crashes_recovered() {
    if !chromium_present("contexts_are_isolated_tabs_bounded_and_crashes_recovered") {
        return;
    }
    let base = serve().await;
    let svc = service(&base).await;
    let a = AgentId::parse("alice").unwrap();
    let b = AgentId::parse("bob").unwrap();
    svc.run(&a, nav(format!("{base}/links"))).await.unwrap();
    svc.run(&b, nav(format!("{base}/links"))).await.unwrap();
    let set =
        "(() => { document.cookie = 'k=alice'; localStorage.setItem('k', 'alice'); return 1; })()";
    svc.run(&a, BrowserAction::Evaluate { script: set.into() })
        .await
        .unwrap();
    let read = "[document.cookie, localStorage.getItem('k')]";
    let seen_b = svc
        .run(
            &b,
            BrowserAction::Evaluate {
                script: read.into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(seen_b.json.as_deref(), Some(r#"["",null]"#));
    let seen_a = svc
        .run(
            &a,
            BrowserAction::Evaluate {
                script: read.into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(seen_a.json.as_deref(), Some(r#"["k=alice","alice"]"#));

    let tab = |url: String| BrowserAction::Navigate { url, new_tab: true };
    svc.run(&a, tab(format!("{base}/next"))).await.unwrap();
    let third = svc.run(&a, tab(format!("{base}/next"))).await.unwrap_err();
    assert!(
        matches!(third, BrowserError::TooManyTabs { max: 2 }),
        "{third}"
    );

    let pid = svc.browser_pid().await.unwrap();
    nix_kill(pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = svc.run(&a, nav(format!("{base}/next"))).await.unwrap();
    assert!(after.text.unwrap().contains("You reached next"));
    assert_ne!(svc.browser_pid().await.unwrap(), pid);
    svc.shutdown().await;
}

fn nix_kill(pid: u32) {
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
}
