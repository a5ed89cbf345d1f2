//! `openlegion-agent`: started by the mesh inside the agent's sandbox, configured by its
//! environment (see `config`).

mod init;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
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
