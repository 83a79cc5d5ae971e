//! Crash-safe file writes: temp file, fsync, rename, fsync of the
//! directory. A reader sees the old file or the new one, never a torn one.
//! Removal of whole trees, read-only dirs included.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Atomically replaces `path` with `bytes`, with permission bits `mode`;
/// the temp file is made in `path`'s directory. For files in a store use
/// [`super::Store::write_file`], whose temp file is in the store's temp area.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    write_atomic_via(dir, path, bytes, mode)
}

/// [`write_atomic`] with the temp file in `tmp_dir`, which must be on the
/// same filesystem as `path`.
pub fn write_atomic_via(tmp_dir: &Path, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(tmp_dir)
        .with_context(|| format!("creating a temp file in {}", tmp_dir.display()))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod temp file for {}", path.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("fsync {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming into {}", path.display()))?;
    sync_dir(dir)
}

/// fsyncs a directory so a rename inside it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    // `Path::new("iid").parent()` is "": the current directory.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsync directory {}", dir.display()))
}

/// Removes a file or a whole tree. A tree that cannot be removed as it is
/// (read-only dirs from a layer, an overlay `work/work` left `d---------`,
/// when not running as root) is made writable and removed again.
pub fn remove_all(p: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(p).with_context(|| format!("stat {}", p.display()))?;
    if !meta.is_dir() {
        return fs::remove_file(p).with_context(|| format!("removing {}", p.display()));
    }
    if fs::remove_dir_all(p).is_ok() {
        return Ok(());
    }
    for e in walkdir::WalkDir::new(p).into_iter().flatten() {
        if e.file_type().is_dir() {
            let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o755));
        }
    }
    fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display()))
}
