//! `openlegion doctor`: checks this machine for what the platform can use, and says what
//! each missing piece disables. Exits 0 when the configured agents can run (the agent
//! binary exists, and an engine answers if they need one), 1 otherwise.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use openlegion_mesh::config::{Config, Isolation};

use super::machine::{self, Probe};
use super::table;

pub(crate) async fn run(config_dir: &Path) -> Result<ExitCode> {
    let config = Config::load(config_dir)?;
    let probes = vec![
        machine::agent_binary(&config),
        machine::docker().await,
        machine::gvisor().await,
        machine::kvm(),
        machine::microvm(&config).await,
        machine::embedding_model(),
        machine::chat_model(),
        machine::chromium(),
        machine::disk(&config),
    ];
    print_probes(&probes);
    let needed = needed_isolation(&config);
    let found = |what: &str| probes.iter().any(|p| p.what == what && p.ok);
    let mut blocked = Vec::new();
    if !found("agent binary") {
        blocked.push("no agent can start without the agent binary".to_owned());
    }
    for isolation in needed {
        let (ok, name) = match isolation {
            Isolation::Docker => (found("Docker engine"), "docker"),
            Isolation::Gvisor => (found("Docker engine") && found("gVisor (runsc)"), "gvisor"),
            Isolation::Microvm => (found("microVM (QEMU)"), "microvm"),
            Isolation::Process | Isolation::External => (true, ""),
        };
        if !ok {
            blocked.push(format!(
                "agents.yaml has agents with isolation {name}, which this machine cannot run"
            ));
        }
    }
    if blocked.is_empty() {
        println!("\nthe agents of {} can run here", config.dir.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!();
        for line in blocked {
            println!("problem: {line}");
        }
        Ok(ExitCode::from(1))
    }
}

fn print_probes(probes: &[Probe]) {
    let mut rows = table::plain(&[]);
    for p in probes {
        let status = if p.ok { "ok" } else { "missing" };
        rows.add_row([status, p.what, p.detail.as_str()]);
        if !p.ok {
            let disables = format!("disables: {}", p.disables);
            rows.add_row(["", "", disables.as_str()]);
        }
    }
    table::print(&rows);
}

/// The isolations agents.yaml asks for explicitly (unset means "Docker if it answers",
/// which never blocks).
fn needed_isolation(config: &Config) -> Vec<Isolation> {
    let mut needed: Vec<Isolation> = config
        .agents
        .agents
        .values()
        .filter_map(|a| a.isolation.or(config.mesh.runtime.isolation))
        .collect();
    needed.sort_by_key(|i| format!("{i:?}"));
    needed.dedup();
    needed
}
