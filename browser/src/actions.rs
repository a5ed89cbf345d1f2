//! One tab and what an agent can do in it: navigate, snapshot, click, type, screenshot,
//! evaluate. Every command has a deadline; the text and data coming back are bounded.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::accessibility::GetFullAxTreeParams;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::dom::ResolveNodeParams;
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::cdp::browser_protocol::page::{CaptureScreenshotFormat, StopLoadingParams};
use chromiumoxide::cdp::browser_protocol::target::CreateTargetParams;
use chromiumoxide::cdp::js_protocol::runtime::{CallFunctionOnParams, RemoteObjectId};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, Element};
use openlegion_protocol::{
    BrowserReply, MAX_BROWSER_JSON_BYTES, MAX_BROWSER_PNG_BYTES, MAX_BROWSER_SNAPSHOT_CHARS,
    MAX_BROWSER_TEXT_CHARS,
};
use tokio::task::JoinHandle;

use crate::intercept::{self, BlockedLog};
use crate::snapshot::{self, RefMap};
use crate::{BrowserError, RequestPolicy};

/// How long a click or a submit waits for the navigation it may have started to settle.
const SETTLE: Duration = Duration::from_secs(3);

/// An open tab with its request guard and the refs of its current page.
#[derive(Debug)]
pub(crate) struct Tab {
    page: Page,
    guard: JoinHandle<()>,
    blocked: BlockedLog,
    refs: RefMap,
    policy: Arc<dyn RequestPolicy>,
}

impl Tab {
    /// Opens a blank tab in `context`, guarded before it loads anything.
    pub(crate) async fn open(
        browser: &Browser,
        context: &BrowserContextId,
        policy: Arc<dyn RequestPolicy>,
    ) -> Result<Self, BrowserError> {
        let params = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(context.clone())
            .build()
            .map_err(|problem| BrowserError::BadCommand { problem })?;
        let page = browser
            .new_page(params)
            .await
            .map_err(BrowserError::cdp("opening a tab"))?;
        let (guard, blocked) = intercept::guard(&page, policy.clone()).await?;
        Ok(Self {
            page,
            guard,
            blocked,
            refs: RefMap::default(),
            policy,
        })
    }

    pub(crate) async fn close(self) {
        self.guard.abort();
        let _ = tokio::time::timeout(Duration::from_secs(3), self.page.close()).await;
    }

