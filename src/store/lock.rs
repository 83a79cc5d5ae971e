//! Advisory file locks (flock) so several builder processes can share one
//! store. Lock files live in `ROOT/locks/` and are never deleted, because
//! deleting a lock file while another process waits on it would let two
//! processes hold "the same" lock.

use std::fs::{File, OpenOptions};
use std::path::Path;

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};

/// A held lock; released on drop.
///
/// On a read-only file system no lock is taken (nor needed: no builder can
/// write there, so readers cannot race a writer or GC) and upgrading fails.
pub struct FileLock {
    _lock: Option<Flock<File>>,
}

impl std::fmt::Debug for FileLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileLock")
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))
}

/// Blocks until the exclusive lock on `path` is held.
pub fn exclusive(path: &Path) -> Result<FileLock> {
    lock(path, FlockArg::LockExclusive)
}

/// Blocks until a shared lock on `path` is held.
pub fn shared(path: &Path) -> Result<FileLock> {
    lock(path, FlockArg::LockShared)
}

fn lock(path: &Path, arg: FlockArg) -> Result<FileLock> {
    let file = match open(path) {
        Ok(f) => f,
        Err(e) if read_only_fs(&e) => {
            // flock needs no write access: lock the file if it is there.
            match File::open(path) {
                Ok(f) => f,
                Err(_) => return Ok(FileLock { _lock: None }),
            }
        }
        Err(e) => return Err(e),
    };
    let lock = Flock::lock(file, arg)
        .map_err(|(_, e)| e)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(FileLock { _lock: Some(lock) })
}

/// True if `e` says the file system is mounted read-only (EROFS).
fn read_only_fs(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::raw_os_error)
        == Some(libc::EROFS)
}

impl FileLock {
    fn held(&self) -> Result<&Flock<File>> {
        self._lock
            .as_ref()
            .context("the store is on a read-only file system: it can be read, not changed")
    }
}

impl FileLock {
    /// Converts this lock to exclusive (blocking). Used by GC, which holds
    /// the store's shared lock like every other user and must upgrade on the
    /// same open file: a second descriptor would wait on itself.
    pub fn upgrade(&self) -> Result<()> {
        self.held()?
            .relock(FlockArg::LockExclusive)
            .context("upgrading store lock to exclusive")
    }

    /// Converts this lock back to shared.
    pub fn downgrade(&self) -> Result<()> {
        self.held()?
            .relock(FlockArg::LockShared)
            .context("downgrading store lock to shared")
    }

    /// Tries to convert to exclusive without blocking; false if another
    /// process holds the lock.
    pub fn try_upgrade(&self) -> Result<bool> {
        match self.held()?.relock(FlockArg::LockExclusiveNonblock) {
            Ok(()) => Ok(true),
            Err(nix::errno::Errno::EWOULDBLOCK) => Ok(false),
            Err(e) => Err(e).context("upgrading store lock to exclusive"),
        }
    }
}
