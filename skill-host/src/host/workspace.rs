//! `openlegion:skill/workspace`: the agent's files, confined to its data directory (see
//! [`crate::workspace`] for the rules). The file I/O runs on tokio's blocking pool, never
//! on the async threads that run other calls.

use std::path::PathBuf;

use crate::bindings::openlegion::skill::workspace::{Entry, Host};
use crate::call_state::{CallState, SkillContext};
use crate::capability::Capability;
use crate::host::bounded;
use crate::workspace::{self, MAX_PATH_BYTES};

/// Checks the grant and the path, then runs `op` over the workspace root off the async
/// threads.
async fn on_files<T: Send + 'static>(
    skill: &SkillContext,
    path: &str,
    op: impl FnOnce(PathBuf) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    skill.check(Capability::Workspace)?;
    bounded("path", path, MAX_PATH_BYTES)?;
    let root = skill.caps.workspace_root.clone();
    tokio::task::spawn_blocking(move || op(root))
        .await
        .map_err(|e| format!("workspace operation failed: {e}"))?
}

impl Host for CallState {
    async fn read_file(
        &mut self,
        path: String,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<String, String> {
        let p = path.clone();
        on_files(&self.skill, &path, move |root| {
            workspace::read_file(&root, &p, offset, limit)
        })
        .await
    }

    async fn write_file(
        &mut self,
        path: String,
        contents: String,
        append: bool,
    ) -> Result<u64, String> {
        let p = path.clone();
        on_files(&self.skill, &path, move |root| {
            workspace::write_file(&root, &p, &contents, append)
        })
        .await
    }

    async fn list_files(
        &mut self,
        path: String,
        pattern: Option<String>,
        recursive: bool,
    ) -> Result<Vec<Entry>, String> {
        self.skill.check(Capability::Workspace)?;
        if let Some(pattern) = &pattern {
            bounded("pattern", pattern, MAX_PATH_BYTES)?;
        }
        let p = path.clone();
        let skill = self.skill.clone();
        let entries = on_files(&skill, &path, move |root| {
            workspace::list_files(&root, &p, pattern.as_deref(), recursive)
        })
        .await?;
        Ok(entries
            .into_iter()
            .map(|e| Entry {
                path: e.path,
                is_dir: e.is_dir,
                size: e.size,
            })
            .collect())
    }
}
