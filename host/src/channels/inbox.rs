//! Attachments: a file a user sends lands in the agent's workspace `inbox/` (through the
//! agent's own `PUT /inbox/{name}`, so it works on every runtime backend), and the turn
//! tells the agent where it is. Files over the channel's size limit are refused before
//! they are downloaded whenever the platform says their size.

use std::time::Duration;

use serde::Deserialize;

use super::conversation::Channel;
use super::platform::Attachment;
use super::retry::retried;

/// How long an upload into the agent may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// The agent's answer to `PUT /inbox/{name}`.
#[derive(Debug, Deserialize)]
struct Saved {
    path: String,
    bytes: u64,
}

/// A file name safe on any file system: letters, digits, `._-`, no leading dot, at most 100
/// characters.
pub(super) fn file_name(raw: &str) -> String {
    let name: String = raw
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    match name.is_empty() {
        true => "file".into(),
        false => name.chars().take(100).collect(),
    }
}

/// Saves `file` into `agent`'s inbox. `Ok`: the note for the agent; `Err`: why not, for
/// the user.
pub(super) async fn save(
    channel: &Channel,
    agent: &str,
    file: &Attachment,
) -> Result<String, String> {
    let limit = channel.settings.max_attachment;
    let too_large = || format!("it is over the limit of {} MiB", limit / (1024 * 1024));
    if file.size.is_some_and(|s| s > limit) {
        return Err(too_large());
    }
    let bytes = retried(|| channel.platform.download(file, limit))
        .await
        .map_err(|e| match e {
            super::PlatformError::TooLarge { .. } => too_large(),
            e => {
                tracing::warn!(platform = channel.platform.name(), error = %e, "cannot fetch an attachment");
                "it could not be fetched".to_owned()
            }
        })?;
    let url = channel
        .mesh
        .registry
        .url(agent)
        .ok_or_else(|| format!("{agent} is not running"))?;
    let name = file_name(&file.name);
    let resp = channel
        .mesh
        .links
        .link(agent, &url)
        .request(reqwest::Method::PUT, &format!("/inbox/{name}"))
        .timeout(UPLOAD_TIMEOUT)
        .body(bytes)
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(agent, error = %e.without_url(), "cannot upload an attachment");
            format!("{agent} could not be reached")
        })?;
    if !resp.status().is_success() {
        tracing::warn!(agent, status = %resp.status(), "the agent refused an attachment");
        return Err(format!("{agent} refused it"));
    }
    let saved: Saved = resp.json().await.map_err(|e| {
        tracing::warn!(agent, error = %e.without_url(), "a malformed answer to an upload");
        format!("{agent} did not confirm it")
    })?;
    Ok(format!(
        "[Attached file: {} ({} bytes), saved in your workspace as {}]",
        name, saved.bytes, saved.path
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_escape_or_hide() {
        assert_eq!(file_name("report.pdf"), "report.pdf");
        assert_eq!(file_name("../../etc/passwd"), "passwd");
        assert_eq!(file_name("..\\x\\.bashrc"), "bashrc");
        assert_eq!(file_name("a b;c.txt"), "a_b_c.txt");
        assert_eq!(file_name(".."), "file");
        assert_eq!(file_name(""), "file");
        assert_eq!(file_name(&"x".repeat(300)).len(), 100);
    }
}
