//! The last steps of the init before the command runs: find `argv[0]` in
//! `PATH` inside the new root, cut the capability bounding set to Docker's
//! default set, install Docker's default seccomp filter (see
//! [`seccomp`](super::seccomp)), become the user, `execve`. `no_new_privs`
//! stays unset, as in Docker. `RUN --security=insecure` keeps every
//! capability and installs no filter.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use caps::{CapSet, Capability};
use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};

use super::spec::{RunSpec, DEFAULT_PATH};

/// Docker's default capabilities; every other one leaves the bounding set.
pub const DEFAULT_CAPS: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// A command ready for `execve`, with privileges already dropped.
pub(super) struct Command {
    path: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
}

/// Resolves the executable, drops capabilities, installs the seccomp
/// filter and switches user.
pub(super) fn prepare(spec: &RunSpec) -> Result<Command> {
    prepare_with(spec, &[], false)
}

/// Like [`prepare`], also dropping `extra` from the bounding set (the
/// chroot level drops CAP_SYS_CHROOT, with which root leaves a chroot) and,
/// with `deny_device_nodes`, refusing device `mknod` in the filter (the
/// chroot level has no `nodev` mounts to make created nodes unopenable).
pub(super) fn prepare_with(
    spec: &RunSpec,
    extra: &[Capability],
    deny_device_nodes: bool,
) -> Result<Command> {
    let argv = spec
        .argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .context("a command argument contains a NUL byte")?;
    let env = spec
        .env
        .iter()
        .map(|e| CString::new(e.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .context("an environment variable contains a NUL byte")?;
    let path_var = spec
        .env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let path = CString::new(look_path(&spec.argv[0], path_var)?)?;
    // While still root with every capability (raising a hard limit needs
    // CAP_SYS_RESOURCE), as runc sets the OCI spec's rlimits.
    super::limits::apply_ulimits(&spec.limits.ulimits)?;
    // Even insecure, the chroot level's `extra` goes (a way out of the root).
    drop_capabilities(extra, spec.insecure)?;
    if !spec.insecure {
        // Last of the privileged steps: installing a filter without
        // no_new_privs needs CAP_SYS_ADMIN, which the switch to a non-root
        // user below drops; setgroups/setgid/setuid/execve are allowed.
        let caps = DEFAULT_CAPS
            .iter()
            .filter(|c| !extra.contains(c))
            .copied()
            .collect();
        super::seccomp::apply(&super::seccomp::Options {
            caps,
            deny_device_nodes,
        })?;
    }
    let u = &spec.user;
    let groups: Vec<Gid> = u
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // A user namespace with a single-ID map has setgroups denied: the
    // supplementary groups then stay the namespace's (none mapped).
    if !setgroups_denied() {
        setgroups(&groups).context("setting supplementary groups")?;
    }
    setgid(Gid::from_raw(u.gid)).with_context(|| format!("setting gid {}", u.gid))?;
    setuid(Uid::from_raw(u.uid)).with_context(|| format!("setting uid {}", u.uid))?;
    Ok(Command { path, argv, env })
}

/// Whether this user namespace forbids setgroups(2) (`/proc/self/setgroups`
/// is `deny`, as with a single-ID map written without newgidmap). Read
/// once: the chroot level calls it before the chroot, where /proc is gone.
pub(super) fn setgroups_denied() -> bool {
    static DENIED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DENIED.get_or_init(|| {
        std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
    })
}

/// Replaces the process with the command; returns only the error. Every
/// descriptor above stderr is made close-on-exec first: whatever builder
/// inherited from its own parent without that flag (a CI runner's pipes
/// or files) must not reach the command, and the sandbox's report pipe
/// must stay open until the exec itself.
pub(super) fn exec(cmd: &Command) -> anyhow::Error {
    cloexec_from(3);
    match nix::unistd::execve(&cmd.path, &cmd.argv, &cmd.env) {
        Ok(never) => match never {},
        Err(e) => anyhow::Error::new(e).context(format!("exec {:?}", cmd.path)),
    }
}

/// Finds `name` like `execvp` (and Go's `exec.LookPath`, which BuildKit
/// uses): names with a `/` are used as they are.
fn look_path(name: &str, path_var: &str) -> Result<String> {
    if name.contains('/') {
        return Ok(name.to_string());
    }
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate.to_string_lossy().into_owned());
            }
        }
    }
    bail!("exec: {name:?}: executable file not found in $PATH")
}

/// Cuts the bounding set to Docker's set (all but `extra` with
/// `keep_all`, for `--security=insecure`) and empties the inheritable and
/// ambient sets, so after exec root has exactly the default set and other
/// users have none (file capabilities stay limited by the bounding set).
fn drop_capabilities(extra: &[Capability], keep_all: bool) -> Result<()> {
    for cap in caps::runtime::thread_all_supported() {
        if (!keep_all && !DEFAULT_CAPS.contains(&cap)) || extra.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .with_context(|| format!("dropping {cap} from the bounding set"))?;
        }
    }
    caps::clear(None, CapSet::Inheritable).context("clearing inheritable capabilities")?;
    // Ambient capabilities may be unsupported on old kernels; nothing to clear then.
    let _ = caps::clear(None, CapSet::Ambient);
    Ok(())
}

/// Marks every descriptor from `first` up close-on-exec: `close_range`
/// with `CLOSE_RANGE_CLOEXEC` (Linux 5.11+), else one `fcntl` per
/// descriptor below the open-files limit.
fn cloexec_from(first: u32) {
    // SAFETY: close_range only changes descriptor flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(1 << 16) as i32
    } else {
        1024
    };
    for fd in first as i32..max {
        // SAFETY: F_SETFD on a descriptor that may not exist fails harmlessly.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_path_finds_executables_only() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("tool"), "").unwrap();
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", a.display(), b.display());
        assert_eq!(
            look_path("tool", &path).unwrap(),
            b.join("tool").to_string_lossy()
        );
        assert_eq!(look_path("./x", &path).unwrap(), "./x");
        let e = look_path("nope", &path).unwrap_err();
        assert!(e
            .to_string()
            .contains("\"nope\": executable file not found"));
    }
}
