//! Ending and removing cgroups: every process in one killed, then the
//! dir removed; leftovers of helpers that were killed reclaimed.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{is_unified, parents, Controller, PREFIX};

/// Kills every process in `dir` (v2: `cgroup.kill` where the kernel has
/// it) and removes it, retrying while dying processes keep it busy (up to
/// 10 s).
pub(super) fn remove_dir(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        kill_procs(dir);
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                eprintln!("warning: removing the cgroup {}: {e}", dir.display());
                return;
            }
        }
    }
}

/// SIGKILLs every process in `dir` (v2: `cgroup.kill` where the kernel has
/// it, which also catches processes forked meanwhile).
pub(super) fn kill_procs(dir: &Path) {
    let kill_file = dir.join("cgroup.kill");
    if kill_file.exists() {
        let _ = std::fs::write(&kill_file, "1");
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Removes the cgroups in `parent` whose helper is no longer alive.
pub(super) fn reclaim_in(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !alive(pid) {
            remove_dir(&entry.path());
        }
    }
}

/// Whether `pid` runs: a killed helper whose parent died too stays a
/// zombie until the host's init reaps it, and counts as dead.
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// Reclaims leftovers of killed runs in every parent builder uses here
/// (each build does this first; errors are ignored: no cgroups, no
/// leftovers).
pub fn reclaim_stale() {
    let all = [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Devices,
    ];
    if is_unified() {
        if let Ok((p, _)) = parents(&all[..1]) {
            reclaim_in(&p[0].1);
        }
        return;
    }
    for c in all {
        if let Ok((p, _)) = parents(&[c]) {
            reclaim_in(&p[0].1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zombies_and_missing_pids_are_dead() {
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX - 1));
    }
}
