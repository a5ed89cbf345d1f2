//! `openlegion:skill/browser`: the mesh's browser, as the skill host asks for it.
//!
//! The agent implements [`BrowserCap`] (forwarding to the mesh); [`crate::host`] checks the
//! grant and the action's bounds first, and writes screenshots into the workspace.

use openlegion_protocol::{BrowserAction, BrowserReply};

use crate::capability::{Capability, not_granted};

/// The agent's way to the mesh's browser. Every method refuses unless implemented.
#[async_trait::async_trait]
pub trait BrowserCap: Send + Sync {
    /// Runs `action` in the agent's browser context. `Err` is the text the skill sees.
    async fn run(&self, skill: &str, action: BrowserAction) -> Result<BrowserReply, String> {
        let _ = action;
        Err(not_granted(Capability::Browser, skill))
    }
}

/// No browser at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyBrowser;

impl BrowserCap for DenyBrowser {}
