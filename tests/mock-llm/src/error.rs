//! The crate's error type. Only starting the server can fail: everything that
//! goes wrong while answering is reported to the HTTP client instead, because
//! that is where the test under way looks.

use std::io;
use std::net::SocketAddr;

/// Why the mock server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The socket was bound but its local address could not be read.
    #[error("cannot read the listening address")]
    LocalAddr(#[source] io::Error),
}
