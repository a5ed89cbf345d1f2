//! The VM's virtio-serial ports, found by the name the host gave them
//! (`/sys/class/virtio-ports/*/name`) rather than by their numbering, which depends on
//! the order the devices were probed in.

use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::Join;
use tokio::net::unix::pipe;

/// Ports appear once the virtio console driver has talked to the host, a moment after its
/// module is loaded; on a loaded machine under emulation that can take a while.
const APPEAR: Duration = Duration::from_secs(30);

async fn find(name: &str) -> Result<PathBuf, String> {
    let deadline = tokio::time::Instant::now() + APPEAR;
    loop {
        if let Ok(entries) = std::fs::read_dir("/sys/class/virtio-ports") {
            for entry in entries.flatten() {
                let named = std::fs::read_to_string(entry.path().join("name"))
                    .is_ok_and(|n| n.trim() == name);
                if named {
                    return Ok(PathBuf::from("/dev").join(entry.file_name()));
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "no virtio-serial port named {name} appeared within {}s",
                APPEAR.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The link port, opened once for both directions (reopening a port can lose what the host
/// sent meanwhile), non-blocking, as one async stream.
pub(crate) async fn open_link(name: &str) -> Result<Join<pipe::Receiver, pipe::Sender>, String> {
    let path = find(name).await?;
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&path)
        .map_err(err)?;
    let writer = file.try_clone().map_err(err)?;
    let receiver = pipe::Receiver::from_file_unchecked(file).map_err(err)?;
    let sender = pipe::Sender::from_file_unchecked(writer).map_err(err)?;
    Ok(tokio::io::join(receiver, sender))
}

/// The log port, for the agent's standard output and error (plain blocking writes).
pub(crate) async fn open_log(name: &str) -> Result<std::fs::File, String> {
    let path = find(name).await?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))
}
