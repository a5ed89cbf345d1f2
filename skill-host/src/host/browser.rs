//! `openlegion:skill/browser`: a browser the mesh runs on the agent's behalf.
//!
//! This crate checks the grant and hands each action to the agent's [`BrowserCap`], which
//! forwards it to the mesh (where the browser, its request policy and the agent's
//! permissions are). Answers go back to the guest as JSON text. A screenshot's PNG never
//! reaches the guest: it is written here, into the agent's workspace under the `workspace`
//! rules, so the file lands in the agent's own data directory whatever its backend (a
//! container's volume included) and the mesh never writes there.

use std::sync::Arc;

use base64::Engine;
use openlegion_protocol::{BrowserAction, BrowserReply, MAX_BROWSER_PNG_BYTES};
use serde_json::Value;

use crate::bindings::openlegion::skill::browser::Host;
use crate::call_state::{CallState, SkillContext};
use crate::capability::Capability;
use crate::workspace::{self, MAX_PATH_BYTES};

/// Checks the grant and the bounds, then hands `action` to the agent's browser.
async fn browse(skill: Arc<SkillContext>, action: BrowserAction) -> Result<BrowserReply, String> {
    skill.check(Capability::Browser)?;
    action.check_bounds()?;
    let browser = skill.caps.browser.clone();
    browser.run(&skill.name, action).await
}

fn answer(reply: &BrowserReply) -> Result<String, String> {
    serde_json::to_string(reply).map_err(|e| format!("cannot encode the browser's answer: {e}"))
}

impl Host for CallState {
    async fn navigate(&mut self, url: String, new_tab: bool) -> Result<String, String> {
        answer(&browse(self.skill.clone(), BrowserAction::Navigate { url, new_tab }).await?)
    }

    async fn snapshot(&mut self) -> Result<String, String> {
        answer(&browse(self.skill.clone(), BrowserAction::Snapshot).await?)
    }

    async fn click(&mut self, target: String) -> Result<String, String> {
        answer(&browse(self.skill.clone(), BrowserAction::Click { target }).await?)
    }

    async fn type_text(
        &mut self,
        target: String,
        text: String,
        submit: bool,
    ) -> Result<String, String> {
        answer(
            &browse(
                self.skill.clone(),
                BrowserAction::Type {
                    target,
                    text,
                    submit,
                },
            )
            .await?,
        )
    }

    async fn screenshot(&mut self, path: String, full_page: bool) -> Result<String, String> {
        // The file is written with the workspace's rules: check that grant and the path
        // before the mesh takes the picture.
        self.skill.check(Capability::Workspace)?;
        crate::host::bounded("path", &path, MAX_PATH_BYTES)?;
        let root = self.skill.caps.workspace_root.clone();
        workspace::resolve_path(&root, &path)?;
        let mut reply = browse(self.skill.clone(), BrowserAction::Screenshot { full_page }).await?;
        let png = reply
            .png_base64
            .take()
            .ok_or("the mesh's browser sent no image")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png)
            .map_err(|e| format!("the mesh's browser sent an unreadable image: {e}"))?;
        if png.len() > MAX_BROWSER_PNG_BYTES {
            return Err(format!(
                "the screenshot is {} bytes, more than the {MAX_BROWSER_PNG_BYTES} allowed",
                png.len()
            ));
        }
        let bytes = png.len();
        let p = path.clone();
        tokio::task::spawn_blocking(move || workspace::write_bytes(&root, &p, &png))
            .await
            .map_err(|e| format!("workspace operation failed: {e}"))??;
        let mut out = serde_json::to_value(&reply)
            .map_err(|e| format!("cannot encode the browser's answer: {e}"))?;
        out["path"] = Value::String(path);
        out["bytes"] = Value::from(bytes);
        Ok(out.to_string())
    }

    async fn evaluate(&mut self, script: String) -> Result<String, String> {
        answer(&browse(self.skill.clone(), BrowserAction::Evaluate { script }).await?)
    }
}
