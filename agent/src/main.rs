//! `openlegion-agent`: started by the mesh inside the agent's sandbox, configured by its
//! environment (see `config`).

mod init;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let [command, dir] = args.as_slice()
        && command == "precompile"
    {
        return match run::precompile(std::path::Path::new(dir)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("openlegion-agent precompile: {err:#}");
                ExitCode::from(2)
            }
        };
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
