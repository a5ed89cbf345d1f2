//! The link between a microVM agent and the mesh: many Unix-socket connections carried over
//! one byte stream (a virtio-serial port), so that the agent and the mesh each see the same
//! `mesh.sock` / `agent.sock` pair a container agent has.
//!
//! Both ends run [`bridge`]: the host listens on the agent's `agent.sock` and connects to
//! its `mesh.sock`; the guest listens on `mesh.sock` and connects to `agent.sock`. Each
//! accepted connection becomes one yamux stream; each stream the other end opens becomes one
//! connection here. Nothing above the byte level is looked at, so HTTP, SSE and whatever else
//! crosses a Unix socket crosses the link unchanged.
//!
//! The link itself is the VM's lifeline: when either end closes it (the mesh stops the agent,
//! or the mesh dies and the kernel closes its socket), the other end's [`bridge`] returns and
//! the guest powers itself off.
//!
//! It also holds [`Handoff`], what the host tells the guest's init at boot, and the names of
//! the virtio-serial ports, so the two sides cannot disagree on them.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::VecDeque;
use std::task::Poll;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

/// The virtio-serial port that carries the link.
pub const LINK_PORT: &str = "openlegion.link";
/// The virtio-serial port the agent's output goes to (the host appends it to `agent.log`).
pub const LOG_PORT: &str = "openlegion.log";
/// Where the guest's init finds the [`Handoff`] (put there by the initramfs).
pub const HANDOFF_PATH: &str = "/run/openlegion/handoff.json";

/// Streams at once over one link, and the memory the receiving end may buffer for them
/// (256 KiB each at least, yamux's initial window): an agent cannot make the mesh hold more.
const MAX_STREAMS: usize = 256;
const MAX_BUFFERED: usize = MAX_STREAMS * 256 * 1024;
/// How long a closing bridge waits for its goodbye to reach the other end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Which end of the link this is (yamux needs one client and one server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Host,
    Guest,
}

/// Why [`bridge`] could not run, or why the link broke.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    #[error("cannot listen on {}: {source}", path.display())]
    Listen {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the link to the other end failed: {0}")]
    Link(#[source] yamux::ConnectionError),
}

/// How a bridge ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The other end closed the link (or it reached end of file).
    Closed,
    /// `stop` completed and this end closed the link.
    Stopped,
}

/// What the host hands the guest's init at boot: the agent's environment (its mesh token
/// among it) and the user it runs as. It travels in the per-boot initramfs, never on the
/// kernel command line, which any local user can read from QEMU's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handoff {
    /// The agent's id (the guest's host name).
    pub agent: String,
    /// `KEY`, `value` pairs, in order.
    pub env: Vec<(String, String)>,
    pub uid: u32,
    pub gid: u32,
    /// The project brief (`PROJECT.md`), if there is one.
    pub project_brief: Option<String>,
    /// Instead of running the agent, compile its built-in skills into `/data/seeds` and
    /// power off: the host does this once per root disk, so that agents find code compiled
    /// for the very CPU their VM shows (under emulation it is not the host's).
    #[serde(default)]
    pub precompile: bool,
}

/// Where a precompiling VM leaves the compiled skills, on its data disk.
pub const SEEDS_DIR: &str = "/data/seeds";

fn link_config() -> yamux::Config {
    let mut config = yamux::Config::default();
    config
        .set_max_num_streams(MAX_STREAMS)
        .set_max_connection_receive_window(Some(MAX_BUFFERED));
    config
}

/// What the bridge's loop wakes up for.
enum Event {
    Inbound(yamux::Stream),
    Accepted(UnixStream),
    AcceptFailed(io::Error),
    Closed,
    Failed(yamux::ConnectionError),
    Stop,
}

