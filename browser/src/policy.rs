//! What a page may request: a decision the mesh makes, not this crate.

/// Decides, for every request a page makes, whether it may go out. The mesh implements it
/// with the rules of its own HTTP requests (scheme, allowlist, no private targets); the
/// service asks it before each navigation and again for every request Chromium pauses
/// (redirect hops and sub-resources included).
#[async_trait::async_trait]
pub trait RequestPolicy: Send + Sync + std::fmt::Debug {
    /// `Err` is the reason for the refusal, shown to the agent.
    async fn check(&self, url: &str) -> Result<(), String>;
}
