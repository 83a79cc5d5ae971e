//! Isolation levels: which way of running builder this process can use,
//! found by probing (capabilities, a real `unshare(CLONE_NEWUSER)` in a
//! forked child) and forced with `--isolation` or `BUILDER_ISOLATION`.
//!
//! 1. `namespaces`: root with CAP_SYS_ADMIN; namespaces and overlayfs.
//! 2. `rootless`: user namespaces can be created; builder re-executes
//!    itself in one ([`userns`](super::userns)) and runs as level 1 there.
//! 3. `chroot`: neither; no mounts at all. Steps run on materialised
//!    copies of the snapshot chain and layers are found by diffing
//!    (`engine::flat`); RUN is `chroot`ed there (`sandbox::chroot`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::userns::{self, IdMap, IdRange};

static CHROOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process runs at the chroot level (set by [`enter`]):
/// steps then materialise and diff instead of mounting overlays.
pub fn chroot_level() -> bool {
    CHROOT.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether steps work on materialised copies of their snapshot chain and
/// find their layer by diffing (`engine::flat`) instead of mounting
/// overlays: at the chroot level, and at every level when the store is on
/// overlayfs (see [`storefs`](super::storefs)). RUN itself is chrooted only
/// at the chroot level; at levels 1 and 2 it keeps its namespaces, with the
/// copy bound as its root.
pub fn copies() -> bool {
    chroot_level() || crate::layer::whiteout_files::enabled()
}

/// Environment variable read when `--isolation` is not given.
pub const ISOLATION_ENV: &str = "BUILDER_ISOLATION";

/// What `--isolation` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Choice {
    /// The best level this process can use (`default`: docker build's
    /// spelling, which buildx accepts).
    #[default]
    #[value(alias = "default")]
    Auto,
    /// Root with CAP_SYS_ADMIN.
    Namespaces,
    /// A user namespace (newuidmap/newgidmap with /etc/subuid ranges).
    Rootless,
    /// No namespaces and no mounts: chroot and filesystem diffs.
    Chroot,
}

impl Choice {
    /// `flag`, else `BUILDER_ISOLATION`, else auto.
    pub fn resolve(flag: Option<Choice>) -> Result<Choice> {
        if let Some(c) = flag {
            return Ok(c);
        }
        match std::env::var(ISOLATION_ENV).ok().filter(|v| !v.is_empty()) {
            None => Ok(Choice::Auto),
            Some(v) => <Choice as clap::ValueEnum>::from_str(&v, true).map_err(|_| {
                anyhow::anyhow!(
                    "{ISOLATION_ENV}={v}: expected auto, namespaces, rootless or chroot"
                )
            }),
        }
    }
}

/// The level a process runs at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    /// Level 1 here, in this process (also inside a user namespace already
    /// entered, where this process is root with CAP_SYS_ADMIN).
    Namespaces,
    /// Level 2: re-execute in a new user namespace with this map.
    Rootless(IdMap),
    /// Level 3: chroot into materialised copies, layers by diffing.
    Chroot,
}

/// What was found about this process and host.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// The user's name (from /etc/passwd), if any.
    pub user: Option<String>,
    /// CAP_SYS_ADMIN in the effective set.
    pub sys_admin: bool,
    /// CAP_SETUID and CAP_SETGID in the effective set (any ID map can be
    /// written).
    pub set_ids: bool,
    /// Already in a non-initial user namespace.
    pub in_userns: bool,
    /// `Ok` if a forked child could unshare a user namespace, else why not.
    pub userns: std::result::Result<(), String>,
    /// `uname -r`.
    pub kernel: String,
    /// newuidmap and newgidmap, when installed.
    pub newuidmap: Option<PathBuf>,
    /// See `newuidmap`.
    pub newgidmap: Option<PathBuf>,
    /// The user's /etc/subuid ranges.
    pub subuid: Vec<IdRange>,
    /// The user's /etc/subgid ranges.
    pub subgid: Vec<IdRange>,
}

