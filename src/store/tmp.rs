//! Temp areas: every open [`super::Store`] writes its temp files and dirs
//! (partial blobs, layer tars, step dirs with overlay uppers, snapshot
//! extractions, atomic-write temp files, a context from stdin…) under its
//! own `ROOT/tmp/area-<pid>-<random>/`, beside which lives
//! `ROOT/tmp/area-<pid>-<random>.lock`, flocked by the owner for as long as
//! the store is open. The kernel drops the flock when the owner dies, even
//! by SIGKILL, so "the lock can be taken" means "nobody uses the area" — a
//! test that PID reuse cannot fool (the PID in the name is only a hint for
//! people).
//!
//! Protocol (lock file first, directory second; the other way round when
//! removing):
//!
//! - create: make the lock file (`O_EXCL`, random name), flock it, check the
//!   name still points at the locked inode (a reclaimer may have removed it
//!   in between: then start again with a new name), then mkdir the area;
//! - reclaim: open a lock file, try to flock it without waiting, check the
//!   name still points at it, remove the area, unlink the lock file, unlock;
//! - an area dir without a lock file is dead: a live owner's lock file
//!   exists from before its dir until after it; such a dir was just
//!   reclaimed through its lock (listed first) or not made by builder;
//! - anything else in `ROOT/tmp` comes from a builder older than areas and
//!   is removed only when the caller holds the store's exclusive GC lock.

use std::fs::{self, File};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::fsutil::remove_all;

const PREFIX: &str = "area-";
const LOCK_SUFFIX: &str = ".lock";

/// This process's temp area; removed (dir, then lock file) on drop.
pub(super) struct TempArea {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: Flock<File>,
}

impl std::fmt::Debug for TempArea {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TempArea").field(&self.dir).finish()
    }
}

impl Drop for TempArea {
    fn drop(&mut self) {
        if remove_all(&self.dir).is_ok() || !self.dir.exists() {
            let _ = fs::remove_file(&self.lock_path);
        }
    }
}

/// True if `path` still names the file `f` is open on.
fn still_linked(f: &File, path: &Path) -> Result<bool> {
    let held = f.metadata().context("fstat of a temp area lock")?;
    Ok(match fs::symlink_metadata(path) {
        Ok(m) => m.dev() == held.dev() && m.ino() == held.ino(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("stat {}", path.display())),
    })
}

impl TempArea {
    /// Creates a new area in `tmp_root` (`ROOT/tmp`).
    pub(super) fn create(tmp_root: &Path) -> Result<TempArea> {
        let prefix = format!("{PREFIX}{}-", std::process::id());
        loop {
            let (file, lock_path) = tempfile::Builder::new()
                .prefix(&prefix)
                .suffix(LOCK_SUFFIX)
                .rand_bytes(8)
                .tempfile_in(tmp_root)
                .with_context(|| format!("creating a lock file in {}", tmp_root.display()))?
                .keep()
                .context("keeping a temp area lock file")?;
            let lock = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, e)| e)
                .with_context(|| format!("locking {}", lock_path.display()))?;
            if !still_linked(&lock, &lock_path)? {
                continue; // a reclaimer took it before we locked it
            }
            let name = lock_path.file_name().unwrap_or_default().to_string_lossy();
            let dir = tmp_root.join(name.strip_suffix(LOCK_SUFFIX).unwrap_or(&name));
            if let Err(e) = fs::create_dir(&dir) {
                let _ = fs::remove_file(&lock_path);
                return Err(e).with_context(|| format!("creating {}", dir.display()));
            }
            return Ok(TempArea {
                dir,
                lock_path,
                _lock: lock,
            });
        }
    }

    /// The area's directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A temp area made on first use: a command that writes no temp file (a
/// cached rebuild) creates and removes nothing.
#[derive(Debug)]
pub(super) struct LazyArea {
    tmp_root: PathBuf,
    area: OnceLock<TempArea>,
    init: Mutex<()>,
}

impl LazyArea {
    /// An area in `tmp_root`, not made yet.
    pub(super) fn new(tmp_root: PathBuf) -> LazyArea {
        LazyArea {
            tmp_root,
            area: OnceLock::new(),
            init: Mutex::new(()),
        }
    }

    /// The area's dir, made now if it is not there yet.
    pub(super) fn dir(&self) -> Result<&Path> {
        if let Some(a) = self.area.get() {
            return Ok(a.dir());
        }
        let _one_at_a_time = self.init.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = self.area.get() {
            return Ok(a.dir());
        }
        let made = match TempArea::create(&self.tmp_root) {
            Err(e) if read_only_fs(&e) => {
                // A read-only store can still be read (`run`, `save`): its
                // temp files (overlay uppers, export tars) go to a private
                // dir under the system temp dir; nothing is renamed into
                // the store, which would fail anyway.
                let uid = nix::unistd::geteuid();
                let alt = std::env::temp_dir().join(format!(".builder-ro-store-{uid}"));
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&alt)
                    .with_context(|| format!("creating {}", alt.display()))?;
                let _ = reclaim(&alt, None, false);
                TempArea::create(&alt)?
            }
            other => other?,
        };
        Ok(self.area.get_or_init(|| made).dir())
    }

    /// The area's dir if it has been made.
    pub(super) fn made(&self) -> Option<&Path> {
        self.area.get().map(TempArea::dir)
    }
}

