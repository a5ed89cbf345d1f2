//! Hot reload: polling a skills directory for new, changed and removed skills.
//!
//! Polling rather than inotify: skill directories live on Docker volumes and virtio
//! shares where change events are unreliable, and a stat of two files per skill every
//! second costs nothing. A change is noticed by size, modification time or inode (an
//! atomic replace by rename changes the inode even when size and time match).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::skill_dir::{Stamp, WASM_FILE, skill_dirs};
use crate::skill_host::SkillHost;

impl SkillHost {
    /// Polls `root` every `reload_interval`: loads new skill directories, reloads changed
    /// ones (a broken new version is refused and the old one keeps serving), and unloads
    /// skills whose directory (or `skill.wasm`) is gone. Stops when the host is dropped.
    pub fn watch(&self, root: PathBuf) -> JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        let interval = self.inner.config.reload_interval;
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                SkillHost { inner }.poll(&root).await;
            }
        })
    }

    /// One look at `root`.
    pub(crate) async fn poll(&self, root: &Path) {
        let dirs = match skill_dirs(root).await {
            Ok(dirs) => dirs,
            Err(e) => {
                tracing::warn!(root = %root.display(), "cannot scan skills: {e}");
                return;
            }
        };
        let stamped = {
            let dirs = dirs.clone();
            tokio::task::spawn_blocking(move || {
                dirs.into_iter()
                    .map(|dir| {
                        let stamp = Stamp::of(&dir);
                        (dir, stamp)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default()
        };
        for (dir, stamp) in &stamped {
            let known = self.dir_state(dir).map(|state| state.stamp);
            if known == Some(*stamp) {
                continue;
            }
            let lock = self.lock_dirs().await;
            // Whoever held the lock may have loaded this version already.
            let current = Stamp::of(dir);
            if self.dir_state(dir).map(|state| state.stamp) == Some(current) {
                continue;
            }
            match lock.load_dir(dir).await {
                Ok(report) => tracing::info!(
                    skill = report.skill,
                    dir = %dir.display(),
                    replaced = report.replaced,
                    "skill (re)loaded"
                ),
                Err(e) => tracing::warn!(dir = %dir.display(), "skill not (re)loaded: {e}"),
            }
        }
        let gone: Vec<(PathBuf, Option<String>)> = self
            .dirs()
            .iter()
            .filter(|(dir, _)| dir.starts_with(root) && !dirs.contains(dir))
            .map(|(dir, state)| (dir.clone(), state.skill.clone()))
            .collect();
        for (dir, skill) in gone {
            let _lock = self.lock_dirs().await;
            // Swapped back in while the lock was held by someone else.
            if dir.join(WASM_FILE).is_file() {
                continue;
            }
            self.dirs().remove(&dir);
            if let Some(skill) = skill {
                let from_this_dir = self
                    .skills()
                    .iter()
                    .any(|s| s.name == skill && s.source.as_deref() == Some(&dir));
                if from_this_dir && self.remove(&skill) {
                    tracing::info!(skill, dir = %dir.display(), "skill unloaded: its directory is gone");
                }
            }
        }
    }
}
