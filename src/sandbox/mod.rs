//! Running one command (a `RUN` step) in new namespaces over an overlay
//! rootfs.
//!
//! The engine lives in a multi-threaded tokio runtime, and forking such a
//! process is unsafe, so a run uses three processes:
//!
//! ```text
//! engine ──spawn──► helper (`builder __sandbox-child`, single-threaded)
//!   ▲  spec on stdin,        │ unshare(PID), fork
//!   │  stdin kept as         ▼
//!   │  lifeline          init = the command, PID 1 of the new PID namespace:
//!   └─ frames on stdout      unshare(mount, UTS, IPC[, net]), overlay, /proc,
//!      (output, exit)        /dev, /sys, /etc files, mounts, pivot_root,
//!                            hostname, caps, user, execve
//! ```
//!
//! Mounts live only in the init's mount namespace, so they vanish with it.
//! When the init (the command) exits, the kernel kills every other process of
//! the PID namespace. The helper kills the init on SIGINT/SIGTERM/SIGHUP or
//! when its stdin (the lifeline) closes, and the init has the kernel kill it
//! if the helper dies (`PR_SET_PDEATHSIG`). After the run the helper removes
//! the mount points it had to create from the write dir, so they never reach
//! a layer.
//!
//! [`run`] blocks; call it from `tokio::task::spawn_blocking`.

pub mod binfmt;
pub mod chown;
mod chroot;
mod cleanup;
mod dev;
mod init;
pub mod isolation;
mod mountapi;
mod net;
pub mod network;
mod nodev;
pub mod overlay;
mod process;
pub mod protocol;
mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod storefs;
mod supervisor;
pub mod user;
pub mod userns;

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use protocol::Frame;
pub use protocol::Stream;
pub use spec::{
    Attach, EtcFiles, Mount, Network, RootFs, RunSpec, SecretBytes, User, DEFAULT_PATH,
};
pub use supervisor::{helper_main, set_not_dumpable};

/// The hidden subcommand the helper binary is started with.
pub const HELPER_SUBCOMMAND: &str = "__sandbox-child";

/// Longest line handed to the output callback; longer output without a
/// newline is passed on in pieces of this size so memory stays bounded.
const MAX_LINE: usize = 64 * 1024;

/// Why a run did not produce an exit code.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The helper process could not be started.
    #[error("starting the sandbox helper {helper}: {source}")]
    Spawn {
        /// The helper binary.
        helper: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The sandbox could not be set up or the command could not be started
    /// (the message names the mount, path or executable).
    #[error("{0}")]
    Setup(String),
    /// The run was killed: the helper got a signal (Ctrl-C) or its parent
    /// went away.
    #[error("the run was interrupted")]
    Interrupted,
    /// The helper ended without reporting how the run ended.
    #[error("the sandbox helper failed ({status}){stderr}")]
    Helper {
        /// The helper's exit status.
        status: String,
        /// What it printed to stderr, if anything.
        stderr: String,
    },
    /// Talking to the helper failed.
    #[error("talking to the sandbox helper: {0}")]
    Io(#[from] io::Error),
}

/// Runs `spec` with the current executable as helper (the `builder` binary
/// registers the hidden subcommand) and returns the command's exit code
/// (128+n when killed by signal n). Output is handed to `on_output` line by
/// line, without the trailing newline.
pub fn run(spec: &RunSpec, on_output: impl FnMut(Stream, &[u8])) -> Result<i32, SandboxError> {
    run_with(Path::new("/proc/self/exe"), spec, on_output)
}

/// Like [`run`], with an explicit helper binary (tests point it at the
/// built `builder`).
pub fn run_with(
    helper: &Path,
    spec: &RunSpec,
    on_output: impl FnMut(Stream, &[u8]),
) -> Result<i32, SandboxError> {
    spawn(helper, spec)?.wait(on_output)
}

/// Starts a run without waiting for it, so the caller can take a
/// [`Killer`] before blocking in [`Running::wait`].
pub fn spawn(helper: &Path, spec: &RunSpec) -> Result<Running, SandboxError> {
    let json = serde_json::to_vec(spec)
        .map_err(|e| SandboxError::Setup(format!("encoding the run spec: {e}")))?;
    let mut command = Command::new(helper);
    command
        .arg(HELPER_SUBCOMMAND)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    attach(&mut command, spec.attach)?;
    let mut child = command.spawn().map_err(|source| SandboxError::Spawn {
        helper: helper.to_path_buf(),
        source,
    })?;
    let pid = Pid::from_raw(child.id() as i32);
    let mut stdin = child.stdin.take().expect("stdin was piped");
    if let Err(e) = protocol::write_spec(&mut stdin, &json) {
        // The helper died before reading; its stderr says why.
        drop(stdin);
        let status = child.wait()?;
        let mut stderr = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut stderr);
        }
        return Err(SandboxError::Helper {
            status: format!("{status}; writing the spec: {e}"),
            stderr: format_stderr(&stderr),
        });
    }
    Ok(Running {
        child: Some(child),
        lifeline: Some(stdin),
        pid: Arc::new(Mutex::new(Some(pid))),
    })
}

