//! `mock-llm`: the scripted mock LLM provider as a standalone server, for
//! tests that run the platform in another process.
//!
//! Run with `cargo run -p openlegion-mock-llm -- --port 0`. The first line on
//! stdout is `listening on http://127.0.0.1:PORT`; script it afterwards with
//! `POST /_mock/script` (see the library docs), or pass `--script FILE`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use openlegion_mock_llm::{MockConfig, MockLlm, Script};
use serde::Deserialize;

/// Scripted mock OpenAI / Anthropic server for tests.
#[derive(Debug, Parser)]
#[command(name = "mock-llm", version)]
struct Args {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Embedding length when a request does not ask for `dimensions`.
    #[arg(long, default_value_t = 8)]
    embedding_dim: usize,
    /// JSON file with one script (`{"model"?, "turns": [...]}`) or an array of them.
    #[arg(long)]
    script: Option<PathBuf>,
}

/// A script file holds one script or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ScriptFile {
    One(Script),
    Many(Vec<Script>),
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mock-llm: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    let config = MockConfig {
        addr: SocketAddr::new(args.host, args.port),
        embedding_dim: args.embedding_dim,
    };
    let mock = MockLlm::try_start(config).await?;
    if let Some(path) = &args.script {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read script {}", path.display()))?;
        let scripts = match serde_json::from_str(&text)
            .with_context(|| format!("cannot parse script {}", path.display()))?
        {
            ScriptFile::One(script) => vec![script],
            ScriptFile::Many(scripts) => scripts,
        };
        scripts.into_iter().for_each(|script| mock.load(script));
    }
    // The parent process reads the port from this line: it goes out first,
    // flushed explicitly so it never waits in a buffer.
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", mock.url())?;
        stdout.flush()?;
    }
    wait_for_stop().await?;
    mock.shutdown().await;
    Ok(())
}

/// Until Ctrl-C or SIGTERM.
async fn wait_for_stop() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
