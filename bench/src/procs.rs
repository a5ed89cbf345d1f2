//! Processes as benchmarks measure them: proportional memory (PSS, which splits shared
//! pages among the processes that map them) of one process or a whole tree, and the
//! containerd shim above a container's process.

/// `Pss:` of `pid` in KiB (0 if it is gone).
pub fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Pss:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Every process with its parent.
pub fn processes() -> Vec<(u32, u32)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …"; comm may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok());
        if let Some(ppid) = ppid {
            all.push((pid, ppid));
        }
    }
    all
}

/// PSS of `root` and all its descendants, in KiB.
pub fn tree_pss_kib(root: u32) -> u64 {
    let all = processes();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    tree.iter().map(|&p| pss_kib(p)).sum()
}

pub fn parent_of(pid: u32) -> Option<u32> {
    processes()
        .into_iter()
        .find(|(p, _)| *p == pid)
        .map(|(_, pp)| pp)
}

/// The containerd shim above `pid`.
pub fn shim_of(pid: u32) -> Option<u32> {
    let mut p = pid;
    for _ in 0..8 {
        let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        if comm.starts_with("containerd-shim") {
            return Some(p);
        }
        p = parent_of(p)?;
    }
    None
}
