//! `openlegion-agent`: started by the mesh inside the agent's sandbox, configured by its
//! environment (see `config`).

mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    match run::main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("openlegion-agent: {err:#}");
            ExitCode::from(2)
        }
    }
}
