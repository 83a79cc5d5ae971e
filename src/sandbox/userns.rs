//! Level 2 (rootless): re-executing builder in a new user namespace.
//!
//! The parent (the user's process) starts `/proc/self/exe` with the same
//! arguments and two pipe fds in [`REEXEC_ENV`]. The child unshares its user
//! namespace and says so; the parent writes the child's ID maps — the user's
//! `/etc/subuid` and `/etc/subgid` ranges through the setuid `newuidmap` /
//! `newgidmap`, or a single-ID map (`0 → the user`) written directly — and
//! lets it go on. The child is then uid 0 with every capability inside its
//! namespace, enters a private mount namespace and runs the command as root
//! would: overlays get `userxattr`, extraction may chown, and files keep the
//! owners the image gives them (uid 0 in the image is the user on the host).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// Set in the re-executed child: `READ_FD,WRITE_FD` of the handshake pipes
/// and the parent's pid.
pub const REEXEC_ENV: &str = "_BUILDER_USERNS_FDS";

/// One range of subordinate ids: `count` ids from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First host id of the range.
    pub start: u64,
    /// How many ids.
    pub count: u64,
}

/// How the child's ids are mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdMap {
    /// 0 → the user, 1.. → the subordinate ranges (through newuidmap).
    Ranges {
        /// newuidmap / newgidmap.
        tools: (PathBuf, PathBuf),
        /// /etc/subuid ranges of the user.
        uids: Vec<IdRange>,
        /// /etc/subgid ranges of the user.
        gids: Vec<IdRange>,
    },
    /// Only 0 → the user: files owned by other ids cannot be created.
    Single,
    /// Every id this process has, mapped to itself: root with CAP_SETUID and
    /// CAP_SETGID (but without CAP_SYS_ADMIN) may write any map.
    Identity,
}

pub use crate::layer::xattrs::in_user_namespace;

/// The host uid this process's effective uid stands for (itself outside a
/// user namespace).
pub fn host_uid() -> u64 {
    let euid = u64::from(nix::unistd::geteuid().as_raw());
    let Ok(map) = std::fs::read_to_string("/proc/self/uid_map") else {
        return euid;
    };
    map.lines()
        .find_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 3 && euid >= f[0] && euid < f[0] + f[2]).then(|| f[1] + (euid - f[0]))
        })
        .unwrap_or(euid)
}

/// Whether `id` is mapped in this process's user namespace (`kind` is
/// `"uid"` or `"gid"`).
pub fn id_is_mapped(kind: &str, id: u64) -> bool {
    let Ok(map) = std::fs::read_to_string(format!("/proc/self/{kind}_map")) else {
        return false;
    };
    map.lines().any(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        f.len() == 3 && id >= f[0] && id < f[0] + f[2]
    })
}

/// The ranges of `/etc/subuid`-style `text` for the user `name` or `id`.
pub fn parse_subids(text: &str, name: &str, id: u32) -> Vec<IdRange> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            if who != name && who.parse::<u32>().ok() != Some(id) {
                return None;
            }
            let (start, count) = (start.trim().parse().ok()?, count.trim().parse().ok()?);
            (count > 0).then_some(IdRange { start, count })
        })
        .collect()
}

/// The subordinate ranges of the current user from `file` (none if unreadable).
pub fn subids(file: &str, name: &str, id: u32) -> Vec<IdRange> {
    std::fs::read_to_string(file)
        .map(|t| parse_subids(&t, name, id))
        .unwrap_or_default()
}

