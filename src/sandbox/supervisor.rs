//! The helper process (`builder __sandbox-child`): reads the spec, creates
//! the PID namespace, forks the init, relays its output as frames, kills it
//! on a signal or when the parent goes away, and after it ends removes the
//! mount points the sandbox created from the write dir.
//!
//! The helper is single-threaded (it runs before any runtime is built), so
//! forking here is safe.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, pipe2, ForkResult, Pid};

use super::protocol::{self, Frame, Report, Stream};
use super::spec::{RootFs, RunSpec};
use super::{chroot, cleanup, init, overlay, write_fd1};

/// Entry point of the hidden subcommand; returns the helper's exit code
/// (0 once a final frame was delivered).
pub fn helper_main() -> i32 {
    match supervise() {
        Ok(()) => 0,
        Err(e) => {
            let msg = format!("sandbox: {e:#}");
            // The frame is for the parent; stderr (which the parent shows only when the
            // helper fails) is for a person who ran the hidden subcommand by hand with
            // garbage on stdin and would otherwise see nothing readable.
            let _ = Frame::SetupError(msg.clone()).write_to(&mut FdOut);
            eprintln!("builder {}: {msg}", super::HELPER_SUBCOMMAND);
            1
        }
    }
}

/// `io::Write` over fd 1 without buffering.
struct FdOut;

impl io::Write for FdOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_fd1(buf).map(|()| buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Signals that end the run when the helper receives them.
const STOP_SIGNALS: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

fn supervise() -> anyhow::Result<()> {
    use anyhow::Context as _;
    let json = {
        let mut stdin = std::mem::ManuallyDrop::new(super::unsafe_fd_file(0));
        protocol::read_spec(&mut *stdin).context(
            "reading the run spec from stdin (a u64 little-endian length, then the spec as \
             JSON; this hidden subcommand is builder's own RUN helper)",
        )?
    };
    let spec: RunSpec = serde_json::from_slice(&json).context("decoding the run spec")?;
    if let Err(msg) = validate(&spec) {
        // Reported as before (helper_main adds the `sandbox: ` prefix back), now with a
        // non-zero exit and a line on stderr too.
        anyhow::bail!("{}", msg.trim_start_matches("sandbox: "));
    }

    // The staging dir is only a mount point: the init mounts a private tmpfs
    // on it in its own mount namespace, so on the host it stays empty.
    let parent = std::env::temp_dir().join(staging_parent());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&parent)
        .with_context(|| format!("creating {}", parent.display()))?;
    remove_stale_staging(&parent);
    let staging = tempfile::Builder::new()
        .prefix(&format!("{}-", std::process::id()))
        .tempdir_in(&parent)
        .context("creating the sandbox staging dir")?;

    let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC)?;
    let (rep_r, rep_w) = pipe2(OFlag::O_CLOEXEC)?;

    // A write to the parent after it is gone must be an error, not death:
    // the run still has to be killed and cleaned up.
    // SAFETY: setting a signal to SIG_IGN installs no handler code.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn)? };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    for s in STOP_SIGNALS {
        mask.add(s);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;

    let chrooted = matches!(spec.rootfs, RootFs::Chroot(_));
    // Before the PID namespace and the fork: the init inherits the network
    // namespace; slirp4netns stops when this goes (the helper's end).
    let _net = match spec.network {
        super::Network::Sandbox if !chrooted => Some(super::network::enter()?),
        _ => None,
    };
    if chrooted {
        // No PID namespace: the command's process group is killed when it
        // ends, and nothing here may be ptraced by it.
        set_not_dumpable();
    } else {
        unshare(CloneFlags::CLONE_NEWPID).context("creating the PID namespace (needs root)")?;
    }
    // SAFETY: the helper is single-threaded, so the child may run any code.
    let pid = match unsafe { fork() }.context("forking the sandbox init")? {
        ForkResult::Child => {
            drop((out_r, err_r, rep_r, sigfd));
            if chrooted {
                chroot::run(&spec, out_w, err_w, rep_w)
            }
            init::run(&spec, staging.path(), out_w, err_w, rep_w)
        }
        ForkResult::Parent { child } => child,
    };
    drop((out_w, err_w, rep_w));

    let forward = spec.attach.forward_signals;
    let ended = relay(pid, chrooted, forward, &sigfd, out_r, err_r, rep_r)?;
    let (created, error) = parse_reports(&ended.reports);
    let removed_from = spec.rootfs.write_dir();
    cleanup::remove_created(removed_from, &created);
    if let RootFs::Overlay { work, .. } = &spec.rootfs {
        overlay::clear_volatile_marker(work);
    }
    drop(staging);

    let frame = if let Some(msg) = error {
        Frame::SetupError(msg)
    } else if let Some(sig) = ended.interrupted {
        Frame::Interrupted(sig)
    } else {
        Frame::Exit(ended.code)
    };
    // A parent that went away gets nothing; the run is already dead.
    let _ = frame.write_to(&mut FdOut);
    Ok(())
}

