//! The devices cgroup of a level-1 RUN on cgroup v1: deny every device,
//! then allow BuildKit's default set (containerd's default spec, which
//! `docker build` uses): `mknod` of any node (`c *:* m`, `b *:* m`, as
//! Docker keeps CAP_MKNOD) and read/write/mknod of null, zero, full,
//! random, urandom, tty, console, ptmx, the pts and tun. Opening any other
//! node fails with EPERM, as in Docker. Where it is in force the `nodev`
//! remounts ([`nodev`](super::nodev)) are left out: the kernel checks
//! `nodev` first and would answer EACCES. Elsewhere (cgroup v2, which
//! needs a BPF program for this; levels 2 and 3; a host without the
//! controller) `nodev` stays the guard.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result};

/// BuildKit's (containerd's) default device rules, after `a` is denied.
const ALLOW: [&str; 12] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

/// Set by the helper before it forks the init once the run's devices
/// cgroup is in force; the init (a forked copy) reads it to leave out the
/// `nodev` remounts.
static CONFINED: AtomicBool = AtomicBool::new(false);

/// Whether the run's devices cgroup is in force (in the init).
pub(super) fn confined() -> bool {
    CONFINED.load(Ordering::Relaxed)
}

pub(super) fn set_confined() {
    CONFINED.store(true, Ordering::Relaxed);
}

/// Whether a run should get the devices cgroup: level 1 (root in the
/// initial user namespace, not chrooted) and not `--security=insecure`.
pub(super) fn wanted(insecure: bool, chrooted: bool) -> bool {
    !insecure
        && !chrooted
        && std::fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

/// Writes the rules into the (new, empty) v1 devices cgroup `dir`.
pub(super) fn restrict(dir: &Path) -> Result<()> {
    let write = |file: &str, rule: &str| {
        let path = dir.join(file);
        std::fs::write(&path, rule).with_context(|| format!("writing {rule} to {}", path.display()))
    };
    write("devices.deny", "a")?;
    for rule in ALLOW {
        write("devices.allow", rule)?;
    }
    Ok(())
}
