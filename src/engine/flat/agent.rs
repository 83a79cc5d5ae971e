//! `RUN --mount=type=ssh` without a mount (the chroot level): a socket cannot
//! be copied into the root, so builder listens on a new socket at the
//! target inside the root and relays every connection to the host's agent
//! socket, as BuildKit forwards the agent over its session. The RUN can
//! reach the agent and nothing else; the listener is close-on-exec, so the
//! RUN never holds it, and it is removed before the diff.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A listening socket in a root relaying to an agent socket.
pub struct Relay {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listens at `path` (which must not exist; owner root, mode 0600 as
    /// BuildKit's defaults) and relays each connection to `agent`.
    pub fn start(path: &Path, agent: &Path) -> io::Result<Relay> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(io::Error::other("no socket name"));
        };
        // A socket path is limited to 108 bytes; the store's may be longer.
        let dir_fd = std::fs::File::open(dir)?;
        let short = Path::new("/proc/self/fd")
            .join(dir_fd.as_raw_fd().to_string())
            .join(name);
        let listener = UnixListener::bind(&short)?;
        std::os::unix::fs::lchown(path, Some(0), Some(0))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (agent, flag) = (agent.to_path_buf(), stop.clone());
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(client) = client {
                    let agent = agent.clone();
                    std::thread::spawn(move || relay(client, &agent));
                }
            }
        });
        Ok(Relay {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    /// Stops listening and removes the socket (connections still open end
    /// with their RUN's processes).
    pub fn stop(mut self) -> io::Result<()> {
        self.halt();
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // Wakes the accept; the loop sees the flag. The socket may have
            // been removed by the RUN: then the thread is left to the exit.
            if connect_short(&self.path).is_ok() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.halt();
        let _ = std::fs::remove_file(&self.path);
    }
}

fn connect_short(path: &Path) -> io::Result<UnixStream> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other("no socket name"));
    };
    let dir_fd = std::fs::File::open(dir)?;
    UnixStream::connect(
        Path::new("/proc/self/fd")
            .join(dir_fd.as_raw_fd().to_string())
            .join(name),
    )
}

/// Copies both ways between a RUN's connection and the agent until either
/// side closes.
fn relay(client: UnixStream, agent: &Path) {
    let Ok(upstream) = UnixStream::connect(agent) else {
        return;
    };
    let (Ok(mut c_in), Ok(mut u_out)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut c_in, &mut u_out);
        let _ = u_out.shutdown(std::net::Shutdown::Write);
    });
    let (mut u_in, mut c_out) = (upstream, client);
    let _ = io::copy(&mut u_in, &mut c_out);
    let _ = c_out.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}