/// True if `e` comes from a read-only file system (EROFS).
fn read_only_fs(e: &anyhow::Error) -> bool {
    // tempfile wraps the OS error with the path: only its kind is left.
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ReadOnlyFilesystem)
    })
}

/// Removes from `tmp_root` every area no live process holds, except
/// `own`, and with `exclusive` (no other builder has the store open) also
/// entries that are not areas. Every entry is tried; the first error is
/// returned after that. Returns how many entries (an area and its lock
/// count once) were removed.
pub(super) fn reclaim(tmp_root: &Path, own: Option<&Path>, exclusive: bool) -> Result<usize> {
    let mut names: Vec<String> = Vec::new();
    for e in fs::read_dir(tmp_root).with_context(|| format!("listing {}", tmp_root.display()))? {
        names.push(e?.file_name().to_string_lossy().into_owned());
    }
    let own_name = own.and_then(Path::file_name).map(|n| n.to_string_lossy());
    let mut removed = 0;
    let mut first_err = None;
    for name in &names {
        let area = name.strip_suffix(LOCK_SUFFIX).unwrap_or(name);
        if own_name.as_deref() == Some(area) {
            continue;
        }
        let path = tmp_root.join(name);
        let result = if !name.starts_with(PREFIX) {
            if exclusive {
                remove_if_there(&path)
            } else {
                Ok(false)
            }
        } else if area.len() < name.len() {
            reclaim_area(&path, &tmp_root.join(area))
        } else if tmp_root.join(format!("{name}{LOCK_SUFFIX}")).exists() {
            Ok(false) // its lock decides
        } else {
            // No lock: dead, or just reclaimed through its lock (listed before it).
            remove_if_there(&path)
        };
        match result {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) if first_err.is_none() => first_err = Some(e),
            Err(_) => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// Removes `path` unless it is already gone; true if this call removed it.
/// (Another reclaimer may be removing it at the same time.)
fn remove_if_there(path: &Path) -> Result<bool> {
    match remove_all(path) {
        Ok(()) => Ok(true),
        Err(_) if fs::symlink_metadata(path).is_err() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the area `dir` if its lock `lock_path` can be taken now.
fn reclaim_area(lock_path: &Path, dir: &Path) -> Result<bool> {
    let file = match File::open(lock_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("opening {}", lock_path.display())),
    };
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((_, Errno::EWOULDBLOCK)) => return Ok(false), // live
        Err((_, e)) => return Err(e).with_context(|| format!("locking {}", lock_path.display())),
    };
    if !still_linked(&lock, lock_path)? {
        return Ok(false); // another reclaimer was first
    }
    remove_if_there(dir)?;
    fs::remove_file(lock_path).with_context(|| format!("removing {}", lock_path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn dead_areas_go_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path();
        let live = TempArea::create(tmp).unwrap();
        fs::write(live.dir().join("blob-1"), b"partial").unwrap();
        // What a killed owner leaves: an unlocked lock file beside its area.
        let dead_dir = tmp.join("area-9-dead");
        fs::create_dir(&dead_dir).unwrap();
        fs::write(tmp.join("area-9-dead.lock"), b"").unwrap();
        // An overlay work dir as a killed RUN leaves it: d--------- with content.
        let work = dead_dir.join("step-x/work/work");
        fs::create_dir_all(work.join("inner")).unwrap();
        fs::write(work.join("inner/f"), b"x").unwrap();
        fs::set_permissions(&work, fs::Permissions::from_mode(0o000)).unwrap();
        // An area dir whose lock is gone, and a pre-area temp file.
        fs::create_dir(tmp.join("area-1-orphan")).unwrap();
        fs::write(tmp.join("blob-old"), b"x").unwrap();

        assert_eq!(reclaim(tmp, None, false).unwrap(), 2);
        // Listed before its lock or after it, a reclaimed area is no error.
        assert!(!remove_if_there(&dead_dir).unwrap());
        assert!(!dead_dir.exists() && !tmp.join("area-9-dead.lock").exists());
        assert!(!tmp.join("area-1-orphan").exists());
        assert!(
            live.dir().join("blob-1").is_file(),
            "a live area was removed"
        );
        assert!(tmp.join("blob-old").exists(), "removed without the GC lock");
        assert_eq!(reclaim(tmp, Some(live.dir()), true).unwrap(), 1);
        assert!(!tmp.join("blob-old").exists());
        let live_dir = live.dir().to_path_buf();
        drop(live);
        assert!(!live_dir.exists());
        assert_eq!(fs::read_dir(tmp).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_removed_before_it_was_taken_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let a = TempArea::create(dir.path()).unwrap();
        // As if a reclaimer had unlinked the lock file between creation and flock.
        fs::remove_file(&a.lock_path).unwrap();
        assert!(!still_linked(&a._lock, &a.lock_path).unwrap());
        let b = TempArea::create(dir.path()).unwrap();
        assert!(still_linked(&b._lock, &b.lock_path).unwrap());
        assert_ne!(a.dir(), b.dir());
    }
}