impl Probe {
    /// Probes this process (forks one short-lived child).
    pub fn run() -> Probe {
        let euid = nix::unistd::geteuid().as_raw();
        let user = super::user::passwd_name(euid);
        let name = user.clone().unwrap_or_default();
        Probe {
            euid,
            egid: nix::unistd::getegid().as_raw(),
            sys_admin: caps::has_cap(
                None,
                caps::CapSet::Effective,
                caps::Capability::CAP_SYS_ADMIN,
            )
            .unwrap_or(false),
            set_ids: [caps::Capability::CAP_SETUID, caps::Capability::CAP_SETGID]
                .into_iter()
                .all(|c| caps::has_cap(None, caps::CapSet::Effective, c).unwrap_or(false)),
            in_userns: userns::in_user_namespace(),
            userns: try_unshare_user(),
            kernel: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            newuidmap: userns::which("newuidmap"),
            newgidmap: userns::which("newgidmap"),
            subuid: userns::subids("/etc/subuid", &name, euid),
            subgid: userns::subids("/etc/subgid", &name, nix::unistd::getegid().as_raw()),
            user,
        }
    }

    /// The id map a re-exec would use.
    pub fn id_map(&self) -> IdMap {
        if self.euid == 0 && self.set_ids {
            return IdMap::Identity;
        }
        match (&self.newuidmap, &self.newgidmap) {
            (Some(u), Some(g)) if !self.subuid.is_empty() && !self.subgid.is_empty() => {
                IdMap::Ranges {
                    tools: (u.clone(), g.clone()),
                    uids: self.subuid.clone(),
                    gids: self.subgid.clone(),
                }
            }
            _ => IdMap::Single,
        }
    }