/// Wires `builder run`'s [`Attach`] into the helper's command: its own
/// process group when signals are forwarded, builder's stdin as fd
/// [`spec::ATTACH_STDIN_FD`].
fn attach(command: &mut Command, attach: Attach) -> Result<(), SandboxError> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::process::CommandExt as _;
    if attach.forward_signals {
        command.process_group(0);
    }
    if attach.stdin {
        // A close-on-exec copy, so only this helper inherits it (at fd 3).
        let saved = io::stdin().as_fd().try_clone_to_owned()?;
        // SAFETY: dup2 is async-signal-safe; the closure owns `saved`.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(saved.as_raw_fd(), spec::ATTACH_STDIN_FD) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    Ok(())
}

/// A run in progress.
pub struct Running {
    child: Option<Child>,
    lifeline: Option<ChildStdin>,
    pid: Arc<Mutex<Option<Pid>>>,
}

/// Stops a run from another thread (e.g. when another stage failed).
#[derive(Clone)]
pub struct Killer {
    pid: Arc<Mutex<Option<Pid>>>,
}

impl Killer {
    /// Asks the helper to kill the run; [`Running::wait`] then returns
    /// [`SandboxError::Interrupted`]. Does nothing once the run has ended.
    pub fn kill(&self) {
        let guard = self.pid.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pid) = *guard {
            // The pid cannot have been reused: it is cleared under this lock
            // before the helper is reaped.
            let _ = kill(pid, Signal::SIGTERM);
        }
    }
}

impl Running {
    /// The helper's pid (for `builder run` to forward signals to it).
    pub fn helper_pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// A handle that can stop this run.
    pub fn killer(&self) -> Killer {
        Killer {
            pid: Arc::clone(&self.pid),
        }
    }

    /// Streams the output to `on_output` (line by line) until the run ends;
    /// returns the exit code.
    pub fn wait(mut self, mut on_output: impl FnMut(Stream, &[u8])) -> Result<i32, SandboxError> {
        let mut child = self.child.take().expect("wait consumes the run");
        let result = pump(&mut child, &mut on_output);
        // Clear the pid before reaping so a Killer can never signal a
        // recycled pid.
        *self.pid.lock().unwrap_or_else(|e| e.into_inner()) = None;
        drop(self.lifeline.take());
        let status = child.wait()?;
        let (end, stderr) = result?;
        match end {
            Some(Frame::Exit(code)) => Ok(code),
            Some(Frame::SetupError(msg)) => Err(SandboxError::Setup(msg)),
            Some(Frame::Interrupted(_)) => Err(SandboxError::Interrupted),
            _ => Err(SandboxError::Helper {
                status: status.to_string(),
                stderr: format_stderr(&stderr),
            }),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Closing the lifeline makes the helper kill the run and exit.
            *self.pid.lock().unwrap_or_else(|e| e.into_inner()) = None;
            drop(self.lifeline.take());
            let _ = child.wait();
        }
    }
}