/// Carries connections both ways over `link` until the other end closes it or `stop`
/// completes: connections accepted on `listen` (a Unix socket this creates, mode 0666 — the
/// directory it is in is the gate) are opened on the other end, and the other end's go to
/// `connect`. Removes `listen` when it returns.
pub async fn bridge<S>(
    link: S,
    side: Side,
    listen: &Path,
    connect: &Path,
    stop: impl Future<Output = ()>,
) -> Result<Ended, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let listen_err = |source| LinkError::Listen {
        path: listen.to_owned(),
        source,
    };
    let _ = std::fs::remove_file(listen);
    let listener = UnixListener::bind(listen).map_err(listen_err)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(listen, std::fs::Permissions::from_mode(0o666))
            .map_err(listen_err)?;
    }
    let mode = match side {
        Side::Host => yamux::Mode::Client,
        Side::Guest => yamux::Mode::Server,
    };
    let mut conn = yamux::Connection::new(link.compat(), link_config(), mode);
    // Local connections waiting for their stream to open, oldest first.
    let mut opening: VecDeque<oneshot::Sender<yamux::Stream>> = VecDeque::new();
    let mut stop = std::pin::pin!(stop);
    let outcome = loop {
        // One task drives the yamux connection: it opens streams, takes the other end's,
        // and moves every stream's bytes.
        let event = std::future::poll_fn(|cx| {
            while !opening.is_empty() {
                match conn.poll_new_outbound(cx) {
                    Poll::Ready(Ok(stream)) => {
                        if let Some(waiting) = opening.pop_front() {
                            let _ = waiting.send(stream);
                        }
                    }
                    // The connection is going away; the next poll below says why.
                    Poll::Ready(Err(_)) => opening.clear(),
                    Poll::Pending => break,
                }
            }
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Stop);
            }
            if let Poll::Ready(accepted) = listener.poll_accept(cx) {
                return Poll::Ready(match accepted {
                    Ok((local, _)) => Event::Accepted(local),
                    Err(e) => Event::AcceptFailed(e),
                });
            }
            conn.poll_next_inbound(cx).map(|inbound| match inbound {
                Some(Ok(stream)) => Event::Inbound(stream),
                Some(Err(e)) => Event::Failed(e),
                None => Event::Closed,
            })
        })
        .await;
        match event {
            Event::Inbound(stream) => {
                tokio::spawn(to_socket(stream, connect.to_owned()));
            }
            Event::Accepted(local) => {
                let (tx, rx) = oneshot::channel();
                opening.push_back(tx);
                tokio::spawn(async move {
                    if let Ok(stream) = rx.await {
                        splice(local, stream).await;
                    }
                });
            }
            Event::AcceptFailed(e) => {
                // Out of descriptors, say: wait instead of spinning.
                tracing::warn!(error = %e, "accepting a connection to carry over the link");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Event::Closed => break Ok(Ended::Closed),
            Event::Failed(e) => break Err(LinkError::Link(e)),
            Event::Stop => {
                drop(listener);
                // Say goodbye (yamux GoAway) and let it reach the other end; dropping the
                // connection then closes the link, which the other end sees as end of file.
                let _ = tokio::time::timeout(
                    CLOSE_TIMEOUT,
                    std::future::poll_fn(|cx| conn.poll_close(cx)),
                )
                .await;
                break Ok(Ended::Stopped);
            }
        }
    };
    let _ = std::fs::remove_file(listen);
    outcome
}

/// Connects a stream the other end opened to the local socket `path`.
async fn to_socket(stream: yamux::Stream, path: PathBuf) {
    match UnixStream::connect(&path).await {
        Ok(local) => splice(local, stream).await,
        // The agent is not listening yet (it is starting): the caller sees its connection
        // closed, as it would on a container whose agent has not bound its socket.
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "nothing to connect a link stream to")
        }
    }
}

async fn splice(mut local: UnixStream, stream: yamux::Stream) {
    let mut stream = stream.compat();
    if let Err(e) = tokio::io::copy_bidirectional(&mut local, &mut stream).await {
        tracing::debug!(error = %e, "a connection over the link ended with an error");
    }
}

#[cfg(test)]
mod tests;
