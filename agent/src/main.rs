//! `openlegion-agent`: started by the mesh inside the agent's sandbox, configured by its
//! environment (see `config`).

mod init;
mod logging;
mod run;
mod trial;

use std::path::PathBuf;
use std::process::ExitCode;

/// The agent takes no arguments when the mesh starts it (its configuration is its
/// environment); the subcommands are for `openlegion skill` and image builds.
#[derive(clap::Parser)]
#[command(name = "openlegion-agent", version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Compiles the skills in DIR into the shared function cache (used by image builds).
    Precompile { dir: PathBuf },
    /// Loads the skills in DIR once, so that their compiled code is cached.
    Warm { dir: PathBuf },
    /// Runs one skill outside any agent: lists its tools, or calls TOOL with ARGS_JSON.
    Try {
        dir: PathBuf,
        tool: Option<String>,
        args_json: Option<String>,
    },
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    match args.command {
        Some(Command::Precompile { dir }) => return exit("precompile", run::precompile(&dir)),
        Some(Command::Warm { dir }) => return exit("warm", run::warm(&dir)),
        Some(Command::Try {
            dir,
            tool,
            args_json,
        }) => return trial::main(&dir, tool.as_deref(), args_json.as_deref()),
        None => {}
    }
    match init::run_as_init_if_pid1() {
        Ok(Some(code)) => return code,
        Ok(None) => {}
        Err(err) => {
            eprintln!("openlegion-agent (init): {err:#}");
            return ExitCode::from(2);
        }
    }
    match run::main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("openlegion-agent: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// The exit code of subcommand `name`, its error (if any) on stderr.
fn exit(name: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("openlegion-agent {name}: {err:#}");
            ExitCode::from(2)
        }
    }
}
