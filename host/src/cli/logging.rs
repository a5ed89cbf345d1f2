//! Log output of the mesh process: JSON lines by default (as the original's), text with
//! `OPENLEGION_LOG_FORMAT=text` (see [`openlegion_mesh::log_format`]); the level from
//! `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

fn init_with<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer);
    let _ = if openlegion_mesh::log_format::json() {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub(crate) fn init() {
    init_with(std::io::stderr);
}

/// Logs to `path` (appending) instead of stderr, which the REPL needs for itself.
pub(crate) fn init_file(path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    init_with(std::sync::Mutex::new(file));
    Ok(())
}
