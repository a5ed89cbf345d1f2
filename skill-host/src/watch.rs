//! Hot reload: polling a skills directory for new, changed and removed skills.
//!
//! Polling rather than inotify: skill directories live on Docker volumes and virtio
//! shares where change events are unreliable, and a stat of two files per skill every
//! second costs nothing. A change is noticed by size, modification time or inode (an
//! atomic replace by rename changes the inode even when size and time match).

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;

use tokio::task::JoinHandle;

use crate::load::{MANIFEST_FILE, WASM_FILE, skill_dirs};
use crate::skill_host::SkillHost;

/// What one of a skill directory's files looked like.
type FileStamp = Option<(u64, SystemTime, u64)>;

/// What a skill directory's two files looked like when last loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    wasm: FileStamp,
    manifest: FileStamp,
}

impl Stamp {
    pub(crate) fn of(dir: &Path) -> Self {
        Stamp {
            wasm: file_stamp(&dir.join(WASM_FILE)),
            manifest: file_stamp(&dir.join(MANIFEST_FILE)),
        }
    }
}

fn file_stamp(path: &Path) -> FileStamp {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.len(), meta.modified().ok()?, inode))
}

/// The last load from a skill directory: what its files looked like, and the skill it
/// loaded (the one still serving, if the last attempt failed).
#[derive(Debug, Clone)]
pub(crate) struct DirState {
    pub(crate) stamp: Stamp,
    pub(crate) skill: Option<String>,
}

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

    fn dirs(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<PathBuf, DirState>> {
        self.inner
            .dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn dir_state(&self, dir: &Path) -> Option<DirState> {
        self.dirs().get(dir).cloned()
    }

    pub(crate) fn set_dir_state(&self, dir: &Path, state: DirState) {
        self.dirs().insert(dir.to_owned(), state);
    }
}