    /// Loads `url` (already allowed by the policy) and returns its readable text. A
    /// navigation refused on the way (a redirect hop) is an error naming the refused URL.
    pub(crate) async fn navigate(
        &mut self,
        url: &str,
        deadline: Duration,
    ) -> Result<BrowserReply, BrowserError> {
        self.refs = RefMap::default();
        if let Ok(mut log) = self.blocked.lock() {
            log.clear();
        }
        let mut timed_out = false;
        match tokio::time::timeout(deadline, self.page.goto(url)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                // A refused document request (the URL itself or a redirect hop) fails the
                // navigation as "blocked by client", a connection the proxy refused (the
                // name resolved elsewhere when it was opened) as a tunnel failure: name the
                // refusal instead.
                let refused = self.blocked().into_iter().last();
                return Err(match refused {
                    Some(b) => BrowserError::Refused {
                        url: b.url,
                        reason: b.reason,
                    },
                    None => match self.policy.refused_at_connect(url) {
                        Some(reason) => BrowserError::Refused {
                            url: url.to_owned(),
                            reason: format!("when connecting, {reason}"),
                        },
                        None => BrowserError::Navigation {
                            url: url.to_owned(),
                            problem: error.to_string(),
                        },
                    },
                });
            }
            Err(_) => {
                timed_out = true;
                let _ = self.page.execute(StopLoadingParams::default()).await;
            }
        }
        let (text, truncated) = self.readable_text(MAX_BROWSER_TEXT_CHARS).await?;
        let mut reply = self.reply().await;
        reply.text = Some(text);
        reply.truncated = truncated;
        reply.timed_out = timed_out;
        Ok(reply)
    }

    pub(crate) async fn snapshot(&mut self) -> Result<BrowserReply, BrowserError> {
        let tree = self
            .page
            .execute(GetFullAxTreeParams::default())
            .await
            .map_err(BrowserError::cdp("reading the accessibility tree"))?;
        let (text, truncated) = snapshot::render(
            &tree.result.nodes,
            &mut self.refs,
            MAX_BROWSER_SNAPSHOT_CHARS,
        );
        let mut reply = self.reply().await;
        reply.text = Some(text);
        reply.truncated = truncated;
        Ok(reply)
    }

    pub(crate) async fn click(&mut self, target: &str) -> Result<BrowserReply, BrowserError> {
        let object = self.resolve(target).await?;
        self.call_on(
            object,
            "function() { this.scrollIntoView({block: 'center'}); this.click(); }",
        )
        .await?;
        self.settle().await;
        let mut reply = self.reply().await;
        reply.text = Some(format!("clicked {target}"));
        Ok(reply)
    }

    /// Focuses `target`, clears it, types `text` as real input events, and submits its
    /// form if asked.
    pub(crate) async fn type_text(
        &mut self,
        target: &str,
        text: &str,
        submit: bool,
    ) -> Result<BrowserReply, BrowserError> {
        let object = self.resolve(target).await?;
        self.call_on(
            object.clone(),
            "function() { this.scrollIntoView({block: 'center'}); this.focus(); \
             if ('value' in this) { this.value = ''; } }",
        )
        .await?;
        self.page
            .execute(InsertTextParams::new(text))
            .await
            .map_err(BrowserError::cdp("typing"))?;
        if submit {
            self.call_on(
                object,
                "function() { const f = this.form || this.closest('form'); \
                 if (!f) { throw new Error('the element is in no form'); } \
                 f.requestSubmit(); }",
            )
            .await?;
            self.settle().await;
        }
        let mut reply = self.reply().await;
        reply.text = Some(format!(
            "typed {} characters into {target}{}",
            text.chars().count(),
            if submit { " and submitted" } else { "" }
        ));
        Ok(reply)
    }

    pub(crate) async fn screenshot(
        &mut self,
        full_page: bool,
    ) -> Result<BrowserReply, BrowserError> {
        let png = self
            .page
            .screenshot(
                ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .full_page(full_page)
                    .build(),
            )
            .await
            .map_err(BrowserError::cdp("taking a screenshot"))?;
        if png.len() > MAX_BROWSER_PNG_BYTES {
            return Err(BrowserError::TooLarge {
                what: "the screenshot",
                bytes: png.len(),
                max: MAX_BROWSER_PNG_BYTES,
            });
        }
        let mut reply = self.reply().await;
        reply.png_base64 = Some(base64::engine::general_purpose::STANDARD.encode(png));
        Ok(reply)
    }

    /// Runs `script` (an expression, or a function declaration that is called) and returns
    /// its value as JSON text; a promise is awaited.
    pub(crate) async fn evaluate(&mut self, script: &str) -> Result<BrowserReply, BrowserError> {
        let result = self.page.evaluate(script).await.map_err(|e| match e {
            chromiumoxide::error::CdpError::JavascriptException(ex) => BrowserError::Script {
                message: ex
                    .exception
                    .as_ref()
                    .and_then(|o| o.description.clone())
                    .unwrap_or(ex.text.clone()),
            },
            other => BrowserError::Cdp {
                action: "evaluating the script",
                source: other,
            },
        })?;
        let value = result.value().cloned().unwrap_or(serde_json::Value::Null);
        let json = value.to_string();
        if json.len() > MAX_BROWSER_JSON_BYTES {
            return Err(BrowserError::TooLarge {
                what: "the script's JSON result",
                bytes: json.len(),
                max: MAX_BROWSER_JSON_BYTES,
            });
        }
        let mut reply = self.reply().await;
        reply.json = Some(json);
        Ok(reply)
    }

    /// The refusals of the current page so far.
    pub(crate) fn blocked(&self) -> Vec<openlegion_protocol::BlockedRequest> {
        self.blocked.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The URL, title and refusals of the page, the part every reply shares.
    async fn reply(&self) -> BrowserReply {
        BrowserReply {
            url: self.page.url().await.ok().flatten().unwrap_or_default(),
            title: self
                .page
                .get_title()
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            blocked: self.blocked(),
            ..BrowserReply::default()
        }
    }

    /// The page's visible text, cut in the page (so a 50 MB page sends only the part kept).
    async fn readable_text(&self, max: usize) -> Result<(String, bool), BrowserError> {
        let script = format!(
            "(() => {{ const b = document.body || document.documentElement; \
             const t = b ? b.innerText : ''; \
             return [t.length > {max}, t.slice(0, {max})]; }})()"
        );
        let result = self
            .page
            .evaluate(script)
            .await
            .map_err(BrowserError::cdp("reading the page's text"))?;
        let (cut, text): (bool, String) =
            result.into_value().map_err(|e| BrowserError::Navigation {
                url: String::new(),
                problem: format!("unreadable page text: {e}"),
            })?;
        Ok((text, cut))
    }

    /// The element `target` names: a ref from the last snapshot, else a CSS selector.
    async fn resolve(&self, target: &str) -> Result<RemoteObjectId, BrowserError> {
        if snapshot::is_ref(target) {
            let node = self
                .refs
                .node(target)
                .ok_or_else(|| BrowserError::UnknownRef {
                    target: target.to_owned(),
                })?;
            let resolved = self
                .page
                .execute(ResolveNodeParams::builder().backend_node_id(node).build())
                .await
                .map_err(|_| BrowserError::UnknownRef {
                    target: target.to_owned(),
                })?;
            return resolved
                .result
                .object
                .object_id
                .ok_or_else(|| BrowserError::UnknownRef {
                    target: target.to_owned(),
                });
        }
        let element: Element =
            self.page
                .find_element(target)
                .await
                .map_err(|_| BrowserError::NoElement {
                    target: target.to_owned(),
                })?;
        Ok(element.remote_object_id)
    }

    async fn call_on(&self, object: RemoteObjectId, function: &str) -> Result<(), BrowserError> {
        let params = CallFunctionOnParams::builder()
            .object_id(object)
            .function_declaration(function)
            .await_promise(true)
            .build()
            .map_err(|problem| BrowserError::BadCommand { problem })?;
        let answer = self
            .page
            .execute(params)
            .await
            .map_err(BrowserError::cdp("acting on the element"))?;
        if let Some(ex) = &answer.result.exception_details {
            return Err(BrowserError::Script {
                message: ex
                    .exception
                    .as_ref()
                    .and_then(|o| o.description.clone())
                    .unwrap_or(ex.text.clone()),
            });
        }
        Ok(())
    }

    /// Waits (briefly) for a navigation an action may have started to finish loading.
    async fn settle(&self) {
        let started = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(150)).await;
        while started.elapsed() < SETTLE {
            let ready = self
                .page
                .evaluate("document.readyState")
                .await
                .ok()
                .and_then(|r| r.into_value::<String>().ok());
            if ready.as_deref() == Some("complete") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Tab {
    /// Stops the script running in the page (a timed-out `evaluate`).
    pub(crate) async fn terminate_script(
        &self,
        params: chromiumoxide::cdp::js_protocol::runtime::TerminateExecutionParams,
    ) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.page.execute(params)).await;
    }
}
