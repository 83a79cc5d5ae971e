//! RUN's own network (BuildKit's default `sandbox` network mode): a new
//! network namespace whose only ways out are `lo` and a tap device that
//! `slirp4netns` (the user-mode TCP/IP stack rootless Podman and rootless
//! BuildKit use; Debian package `slirp4netns`) connects to the host's
//! network from outside, as a NAT: outbound TCP/UDP works (package
//! mirrors, registries, DNS), the host's interfaces and loopback are not
//! visible (`--disable-host-loopback`: `10.0.2.2` does not lead to the
//! host's `127.0.0.1`), and nothing on the host sees the RUN's packets.
//!
//! Layout inside the namespace (slirp4netns defaults): `tap0` with
//! `10.0.2.100/24`, gateway `10.0.2.2`, DNS forwarder `10.0.2.3`, MTU
//! 65520. The same at the `namespaces` and `rootless` isolation levels:
//! slirp4netns needs no privilege beyond the user namespace that owns the
//! network namespace. The `chroot` level cannot make a namespace; there
//! RUN shares the host's network (see docs/compatibility.md).
//!
//! Sequence (the helper is single-threaded, so forking is safe): fork a
//! launcher that waits; `unshare(CLONE_NEWNET)` in the helper; let the
//! launcher exec slirp4netns on the helper's pid (the launcher is still in
//! the host's namespace, where slirp4netns must run); wait for its ready
//! fd. The sandbox init forked afterwards inherits the namespace. The
//! helper keeps slirp4netns's exit fd: when the helper ends, for whatever
//! reason, slirp4netns ends too.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Seek};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe2, ForkResult, Pid};

/// The user-mode network stack's program name.
pub const SLIRP4NETNS: &str = "slirp4netns";

/// How long slirp4netns may take to configure the tap device.
const READY_TIMEOUT_MS: u16 = 20_000;

/// A running slirp4netns serving this process's network namespace; it
/// stops when this is dropped (or when the process dies).
pub(super) struct SandboxNet {
    pid: Pid,
    exit_w: Option<OwnedFd>,
}

impl Drop for SandboxNet {
    fn drop(&mut self) {
        // Closing the exit fd is slirp4netns's signal to stop.
        drop(self.exit_w.take());
        if waitpid(self.pid, None).is_err() {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
    }
}

/// Where `slirp4netns` is, from `PATH` (then `/usr/bin`, `/usr/local/bin`).
pub fn find_slirp4netns() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/local/bin".into()])
        .map(|d| d.join(SLIRP4NETNS))
        .find(|p| p.is_file())
}

/// Why RUN cannot get a network namespace of its own here although the
/// isolation level could make one, or `None` when it can: slirp4netns is
/// not installed (then RUN shares the network, with this as the warning,
/// as in a CI job container whose network is its own already), or it must
/// open `/dev/net/tun`, which the kernel makes mode 0666 but some hosts
/// and containers make 0600 (root only): a rootless builder there shares
/// the host's network, with this as the warning. Probed once per process.
pub fn tun_unusable() -> Option<&'static str> {
    static PROBE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            // A job container rarely has slirp4netns: it already runs in a
            // network namespace of its own, which RUN then shares.
            if find_slirp4netns().is_none() {
                return Some(
                    "slirp4netns is not installed, so RUN steps share this machine's (or \
                     container's) network (Debian: apt-get install slirp4netns to isolate them)"
                        .to_string(),
                );
            }
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/net/tun")
            {
                Ok(_) => None,
                Err(e) => Some(format!(
                    "/dev/net/tun cannot be opened by this user ({e}), so slirp4netns cannot \
                     connect a network namespace; RUN steps share the host's network (make \
                     /dev/net/tun mode 0666, the kernel's default, to isolate them)"
                )),
            }
        })
        .as_deref()
}

/// Moves the calling (single-threaded) process into a new network
/// namespace served by slirp4netns, with `lo` and `tap0` up.
pub(super) fn enter() -> Result<SandboxNet> {
    let Some(prog) = find_slirp4netns() else {
        bail!(
            "RUN gets a network namespace of its own, reached through slirp4netns, which is \
             not installed (Debian: apt-get install slirp4netns); or build with \
             --network none, or --network host --allow network.host to share the host's network"
        );
    };
    let (go_r, go_w) = pipe2(OFlag::O_CLOEXEC)?;
    let (ready_r, ready_w) = pipe2(OFlag::O_CLOEXEC)?;
    let (exit_r, exit_w) = pipe2(OFlag::O_CLOEXEC)?;
    let mut log = tempfile::tempfile().context("creating a log file for slirp4netns")?;
    let argv: Vec<CString> = [
        prog.to_string_lossy().into_owned(),
        "--configure".into(),
        "--mtu=65520".into(),
        "--disable-host-loopback".into(),
        "--enable-sandbox".into(),
        "--enable-seccomp".into(),
        "--ready-fd=3".into(),
        "--exit-fd=4".into(),
        std::process::id().to_string(),
        "tap0".into(),
    ]
    .into_iter()
    .map(|a| CString::new(a).context("a NUL in slirp4netns's arguments"))
    .collect::<Result<_>>()?;
    // SAFETY: the helper is single-threaded; the child only calls
    // async-signal-safe functions (read, dup2, execv, _exit).
    let pid = match unsafe { fork() }.context("forking slirp4netns")? {
        ForkResult::Child => unsafe {
            // Our copy of the write end would keep the read below from
            // seeing EOF if the helper died.
            libc::close(go_w.as_raw_fd());
            let mut b = [0u8; 1];
            // Wait until the helper is in its new namespace (or gone).
            while libc::read(go_r.as_raw_fd(), b.as_mut_ptr().cast(), 1) < 0 {}
            // Above 9 first, so that moving one to 3 or 4 cannot clobber the other.
            let ready = libc::fcntl(ready_w.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10);
            let exit = libc::fcntl(exit_r.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10);
            if b[0] != 1
                || ready < 0
                || exit < 0
                || libc::dup2(ready, 3) < 0
                || libc::dup2(exit, 4) < 0
                || libc::dup2(log.as_raw_fd(), 1) < 0
                || libc::dup2(log.as_raw_fd(), 2) < 0
            {
                libc::_exit(127);
            }
            let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            libc::execv(ptrs[0], ptrs.as_ptr());
            libc::_exit(127)
        },
        ForkResult::Parent { child } => child,
    };
    drop((go_r, ready_w, exit_r));
    let net = SandboxNet {
        pid,
        exit_w: Some(exit_w),
    };
    let go = |ok: bool| nix::unistd::write(go_w.as_fd(), &[u8::from(ok)]);
    if let Err(e) = unshare(CloneFlags::CLONE_NEWNET) {
        let _ = go(false);
        return Err(e).context("creating the network namespace");
    }
    go(true).context("starting slirp4netns")?;
    super::net::loopback_up().context("bringing up lo in the new network namespace")?;
    let mut fds = [PollFd::new(ready_r.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::from(READY_TIMEOUT_MS)).unwrap_or(0) > 0
        && File::from(ready_r).read(&mut [0u8; 1]).unwrap_or(0) == 1;
    if !ready {
        drop(net);
        let mut msg = String::new();
        let _ = log.rewind();
        let _ = log.read_to_string(&mut msg);
        let msg: Vec<&str> = msg
            .lines()
            .filter(|l| !l.contains("seccomp is experimental") && !l.trim().is_empty())
            .collect();
        bail!(
            "slirp4netns did not set up RUN's network: {}",
            if msg.is_empty() {
                "no output".to_string()
            } else {
                msg.join("; ")
            }
        );
    }
    Ok(net)
}
