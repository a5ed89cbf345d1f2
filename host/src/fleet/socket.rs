//! The mesh's socket for one agent: the whole mesh API on `mesh.sock` in the agent's socket
//! directory, where every request is marked as coming from that agent's socket.

use std::path::Path;

use axum::Router;
use openlegion_protocol::AgentId;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

/// Which agent's socket a request came through. The caller's token must be that agent's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketPeer(pub AgentId);

/// Listens on `path` for `agent` until `stop`.
pub(super) fn serve(
    app: Router,
    agent: AgentId,
    path: &Path,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    {
        // The directory (0700, the agent's) is the gate; the socket itself must be usable
        // by the agent's user, whoever created it.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    }
    let app = app.layer(axum::Extension(SocketPeer(agent.clone())));
    let path = path.to_owned();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(agent = %agent, error = %e, "the agent's mesh socket failed");
        }
        let _ = std::fs::remove_file(path);
    });
    Ok(())
}