fn format_stderr(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

/// Reads the helper's stdout (frames) and stderr until both close. Returns
/// the final frame and the helper's own stderr.
fn pump(
    child: &mut Child,
    on_output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<(Option<Frame>, String), SandboxError> {
    let mut out = child.stdout.take().expect("stdout was piped");
    let mut err = child.stderr.take().expect("stderr was piped");
    let mut frames = Vec::new();
    let mut stderr = Vec::new();
    let mut lines = [LineSplitter::default(), LineSplitter::default()];
    let mut end = None;
    let (mut out_open, mut err_open) = (true, true);
    let mut buf = vec![0u8; 64 * 1024];
    while out_open || err_open {
        let mut fds = Vec::with_capacity(2);
        if out_open {
            fds.push(PollFd::new(out.as_fd(), PollFlags::POLLIN));
        }
        if err_open {
            fds.push(PollFd::new(err.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io::Error::from(e).into()),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut idx = 0;
        if out_open {
            if ready[idx] {
                let n = read_some(&mut out, &mut buf)?;
                if n == 0 {
                    out_open = false;
                } else {
                    frames.extend_from_slice(&buf[..n]);
                    let mut pos = 0;
                    while let Some((frame, used)) = Frame::parse(&frames[pos..])? {
                        pos += used;
                        match frame {
                            Frame::Output(stream, bytes) => {
                                lines[stream as usize].push(&bytes, |l| on_output(stream, l))
                            }
                            other => end = Some(other),
                        }
                    }
                    frames.drain(..pos);
                }
            }
            idx += 1;
        }
        if err_open && ready[idx] {
            let n = read_some(&mut err, &mut buf)?;
            if n == 0 {
                err_open = false;
            } else if stderr.len() < MAX_LINE {
                stderr.extend_from_slice(&buf[..n]);
            }
        }
    }
    for stream in [Stream::Stdout, Stream::Stderr] {
        lines[stream as usize].finish(|l| on_output(stream, l));
    }
    Ok((end, String::from_utf8_lossy(&stderr).into_owned()))
}

fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Splits a byte stream into lines, keeping the unfinished tail.
#[derive(Default)]
struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(i) = bytes.iter().position(|b| *b == b'\n') {
            if self.pending.is_empty() {
                emit(&bytes[..i]);
            } else {
                self.pending.extend_from_slice(&bytes[..i]);
                emit(&self.pending);
                self.pending.clear();
            }
            bytes = &bytes[i + 1..];
        }
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            emit(&self.pending);
            self.pending = rest;
        }
    }

    fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(&self.pending);
            self.pending.clear();
        }
    }
}

/// Writes everything to the helper's stdout, a raw fd so nothing is
/// buffered across the fork.
fn write_fd1(bytes: &[u8]) -> io::Result<()> {
    let mut out = std::mem::ManuallyDrop::new(unsafe_fd_file(1));
    out.write_all(bytes)
}

/// A `File` over a raw fd that the caller must not close (wrapped in
/// `ManuallyDrop` by every user).
fn unsafe_fd_file(fd: i32) -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: fds 0/1 stay open for the helper's lifetime and every caller
    // wraps the File in ManuallyDrop, so it is never closed here.
    unsafe { std::fs::File::from_raw_fd(fd) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_tail_flushed() {
        let mut s = LineSplitter::default();
        let mut got: Vec<Vec<u8>> = Vec::new();
        s.push(b"a\nb", |l| got.push(l.to_vec()));
        s.push(b"c\n\nd", |l| got.push(l.to_vec()));
        s.finish(|l| got.push(l.to_vec()));
        assert_eq!(
            got,
            vec![b"a".to_vec(), b"bc".to_vec(), b"".to_vec(), b"d".to_vec()]
        );
    }

    #[test]
    fn long_lines_are_chunked() {
        let mut s = LineSplitter::default();
        let mut n = 0;
        s.push(&vec![b'x'; MAX_LINE * 2 + 1], |l| {
            assert!(l.len() <= MAX_LINE);
            n += 1;
        });
        assert_eq!(n, 2);
    }
}