/// Finds a program on `PATH` (or the usual sbin dirs).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/bin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Runs this same command line in a new user namespace with `map`; returns
/// its exit code. `root` is the store the child must use (its default would
/// be root's).
pub fn reexec(map: &IdMap, root: &Path) -> Result<i32> {
    let (to_child_r, to_child_w) = nix::unistd::pipe()?;
    let (to_parent_r, to_parent_w) = nix::unistd::pipe()?;
    for fd in [&to_child_w, &to_parent_r] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    }
    let fds = format!(
        "{},{},{}",
        to_child_r.as_raw_fd(),
        to_parent_w.as_raw_fd(),
        std::process::id()
    );
    let mut cmd = Command::new("/proc/self/exe");
    cmd.args(std::env::args_os().skip(1))
        .env(REEXEC_ENV, fds)
        .env(crate::store::ROOT_ENV, root);
    if let Some(arg0) = std::env::args_os().next() {
        use std::os::unix::process::CommandExt as _;
        cmd.arg0(arg0);
    }
    let mut child = cmd
        .spawn()
        .context("re-executing builder in a user namespace")?;
    drop((to_child_r, to_parent_w));
    let mut from_child = std::fs::File::from(to_parent_r);
    let mut to_child = std::fs::File::from(to_child_w);
    forward_stop_signals(child.id());
    let mut byte = [0u8; 1];
    let handshake = match from_child.read(&mut byte) {
        Ok(1) => write_maps(child.id(), map),
        Ok(_) => Err(anyhow::anyhow!(
            "the re-executed builder ended before entering its user namespace"
        )),
        Err(e) => Err(e.into()),
    };
    match handshake {
        Ok(()) => to_child.write_all(b"1")?,
        Err(e) => {
            drop(to_child); // the child sees EOF and exits
            let _ = child.wait();
            return Err(e);
        }
    }
    drop(to_child);
    let status = child.wait()?;
    use std::os::unix::process::ExitStatusExt as _;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// The re-executed child, for the signal handler.
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// SIGTERM and SIGHUP sent to this process (a CI job being cancelled) are
/// passed on to `child`; SIGINT and SIGQUIT from the terminal reach it
/// anyway (same process group), so this process ignores them and waits.
fn forward_stop_signals(child: u32) {
    use nix::sys::signal::{signal, SigHandler, Signal};
    CHILD.store(child as i32, std::sync::atomic::Ordering::Relaxed);
    for s in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { signal(s, SigHandler::SigIgn) };
    }
    for s in [Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only loads an atomic and calls kill(2).
        let _ = unsafe { signal(s, SigHandler::Handler(forward)) };
    }
}

/// Writes the child's uid and gid maps.
fn write_maps(pid: u32, map: &IdMap) -> Result<()> {
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    match map {
        IdMap::Ranges { tools, uids, gids } => {
            for (tool, id, ranges) in [(&tools.0, uid, uids), (&tools.1, gid, gids)] {
                let mut args = vec![pid.to_string(), "0".into(), id.to_string(), "1".into()];
                let mut inside = 1u64;
                for r in ranges {
                    args.extend([inside.to_string(), r.start.to_string(), r.count.to_string()]);
                    inside += r.count;
                }
                let out = Command::new(tool)
                    .args(&args)
                    .output()
                    .with_context(|| format!("running {}", tool.display()))?;
                if !out.status.success() {
                    bail!(
                        "{} {} failed ({}): {} — check the user's /etc/subuid and \
                         /etc/subgid entries and that {} is setuid root",
                        tool.display(),
                        args.join(" "),
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim(),
                        tool.display()
                    );
                }
            }
        }
        IdMap::Identity => {
            let dir = format!("/proc/{pid}");
            for kind in ["uid", "gid"] {
                let own = std::fs::read_to_string(format!("/proc/self/{kind}_map"))?;
                std::fs::write(format!("{dir}/{kind}_map"), identity_map(&own))
                    .with_context(|| format!("writing the child's {kind} map"))?;
            }
        }
        IdMap::Single => {
            let dir = format!("/proc/{pid}");
            std::fs::write(format!("{dir}/setgroups"), "deny")
                .context("writing the child's setgroups")?;
            std::fs::write(format!("{dir}/uid_map"), format!("0 {uid} 1"))
                .context("writing the child's uid map")?;
            std::fs::write(format!("{dir}/gid_map"), format!("0 {gid} 1"))
                .context("writing the child's gid map")?;
        }
    }
    Ok(())
}

