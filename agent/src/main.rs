//! `openlegion-agent`: started by the mesh inside the agent's sandbox, configured by its
//! environment (see `config`).

mod init;
mod run;
mod trial;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["precompile", dir] => {
            return exit("precompile", run::precompile(std::path::Path::new(dir)));
        }
        ["warm", dir] => return exit("warm", run::warm(std::path::Path::new(dir))),
        ["try", dir, rest @ ..] if rest.len() <= 2 => {
            return trial::main(
                std::path::Path::new(dir),
                rest.first().copied(),
                rest.get(1).copied(),
            );
        }
        _ => {}
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
