//! Building HTTP clients.
//!
//! reqwest is built against rustls without a bundled crypto provider (the default one,
//! aws-lc, costs a minute of C compilation on every cold build), so the process must install
//! one before the first client is built, or reqwest panics. Every client comes from here.

use std::sync::Once;

/// A reqwest builder, with the ring crypto provider installed for the process.
pub fn builder() -> reqwest::ClientBuilder {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}
