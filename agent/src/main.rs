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
            return match run::precompile(std::path::Path::new(dir)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("openlegion-agent precompile: {err:#}");
                    ExitCode::from(2)
                }
            };
        }
        ["warm", dir] => {
            return match run::warm(std::path::Path::new(dir)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("openlegion-agent warm: {err:#}");
                    ExitCode::from(2)
                }
            };
        }
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