/// Makes this process impossible to ptrace for processes without
/// CAP_SYS_PTRACE (a chroot-level RUN runs as the same uid, unconfined by
/// a PID namespace).
pub fn set_not_dumpable() {
    // SAFETY: plain prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Where the staging dirs live, under the temp dir: one dir per host user,
/// since a rootless builder cannot enter root's (mode 0700).
fn staging_parent() -> String {
    match super::userns::host_uid() {
        0 => ".builder-sandbox".to_string(),
        uid => format!(".builder-sandbox-{uid}"),
    }
}

/// Removes the (empty) staging dirs of helpers that were killed before they
/// could clean up; their names start with the helper's pid.
fn remove_stale_staging(parent: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // rmdir only: a dir that is not empty is not ours to judge.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// Checks what the init would otherwise fail on half-way.
fn validate(spec: &RunSpec) -> Result<(), String> {
    if spec.argv.is_empty() {
        return Err("sandbox: empty command".into());
    }
    if !spec.cwd.starts_with('/') {
        return Err(format!(
            "sandbox: working directory {:?} is not absolute",
            spec.cwd
        ));
    }
    for m in &spec.mounts {
        if !m.target().starts_with('/') {
            return Err(format!(
                "sandbox: mount target {:?} is not absolute",
                m.target()
            ));
        }
    }
    Ok(())
}

struct Ended {
    code: i32,
    interrupted: Option<i32>,
    reports: Vec<u8>,
}

/// Relays output until the init is reaped and every pipe is closed.
fn relay(
    pid: Pid,
    group: bool,
    forward: bool,
    sigfd: &SignalFd,
    out_r: OwnedFd,
    err_r: OwnedFd,
    rep_r: OwnedFd,
) -> anyhow::Result<Ended> {
    let mut pipes: [(Option<OwnedFd>, Option<Stream>); 3] = [
        (Some(out_r), Some(Stream::Stdout)),
        (Some(err_r), Some(Stream::Stderr)),
        (Some(rep_r), None),
    ];
    let mut lifeline_open = true;
    let mut parent_gone = false;
    let mut code = None;
    let mut interrupted = None;
    let mut reports = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];

    // Kills the init. Once it was reaped the run has ended on its own (and
    // its pid may be reused), so there is nothing to stop.
    let stop = |interrupted: &mut Option<i32>, reaped: bool, sig: i32| {
        if reaped {
            return;
        }
        if interrupted.is_none() {
            *interrupted = Some(sig);
        }
        // ESRCH (exited, not yet reaped) is fine.
        let _ = kill(pid, Signal::SIGKILL);
        if group {
            let _ = kill(Pid::from_raw(-pid.as_raw()), Signal::SIGKILL);
        }
    };

    while code.is_none() || pipes.iter().any(|p| p.0.is_some()) {
        let stdin = std::mem::ManuallyDrop::new(super::unsafe_fd_file(0));
        let mut fds = vec![PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
        if lifeline_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let first_pipe = fds.len();
        let mut open_idx = Vec::new();
        for (i, (fd, _)) in pipes.iter().enumerate() {
            if let Some(fd) = fd {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                open_idx.push(i);
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);

        if ready[0] {
            while let Some(info) = sigfd.read_signal()? {
                let signo = info.ssi_signo as i32;
                if signo == Signal::SIGCHLD as i32 {
                    let was = code.is_some();
                    code = code.or(reap(pid)?);
                    if group && !was && code.is_some() {
                        // Without a PID namespace nothing else ends what the
                        // command left running (in its session, see setsid).
                        let _ = kill(Pid::from_raw(-pid.as_raw()), Signal::SIGKILL);
                    }
                } else if forward {
                    // `builder run`: the command decides (PID 1 of its
                    // namespace ignores signals it has no handler for, as
                    // in `docker run`).
                    if code.is_none() {
                        if let Ok(sig) = Signal::try_from(signo) {
                            let _ = kill(pid, sig);
                        }
                    }
                } else {
                    stop(&mut interrupted, code.is_some(), signo);
                }
            }
        }
        if lifeline_open && ready[1] {
            let mut stdin = std::mem::ManuallyDrop::new(super::unsafe_fd_file(0));
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    lifeline_open = false;
                    stop(&mut interrupted, code.is_some(), 0);
                }
                Ok(_) => {} // Nothing more is expected; ignore extra bytes.
            }
        }
        for (k, &i) in open_idx.iter().enumerate() {
            if !ready[first_pipe + k] {
                continue;
            }
            let (fd, stream) = &mut pipes[i];
            let n = match nix::unistd::read(fd.as_ref().expect("open pipe"), &mut buf) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                *fd = None;
                continue;
            }
            match stream {
                Some(s) if !parent_gone => {
                    if Frame::Output(*s, buf[..n].to_vec())
                        .write_to(&mut FdOut)
                        .is_err()
                    {
                        parent_gone = true;
                        stop(&mut interrupted, code.is_some(), 0);
                    }
                }
                Some(_) => {}
                None => reports.extend_from_slice(&buf[..n]),
            }
        }
    }
    Ok(Ended {
        code: code.unwrap_or(1),
        interrupted,
        reports,
    })
}

/// Non-blocking reap of the init; `Some(exit code)` once it ended.
fn reap(pid: Pid) -> anyhow::Result<Option<i32>> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(status) => Ok(exit_code(status)),
        Err(Errno::ECHILD) => Ok(Some(1)),
        Err(e) => Err(e.into()),
    }
}

fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Splits the init's report lines into created paths and the setup error.
fn parse_reports(bytes: &[u8]) -> (Vec<String>, Option<String>) {
    let mut created = Vec::new();
    let mut error = None;
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Report>(line) {
            Ok(Report::Created(p)) => created.push(p),
            Ok(Report::Error(e)) => error = Some(e),
            Err(e) => error = Some(format!("sandbox: garbled report from the init: {e}")),
        }
    }
    (created, error)
}