/// A map giving the child every id of `own` (this process's map), each
/// mapped to itself — but never the whole initial map `0 0 4294967295`: the
/// child must see that it is in a user namespace ([`in_user_namespace`]
/// reads the map), so the last id, 4294967294, is left out.
fn identity_map(own: &str) -> String {
    own.lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let count = if f[..] == [0, 0, 4294967295] {
                f[2] - 1
            } else {
                *f.get(2)?
            };
            (f.len() == 3).then(|| format!("{} {} {count}\n", f[0], f[0]))
        })
        .collect()
}

/// In the re-executed child (when [`REEXEC_ENV`] is set): enters the user
/// namespace, waits for the maps, becomes uid/gid 0 and enters a private
/// mount namespace. Does nothing in any other process.
pub fn enter_if_reexecuted() -> Result<()> {
    let Some(fds) = std::env::var_os(REEXEC_ENV) else {
        return Ok(());
    };
    // Single-threaded here (first thing in main), so changing the
    // environment is sound; the sandbox helper must not see the fds.
    std::env::remove_var(REEXEC_ENV);
    let fds = fds.to_string_lossy().into_owned();
    let parsed: Vec<i32> = fds.split(',').filter_map(|f| f.parse().ok()).collect();
    let [from_parent, to_parent, parent] = parsed[..] else {
        bail!("{REEXEC_ENV}={fds}: expected two fds and a pid");
    };
    // SAFETY: the parent passed these inherited pipe ends to this process
    // only; nothing else owns them.
    let (from_parent, to_parent) = unsafe {
        (
            std::fs::File::from(OwnedFd::from_raw_fd(from_parent)),
            std::fs::File::from(OwnedFd::from_raw_fd(to_parent)),
        )
    };
    for f in [&from_parent, &to_parent] {
        fcntl(f, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    }
    unshare(CloneFlags::CLONE_NEWUSER).context("creating the user namespace")?;
    (&to_parent).write_all(b"1")?;
    drop(to_parent);
    let mut byte = [0u8; 1];
    if (&from_parent).read(&mut byte)? != 1 {
        bail!("the ID maps of the user namespace could not be written (see above)");
    }
    let root = nix::unistd::Uid::from_raw(0);
    let root_g = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g).context("becoming gid 0 in the namespace")?;
    nix::unistd::setresuid(root, root, root).context("becoming uid 0 in the namespace")?;
    // The namespace must not outlive the user's process (set after the
    // credential change, which may clear it).
    // SAFETY: plain prctl with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if nix::unistd::getppid().as_raw() != parent {
        bail!("the parent builder process ended");
    }
    unshare(CloneFlags::CLONE_NEWNS).context("creating the mount namespace")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making mounts private")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_lines_match_by_name_or_id() {
        let text = "alice:100000:65536\nbob:165536:65536\n1001:231072:1000\n#x\nalice:300000:0\n";
        assert_eq!(
            parse_subids(text, "alice", 1000),
            vec![IdRange {
                start: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            parse_subids(text, "carol", 1001),
            vec![IdRange {
                start: 231072,
                count: 1000
            }]
        );
        assert!(parse_subids(text, "dave", 5).is_empty());
    }

    #[test]
    fn identity_maps_keep_the_inside_ids() {
        assert_eq!(
            identity_map("         0     100000      65536\n  65536  1000 1\n"),
            "0 0 65536\n65536 65536 1\n"
        );
        assert_eq!(identity_map("0 0 4294967295\n"), "0 0 4294967294\n");
    }

    #[test]
    fn the_test_process_is_in_the_initial_namespace_or_mapped() {
        // Under cargo test as root on a host, the identity map; anywhere,
        // uid 0's mapping status agrees with in_user_namespace's answer
        // about the full map.
        let full = !in_user_namespace();
        if full {
            assert!(id_is_mapped("uid", 0) && id_is_mapped("uid", 4_000_000_000));
        }
    }
}