    /// Kernel major.minor, if it parses.
    fn kernel_version(&self) -> Option<(u32, u32)> {
        let mut it = self.kernel.split(['.', '-']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }

    /// Overlayfs can be mounted in a user namespace with `userxattr` (5.11+).
    pub fn overlay_in_userns(&self) -> bool {
        self.kernel_version().is_some_and(|v| v >= (5, 11))
    }

    /// Root with CAP_SYS_ADMIN.
    fn level1(&self) -> bool {
        self.euid == 0 && self.sys_admin
    }

    /// Why level 2 cannot be used, if it cannot.
    fn level2_missing(&self) -> Option<String> {
        if let Err(why) = &self.userns {
            return Some(format!("user namespaces are not available ({why})"));
        }
        if !self.overlay_in_userns() {
            return Some(format!(
                "Linux {} cannot mount overlayfs in a user namespace (5.11 or later can)",
                self.kernel
            ));
        }
        None
    }

    /// The level for `choice`, with the reason it was chosen.
    pub fn choose(&self, choice: Choice) -> Result<(Level, String)> {
        let rootless = || Level::Rootless(self.id_map());
        match choice {
            Choice::Auto if self.level1() && self.in_userns => Ok((
                Level::Namespaces,
                "root with CAP_SYS_ADMIN in a user namespace (rootless: the namespace is \
                 already set up)"
                    .into(),
            )),
            Choice::Auto if self.level1() => Ok((
                Level::Namespaces,
                "root with CAP_SYS_ADMIN: namespaces and overlayfs".into(),
            )),
            Choice::Auto => match self.level2_missing() {
                None => Ok((
                    rootless(),
                    format!(
                        "{}: re-executing in a user namespace",
                        self.who_without_admin()
                    ),
                )),
                Some(missing) if self.euid == 0 => Ok((
                    Level::Chroot,
                    format!("{}, and {missing}", self.who_without_admin()),
                )),
                Some(missing) => bail!(
                    "no isolation level works here: {}, and {missing}; the chroot level needs \
                     root\n{FIXES}",
                    self.who_without_admin()
                ),
            },
            Choice::Namespaces if self.level1() => {
                Ok((Level::Namespaces, "forced by --isolation".into()))
            }
            Choice::Namespaces => bail!(
                "--isolation namespaces needs root with CAP_SYS_ADMIN, and this process is {}\n{}",
                self.who_without_admin(),
                FIXES
            ),
            Choice::Rootless if self.level1() && self.in_userns => Ok((
                Level::Namespaces,
                "forced; already in a user namespace".into(),
            )),
            Choice::Rootless => match self.level2_missing() {
                None => Ok((rootless(), "forced by --isolation".into())),
                Some(missing) => bail!("--isolation rootless: {missing}\n{FIXES}"),
            },
            Choice::Chroot if self.euid == 0 => Ok((Level::Chroot, "forced by --isolation".into())),
            Choice::Chroot => bail!(
                "--isolation chroot needs root (chroot, chown, mknod), and this process is {}\n{}",
                self.who_without_admin(),
                FIXES
            ),
        }
    }

    fn who_without_admin(&self) -> String {
        if self.euid == 0 {
            "root without CAP_SYS_ADMIN".into()
        } else {
            format!("uid {} (not root)", self.euid)
        }
    }

    /// The warning a single-ID map deserves, if it is used.
    pub fn single_map_warning(&self) -> Option<String> {
        if self.id_map() != IdMap::Single {
            return None;
        }
        let missing = if self.newuidmap.is_none() || self.newgidmap.is_none() {
            "newuidmap/newgidmap are not installed (Debian: apt-get install uidmap)".to_string()
        } else {
            format!(
                "{} has no /etc/subuid and /etc/subgid ranges (usermod --add-subuids \
                 100000-165535 --add-subgids 100000-165535 {})",
                self.user.as_deref().unwrap_or("this user"),
                self.user.as_deref().unwrap_or("USER")
            )
        };
        Some(format!(
            "warning: {missing}; mapping only uid/gid 0 to the user, so files owned by \
             other ids cannot be created"
        ))
    }
}

/// What to do when no level works.
pub const FIXES: &str = "\
To run builder here, any of:
  - run it as root with CAP_SYS_ADMIN (docker run --privileged, with a volume for the store: \
-v builder-store:/var/lib/builder);
  - allow user namespaces: in Kubernetes `hostUsers: false` in the pod spec; in Docker or \
podman `--security-opt seccomp=unconfined` (and AppArmor unconfined where it applies); \
on a host, kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0;
  - give the user subordinate ids: an /etc/subuid and /etc/subgid entry \
(usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER) and the uidmap \
package (newuidmap, newgidmap).";

/// Forks a child that tries `unshare(CLONE_NEWUSER)`; `Err` names the errno.
fn try_unshare_user() -> std::result::Result<(), String> {
    use nix::sys::wait::{waitpid, WaitStatus};
    // SAFETY: the child only makes syscalls and _exits, which is sound even
    // if this process had other threads.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let code = match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
                Ok(()) => 0,
                Err(e) => e as i32,
            };
            // SAFETY: _exit is async-signal-safe and skips the parent's
            // destructors.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, errno)) => Err(format!(
                "unshare(CLONE_NEWUSER): {}",
                nix::errno::Errno::from_raw(errno).desc()
            )),
            other => Err(format!("probe child: {other:?}")),
        },
        Err(e) => Err(format!("fork: {e}")),
    }
}

