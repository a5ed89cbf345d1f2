//! The kill path that does not need the engine: when Docker stops answering (a wedged
//! runtime, runsc in particular, can block even `docker rm -f` for minutes), SIGKILL every process
//! in the container's cgroup directly.

use std::path::PathBuf;

/// The `cgroup.procs` files a container with id `id` may have, across cgroup v1 and v2 and
/// the cgroupfs and systemd drivers.
fn candidates(id: &str) -> Vec<PathBuf> {
    let root = PathBuf::from("/sys/fs/cgroup");
    let mut out = Vec::new();
    for controller in ["", "pids", "memory", "cpu,cpuacct", "systemd"] {
        let base = root.join(controller);
        out.push(base.join("docker").join(id).join("cgroup.procs"));
        out.push(
            base.join("system.slice")
                .join(format!("docker-{id}.scope"))
                .join("cgroup.procs"),
        );
    }
    out
}

/// Kills every process of container `id`; returns how many were signalled.
pub(super) fn kill_all(id: &str) -> usize {
    let mut pids = std::collections::BTreeSet::new();
    for procs in candidates(id) {
        if let Ok(text) = std::fs::read_to_string(&procs) {
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }
    pids.into_iter()
        .filter(|&pid| {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .is_ok()
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_drivers_and_both_versions_are_looked_at() {
        let all: Vec<String> = candidates("abc")
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        for expected in [
            "/sys/fs/cgroup/pids/docker/abc/cgroup.procs",
            "/sys/fs/cgroup/docker/abc/cgroup.procs",
            "/sys/fs/cgroup/system.slice/docker-abc.scope/cgroup.procs",
        ] {
            assert!(all.iter().any(|p| p == expected), "{expected} missing");
        }
    }

    #[test]
    fn an_unknown_container_kills_nothing() {
        assert_eq!(kill_all("0000000000000000"), 0);
    }
}
