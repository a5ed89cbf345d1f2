//! The guard on every tab: each request Chromium pauses (the navigation, every redirect
//! hop, every sub-resource, form posts) is let through only if the policy allows its URL;
//! the others fail as "blocked by client" and are recorded for the agent to see.

use std::sync::{Arc, Mutex};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::fetch::{
    ContinueRequestParams, EventRequestPaused, FailRequestParams,
};
use chromiumoxide::cdp::browser_protocol::network::{
    BlockPattern, ErrorReason, SetBlockedUrLsParams,
};
use futures_util::StreamExt;
use openlegion_protocol::BlockedRequest;
use tokio::task::JoinHandle;

use crate::{BrowserError, RequestPolicy};

/// Most refusals kept per page: enough to explain what broke, bounded against a page that
/// requests thousands of blocked URLs.
const MAX_BLOCKED: usize = 32;

/// The refusals of the page now loaded in a tab.
pub(crate) type BlockedLog = Arc<Mutex<Vec<BlockedRequest>>>;

/// Starts guarding `page` and returns the task (abort it when the tab closes) and the
/// refusal log. Must run before the page's first navigation: a request paused with no
/// guard listening would wait forever (the safe way to fail).
pub(crate) async fn guard(
    page: &Page,
    policy: Arc<dyn RequestPolicy>,
) -> Result<(JoinHandle<()>, BlockedLog), BrowserError> {
    // The Fetch domain does not see WebSocket handshakes; refuse them all rather than let
    // them past the policy.
    page.execute(
        SetBlockedUrLsParams::builder()
            .url_pattern(BlockPattern::new("ws://*:*/*", true))
            .url_pattern(BlockPattern::new("wss://*:*/*", true))
            .build(),
    )
    .await
    .map_err(BrowserError::cdp("blocking websockets"))?;
    let mut paused = page
        .event_listener::<EventRequestPaused>()
        .await
        .map_err(BrowserError::cdp("intercepting requests"))?;
    let log: BlockedLog = Arc::default();
    let blocked = log.clone();
    let page = page.clone();
    let task = tokio::spawn(async move {
        while let Some(event) = paused.next().await {
            let url = event.request.url.clone();
            // data: and blob: URLs carry their content in the page itself; nothing leaves.
            let local = url.starts_with("data:") || url.starts_with("blob:");
            let verdict = if local {
                Ok(())
            } else {
                policy.check(&url).await
            };
            let sent = match verdict {
                Ok(()) => page
                    .execute(ContinueRequestParams::new(event.request_id.clone()))
                    .await
                    .map(drop),
                Err(reason) => {
                    tracing::info!(%url, %reason, "browser request refused");
                    if let Ok(mut log) = blocked.lock()
                        && log.len() < MAX_BLOCKED
                    {
                        log.push(BlockedRequest { url, reason });
                    }
                    page.execute(FailRequestParams::new(
                        event.request_id.clone(),
                        ErrorReason::BlockedByClient,
                    ))
                    .await
                    .map(drop)
                }
            };
            if let Err(error) = sent {
                // The request went away (the tab navigated on, or closed).
                tracing::debug!(%error, "answering a paused request");
            }
        }
    });
    Ok((task, log))
}
