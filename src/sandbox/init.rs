//! The sandbox init: the forked child of the helper, PID 1 of the new PID
//! namespace. It sets up the root (see [`rootfs`](super::rootfs)), becomes
//! the user and execs the command, which thereby is PID 1 as in a Docker
//! `RUN`. Setup errors and created mount points go to the helper over the
//! report pipe.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};

use super::protocol::Report;
use super::spec::RunSpec;
use super::{process, rootfs};

/// Runs in the forked child; never returns.
pub(super) fn run(
    spec: &RunSpec,
    staging: &Path,
    out_w: OwnedFd,
    err_w: OwnedFd,
    rep_w: OwnedFd,
) -> ! {
    let mut report = std::fs::File::from(rep_w);
    let mut created = Vec::new();
    let result = prepare_process(&out_w, &err_w, spec.attach.stdin)
        .and_then(|()| rootfs::setup(spec, staging, &mut created))
        .and_then(|()| process::prepare(spec));
    let err = match result {
        Ok(command) => {
            // The helper must know the created mount points before the exec
            // closes the report pipe.
            send_created(&mut report, &created);
            created.clear();
            process::exec(&command)
        }
        Err(e) => e,
    };
    send_created(&mut report, &created);
    let line = serde_json::to_string(&Report::Error(format!("{err:#}"))).unwrap_or_default();
    let _ = report.write_all(format!("{line}\n").as_bytes());
    // SAFETY: _exit skips destructors and atexit handlers, which belong to
    // the helper (e.g. the staging TempDir).
    unsafe { libc::_exit(127) }
}

/// Writes the created mount points (they must be known to the helper
/// before the exec closes the pipe).
pub(super) fn send_created(report: &mut std::fs::File, created: &[String]) {
    let mut text = String::new();
    for path in created {
        if let Ok(line) = serde_json::to_string(&Report::Created(path.clone())) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    let _ = report.write_all(text.as_bytes());
}

/// Resets what the helper changed (signal mask and SIGPIPE disposition are
/// inherited across exec), binds death to the helper, detaches from the
/// terminal and wires stdio: stdin is /dev/null as in a Docker RUN (builder's
/// own for `builder run -i`).
pub(super) fn prepare_process(
    out_w: &OwnedFd,
    err_w: &OwnedFd,
    attach_stdin: bool,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    // SAFETY: restoring the default disposition installs no handler code.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl)? };
    // SAFETY: plain prctl with integer arguments.
    if unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error()).context("setting the parent-death signal");
    }
    nix::unistd::setsid().context("creating a session")?;
    let null = std::fs::File::open("/dev/null").context("opening /dev/null")?;
    // `builder run -i`: builder's stdin, which the helper holds at fd 3.
    let stdin = if attach_stdin {
        super::spec::ATTACH_STDIN_FD
    } else {
        null.as_raw_fd()
    };
    for (from, to) in [(stdin, 0), (out_w.as_raw_fd(), 1), (err_w.as_raw_fd(), 2)] {
        // SAFETY: dup2 on fds this process owns; the target fds 0–2 are
        // replaced on purpose.
        if unsafe { libc::dup2(from, to) } < 0 {
            return Err(std::io::Error::last_os_error()).context("wiring stdio");
        }
    }
    if attach_stdin {
        // SAFETY: closing the fd just duplicated onto 0.
        unsafe { libc::close(super::spec::ATTACH_STDIN_FD) };
    }
    // Docker's process umask.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    Ok(())
}
