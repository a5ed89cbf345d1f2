//! What a page may request and how it may connect: decisions the mesh makes, not this crate.

/// Decides, for every request a page makes, whether it may go out, and gives the proxy
/// every connection goes through. The mesh implements it with the rules of its own HTTP
/// requests (scheme, allowlist, no private targets); the service asks it before each
/// navigation and again for every request Chromium pauses (redirect hops and sub-resources
/// included), and the mesh's proxy checks each connection again, at the address it pins.
#[async_trait::async_trait]
pub trait RequestPolicy: Send + Sync + std::fmt::Debug {
    /// `Err` is the reason for the refusal, shown to the agent.
    async fn check(&self, url: &str) -> Result<(), String>;

    /// The HTTP proxy (`http://127.0.0.1:PORT`) Chromium must send every connection
    /// through, so that it resolves no name itself; `Ok(None)` lets Chromium connect on its
    /// own (only for a policy with no DNS names to protect, such as this crate's tests).
    /// `Err` (the proxy cannot run) stops the browser from starting.
    fn proxy(&self) -> Result<Option<String>, String>;

    /// Why the connection for `url` was refused when it was opened (after [`Self::check`]
    /// allowed the URL), if it was: names the reason of a navigation that failed on it.
    fn refused_at_connect(&self, url: &str) -> Option<String> {
        let _ = url;
        None
    }
}