/// Decides how a command that needs the sandbox or the store runs: `Ok(None)`
/// to go on in this process, `Ok(Some(code))` when it ran re-executed in a
/// user namespace. At the chroot level the process is marked (see
/// [`chroot_level`]) and made non-dumpable.
pub fn enter(choice: Choice, root: &Path) -> Result<Option<i32>> {
    // Level 1's common case needs no probe child.
    if matches!(choice, Choice::Auto | Choice::Namespaces)
        && nix::unistd::geteuid().is_root()
        && caps::has_cap(
            None,
            caps::CapSet::Effective,
            caps::Capability::CAP_SYS_ADMIN,
        )
        .unwrap_or(false)
    {
        return Ok(None);
    }
    let probe = Probe::run();
    let (level, reason) = probe.choose(choice)?;
    match level {
        Level::Namespaces => Ok(None),
        Level::Rootless(map) => {
            if let Some(w) = probe.single_map_warning() {
                eprintln!("{w}");
            }
            userns::reexec(&map, root).map(Some)
        }
        Level::Chroot => {
            if std::env::var_os("BUILDER_DEBUG_ISOLATION").is_some() {
                eprintln!("isolation: chroot ({reason})");
            }
            CHROOT.store(true, std::sync::atomic::Ordering::Relaxed);
            super::set_not_dumpable();
            Ok(None)
        }
    }
}

/// The report `builder info` prints.
pub fn report(probe: &Probe, choice: Choice, root: &Path) -> String {
    let (level, reason) = match probe.choose(choice) {
        Ok((Level::Namespaces, r)) if probe.in_userns => ("rootless".to_string(), r),
        Ok((Level::Namespaces, r)) => ("namespaces".to_string(), r),
        Ok((Level::Rootless(_), r)) => ("rootless".to_string(), r),
        Ok((Level::Chroot, r)) => (
            "chroot".to_string(),
            format!(
                "{r}: no mounts; RUN is chrooted into a copy of the stage's files (no \
                 /proc, RUN --mount by copies and the SSH agent relayed, no --network=none) and \
                 layers are found by diffing.\nFor namespaces and overlays:\n{FIXES}"
            ),
        ),
        Err(e) => ("none".to_string(), format!("{e:#}")),
    };
    let ranges = |r: &[IdRange]| {
        if r.is_empty() {
            "none".to_string()
        } else {
            r.iter()
                .map(|r| format!("{}-{} ({})", r.start, r.start + r.count - 1, r.count))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let tool = |p: &Option<PathBuf>| match p {
        Some(p) => p.display().to_string(),
        None => "not found (Debian: apt-get install uidmap)".to_string(),
    };
    let mut out = format!("isolation: {level}\nreason: {reason}\n");
    out += &format!("kernel: {}\n", probe.kernel);
    out += &format!(
        "user: uid {} gid {}{}{}\n",
        probe.euid,
        probe.egid,
        probe
            .user
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default(),
        if probe.sys_admin {
            ", CAP_SYS_ADMIN"
        } else {
            ", no CAP_SYS_ADMIN"
        }
    );
    out += &format!(
        "in a user namespace: {}\n",
        if probe.in_userns { "yes" } else { "no" }
    );
    out += &format!(
        "user namespaces: {}\n",
        match &probe.userns {
            Ok(()) => "available".to_string(),
            Err(e) => format!("unavailable: {e}"),
        }
    );
    out += &format!(
        "overlayfs in a user namespace: {}\n",
        if probe.overlay_in_userns() {
            "supported (userxattr, Linux 5.11+)"
        } else {
            "unsupported (needs Linux 5.11+)"
        }
    );
    out += &format!("newuidmap: {}\n", tool(&probe.newuidmap));
    out += &format!("newgidmap: {}\n", tool(&probe.newgidmap));
    out += &format!("subuid ranges: {}\n", ranges(&probe.subuid));
    out += &format!("subgid ranges: {}\n", ranges(&probe.subgid));
    out += &format!(
        "id map for rootless: {}\n",
        match probe.id_map() {
            IdMap::Ranges { .. } => "0 → the user, 1… → the subordinate ranges (newuidmap)",
            IdMap::Identity => "every id to itself (root with CAP_SETUID and CAP_SETGID)",
            IdMap::Single => "0 → the user only (other owners are squashed)",
        }
    );
    out += &format!("store: {}\n", root.display());
    out
}

#[cfg(test)]
mod tests;
