//! `PUT /inbox/{name}`: a file for the agent, saved into its workspace's `inbox/` (the mesh
//! passes on what channel users attach). The name must be a plain file name; an existing
//! file is never overwritten (`report.pdf` becomes `report-2.pdf`). Answers the path
//! relative to the workspace and the size.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::agent::Agent;

/// The largest file accepted (the mesh's own limit per channel is at most 50 MiB).
pub(super) const MAX_FILE: usize = 50 << 20;

/// Copies of one name tried before giving up.
const MAX_COPIES: u32 = 1000;

fn refuse(status: StatusCode, detail: String) -> Response {
    (status, Json(json!({ "detail": detail }))).into_response()
}

/// Whether `name` is a plain file name: no separators, no leading dot, at most 128 bytes.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
}

/// `name`, or `stem-N.ext` for the first N that is free in `dir`.
fn free_name(dir: &Path, name: &str) -> Option<String> {
    if !dir.join(name).exists() {
        return Some(name.to_owned());
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    (2..MAX_COPIES)
        .map(|n| format!("{stem}-{n}{ext}"))
        .find(|candidate| !dir.join(candidate).exists())
}

pub(super) async fn put(
    State(agent): State<Arc<Agent>>,
    UrlPath(name): UrlPath<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return refuse(e.status(), e.body_text()),
    };
    if !plain(&name) {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name:?} is not a plain file name"),
        );
    }
    let dir = agent.config().workspace_dir().join("inbox");
    let saved = async {
        tokio::fs::create_dir_all(&dir).await?;
        let name = free_name(&dir, &name).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free name left")
        })?;
        // Written beside, then renamed: a reader never sees half a file.
        let partial = dir.join(format!(".{name}.partial"));
        tokio::fs::write(&partial, &body).await?;
        tokio::fs::rename(&partial, dir.join(&name)).await?;
        Ok::<_, std::io::Error>(name)
    };
    match saved.await {
        Ok(name) => {
            tracing::info!(file = %name, bytes = body.len(), "a file arrived in the inbox");
            Json(json!({"path": format!("inbox/{name}"), "bytes": body.len()})).into_response()
        }
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot save {name}: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_and_never_an_overwrite() {
        assert!(plain("report.pdf"));
        for bad in ["", ".bashrc", "../x", "a/b", "a\\b", &"x".repeat(200)] {
            assert!(!plain(bad), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_name(dir.path(), "a.txt").unwrap(), "a.txt");
        std::fs::write(dir.path().join("a.txt"), "1").unwrap();
        assert_eq!(free_name(dir.path(), "a.txt").unwrap(), "a-2.txt");
        std::fs::write(dir.path().join("a-2.txt"), "2").unwrap();
        assert_eq!(free_name(dir.path(), "a.txt").unwrap(), "a-3.txt");
        std::fs::write(dir.path().join("notes"), "n").unwrap();
        assert_eq!(free_name(dir.path(), "notes").unwrap(), "notes-2");
    }
}
