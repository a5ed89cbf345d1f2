//! Starting Chromium: where it is, the flags it needs, and the running process with the
//! task that drives its DevTools connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use crate::BrowserError;

/// How the service runs the browser. The defaults suit an agent reading web pages.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    /// The Chromium binary; found on `PATH` (`chromium`, `chromium-browser`) if unset.
    pub executable: Option<PathBuf>,
    /// Most tabs one agent may have open at once.
    pub max_tabs: usize,
    /// An agent's context (its cookies, storage and tabs) is closed after this long unused.
    pub idle_timeout: Duration,
    /// How long a navigation may take before its loading is stopped and what arrived is
    /// returned: a page that never finishes loading must not hold the agent.
    pub navigation_timeout: Duration,
    /// Deadline for every other command (a click, a script, a screenshot).
    pub action_timeout: Duration,
}

impl Default for BrowserSettings {
    fn default() -> Self {
        Self {
            executable: None,
            max_tabs: 4,
            idle_timeout: Duration::from_secs(300),
            navigation_timeout: Duration::from_secs(15),
            action_timeout: Duration::from_secs(10),
        }
    }
}

const CANDIDATES: [&str; 2] = ["chromium", "chromium-browser"];

/// The Chromium to run: `configured` if given, else the first of `chromium` and
/// `chromium-browser` on `PATH`.
pub fn find_chromium(configured: Option<&Path>) -> Result<PathBuf, BrowserError> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(BrowserError::NoChromium {
                looked_for: path.display().to_string(),
            })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in CANDIDATES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(BrowserError::NoChromium {
        looked_for: format!("{} on PATH", CANDIDATES.join(", ")),
    })
}

/// The flags that send every connection of Chromium through `proxy` and leave it no way to
/// resolve a name or connect itself: loopback goes through the proxy too (Chromium skips
/// proxies for loopback unless told `<-loopback>`), every name resolves to "not found" but
/// the proxy's literal address, and WebRTC sends no UDP the proxy would not carry.
fn proxy_flags(proxy: &str) -> Vec<String> {
    let host = proxy
        .trim_start_matches("http://")
        .rsplit_once(':')
        .map_or(proxy, |(host, _)| host);
    vec![
        format!("proxy-server={proxy}"),
        "proxy-bypass-list=<-loopback>".into(),
        format!("host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {host}"),
        "webrtc-ip-handling-policy=disable_non_proxied_udp".into(),
    ]
}

/// A running Chromium. Dropping it kills the process (chromiumoxide kills its child on
/// drop) and removes its profile directory.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) browser: Browser,
    handler: JoinHandle<()>,
    alive: Arc<AtomicBool>,
    _profile: tempfile::TempDir,
}

impl Running {
    /// Starts Chromium headless with a fresh profile, every connection through `proxy`
    /// when one is given.
    pub(crate) async fn start(
        settings: &BrowserSettings,
        proxy: Option<&str>,
    ) -> Result<Self, BrowserError> {
        let path = find_chromium(settings.executable.as_deref())?;
        // A profile of its own: the default one is shared by every chromiumoxide user on the
        // machine, and one agent's mesh must not see another's.
        let profile = tempfile::Builder::new()
            .prefix("openlegion-chromium-")
            .tempdir()
            .map_err(|source| BrowserError::Profile { source })?;
        let launch = |source| BrowserError::Launch {
            path: path.display().to_string(),
            source,
        };
        let config = BrowserConfig::builder()
            .chrome_executable(&path)
            .user_data_dir(profile.path())
            // The mesh runs as root in CI and containers, where Chromium's own sandbox
            // cannot start; the pages it loads are already confined by the request policy.
            .no_sandbox()
            // Every request goes through the Fetch domain, where the policy decides.
            .enable_request_intercept()
            // The 800×600 default would override any window size; pages are read at a
            // common desktop size.
            .viewport(chromiumoxide::handler::viewport::Viewport {
                width: 1280,
                height: 800,
                ..Default::default()
            })
            .launch_timeout(Duration::from_secs(20))
            .request_timeout(settings.navigation_timeout + Duration::from_secs(5))
            // Flags without `--` (chromiumoxide adds them). As little background traffic
            // of Chromium's own (updates, sync, field trials) as the flags allow: it
            // passes no page's request interception (only the proxy's check, where there
            // is one), and fails on closed networks. No QUIC: a proxy cannot carry it, and
            // it fails slowly on networks that drop UDP.
            .args([
                "disable-gpu",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                "disable-default-apps",
                "disable-extensions",
                "no-first-run",
                "disable-quic",
                "mute-audio",
            ])
            .args(proxy.map(proxy_flags).unwrap_or_default())
            .build()
            .map_err(|problem| BrowserError::BadCommand { problem })?;
        let (browser, mut handler) = Browser::launch(config).await.map_err(launch)?;
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        // The handler is the connection: it must be polled for any command to complete.
        // When it ends (Chromium exited or crashed), the browser is dead.
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(error) = event {
                    tracing::debug!(%error, "browser connection event");
                }
            }
            flag.store(false, Ordering::SeqCst);
            tracing::warn!("browser connection closed");
        });
        Ok(Self {
            browser,
            handler,
            alive,
            _profile: profile,
        })
    }

    /// Whether the connection to Chromium still stands and the process still runs.
    pub(crate) fn is_alive(&mut self) -> bool {
        let exited = matches!(self.browser.try_wait(), Ok(Some(_)));
        !exited && self.alive.load(Ordering::SeqCst)
    }

    /// The process id, for tests that crash the browser on purpose.
    pub(crate) fn pid(&mut self) -> Option<u32> {
        self.browser
            .get_mut_child()
            .and_then(|c| c.as_mut_inner().id())
    }

    /// Closes Chromium and waits for it, killing it if it will not go.
    pub(crate) async fn stop(mut self) {
        let closed = tokio::time::timeout(Duration::from_secs(3), self.browser.close()).await;
        if !matches!(closed, Ok(Ok(_))) {
            self.browser.kill().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), self.browser.wait()).await;
        self.handler.abort();
    }
}
