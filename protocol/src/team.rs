//! The team calls an agent makes to the mesh: starting a sub-agent (`POST /mesh/spawn`),
//! registering an artifact (`POST /mesh/artifacts`), and web search (`POST /mesh/search`).
//!
//! Bounds on what an agent sends live here, so the mesh refuses an oversized request with
//! a message naming the field before doing anything with it.

use serde::{Deserialize, Serialize};

/// Longest sub-agent role, in bytes.
pub const MAX_SPAWN_ROLE_BYTES: usize = 64;
/// Longest sub-agent instructions, in bytes.
pub const MAX_SPAWN_INSTRUCTIONS_BYTES: usize = 16 * 1024;
/// Longest search query, in bytes.
pub const MAX_SEARCH_QUERY_BYTES: usize = 512;
/// Most search results one call returns.
pub const MAX_SEARCH_RESULTS: u32 = 20;
/// Results when the caller asks for none in particular.
pub const DEFAULT_SEARCH_RESULTS: u32 = 5;
/// Longest result title and snippet, in characters.
pub const MAX_SEARCH_TITLE_CHARS: usize = 300;
pub const MAX_SEARCH_SNIPPET_CHARS: usize = 600;
/// Longest artifact name (a plain file name), in bytes.
pub const MAX_ARTIFACT_NAME_BYTES: usize = 255;

/// `POST /mesh/spawn`: what a parent asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnRequest {
    pub role: String,
    pub instructions: String,
    /// Seconds the sub-agent lives; the mesh's default when absent, capped by its maximum.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// USD carved out of the parent's budget; the mesh's default when absent.
    #[serde(default)]
    pub budget_usd: Option<f64>,
}

impl SpawnRequest {
    /// Refuses empty or oversized fields and a negative or non-finite budget.
    pub fn check(&self) -> Result<(), String> {
        if self.role.trim().is_empty() {
            return Err("role: empty; say what the sub-agent is".into());
        }
        bounded("role", &self.role, MAX_SPAWN_ROLE_BYTES)?;
        if self.instructions.trim().is_empty() {
            return Err("instructions: empty; say what the sub-agent must do".into());
        }
        bounded(
            "instructions",
            &self.instructions,
            MAX_SPAWN_INSTRUCTIONS_BYTES,
        )?;
        if let Some(b) = self.budget_usd
            && !(b.is_finite() && b > 0.0)
        {
            return Err(format!("budget_usd: {b} is not a positive amount"));
        }
        if self.ttl_seconds == Some(0) {
            return Err("ttl_seconds: 0; a sub-agent must live at least a second".into());
        }
        Ok(())
    }
}

/// A sub-agent as the mesh reports it (the answer to `POST /mesh/spawn`, and part of
/// `GET /mesh/spawn`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpawnedAgent {
    pub agent_id: String,
    pub parent: String,
    pub role: String,
    /// When it is stopped and its data deleted (RFC 3339, UTC).
    pub expires_at: String,
    pub budget_usd: f64,
    /// `starting`, `working`, `done`, `failed` or `expired`.
    pub state: String,
    /// The result of its task, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// `POST /mesh/artifacts`: an agent registering `artifacts/<name>` of its workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactMeta {
    /// A plain file name (no `/`, no `..`).
    pub name: String,
    /// The path in the agent's workspace (`artifacts/<name>`).
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    pub mime: String,
}

impl ArtifactMeta {
    /// Refuses a name that is not one plain file name, and a malformed digest.
    pub fn check(&self) -> Result<(), String> {
        if !is_plain_file_name(&self.name) || self.name.len() > MAX_ARTIFACT_NAME_BYTES {
            return Err(format!("Invalid artifact name: {}", self.name));
        }
        if self.path != format!("artifacts/{}", self.name) {
            return Err(format!("path: must be artifacts/{}", self.name));
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("sha256: not 64 hex digits".into());
        }
        bounded("mime", &self.mime, 255)
    }
}

/// Whether `name` names one file directly inside a directory.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && !name.contains(['/', '\\', '\0']) && !name.contains("..")
}

/// `POST /mesh/search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    /// 1 to [`MAX_SEARCH_RESULTS`]; 0 or absent means [`DEFAULT_SEARCH_RESULTS`].
    #[serde(default)]
    pub limit: u32,
}

impl SearchRequest {
    pub fn check(&self) -> Result<(), String> {
        if self.query.trim().is_empty() {
            return Err("query: empty".into());
        }
        bounded("query", &self.query, MAX_SEARCH_QUERY_BYTES)?;
        if self.limit > MAX_SEARCH_RESULTS {
            return Err(format!(
                "limit: {} is more than the {MAX_SEARCH_RESULTS} allowed",
                self.limit
            ));
        }
        Ok(())
    }

    /// The number of results to return.
    pub fn wanted(&self) -> usize {
        if self.limit == 0 {
            DEFAULT_SEARCH_RESULTS as usize
        } else {
            self.limit as usize
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub title: String,
    pub url: String,
    pub snippet: String,
}

/// The answer to `POST /mesh/search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub provider: String,
    pub query: String,
    pub results: Vec<SearchResult>,
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        Err(format!(
            "{field} is {} bytes, more than the {max} allowed",
            value.len()
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_requests_are_checked() {
        let ok = SpawnRequest {
            role: "researcher".into(),
            instructions: "find x".into(),
            ttl_seconds: Some(60),
            budget_usd: Some(0.5),
        };
        assert_eq!(ok.check(), Ok(()));
        let bad = SpawnRequest {
            budget_usd: Some(-1.0),
            ..ok.clone()
        };
        assert_eq!(
            bad.check().unwrap_err(),
            "budget_usd: -1 is not a positive amount"
        );
        let long = SpawnRequest {
            role: "r".repeat(65),
            ..ok
        };
        assert_eq!(
            long.check().unwrap_err(),
            "role is 65 bytes, more than the 64 allowed"
        );
    }

    #[test]
    fn artifact_names_are_plain() {
        let meta = |name: &str| ArtifactMeta {
            name: name.into(),
            path: format!("artifacts/{name}"),
            size: 1,
            sha256: "a".repeat(64),
            mime: "text/plain".into(),
        };
        assert_eq!(meta("report.md").check(), Ok(()));
        for bad in ["", ".", "..", "a/b", "x..y", "a\\b"] {
            assert!(meta(bad).check().is_err(), "{bad}");
        }
    }

    #[test]
    fn search_limits() {
        let q = |limit| SearchRequest {
            query: "rust".into(),
            limit,
        };
        assert_eq!(q(0).wanted(), 5);
        assert_eq!(q(7).wanted(), 7);
        assert!(q(21).check().unwrap_err().contains("more than the 20"));
    }
}
