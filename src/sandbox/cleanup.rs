//! Removing the mount points the sandbox created from the write dir (the
//! overlay upper or the rootfs dir) once the run has ended, so they never
//! reach a layer. Only entries that are still empty are removed, and the
//! walk never follows a symlink: the command could have replaced a parent
//! dir by a link pointing at the host.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// Removes `created` (paths relative to `base`, in creation order) deepest
/// first, each only if it is an empty dir or an empty regular file.
/// Returns how many entries were removed.
pub(crate) fn remove_created(base: &Path, created: &[String]) -> usize {
    let mut removed = 0;
    for rel in created.iter().rev() {
        if remove_one(base, rel).unwrap_or(false) {
            removed += 1;
        }
    }
    removed
}

fn remove_one(base: &Path, rel: &str) -> nix::Result<bool> {
    let mut parts = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(n) => parts.push(n),
            // Never produced by the init; refuse rather than guess.
            _ => return Ok(false),
        }
    }
    let Some((name, parents)) = parts.split_last() else {
        return Ok(false);
    };
    let walk = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut dir: OwnedFd = nix::fcntl::open(base, walk, Mode::empty())?;
    for p in parents {
        dir = openat(&dir, *p, walk, Mode::empty())?;
    }
    remove_if_empty(&dir, name)
}

fn remove_if_empty(dir: &OwnedFd, name: &OsStr) -> nix::Result<bool> {
    let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
            Ok(()) => Ok(true),
            Err(nix::errno::Errno::ENOTEMPTY | nix::errno::Errno::EEXIST) => Ok(false),
            Err(e) => Err(e),
        },
        libc::S_IFREG if st.st_size == 0 => {
            unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).map(|()| true)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_empty_created_entries() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path();
        std::fs::create_dir_all(b.join("etc")).unwrap();
        std::fs::write(b.join("etc/hosts"), "").unwrap();
        std::fs::create_dir_all(b.join("run/secrets")).unwrap();
        std::fs::write(b.join("run/kept"), "x").unwrap();
        std::fs::write(b.join("full"), "data").unwrap();
        let created: Vec<String> = [
            "etc",
            "etc/hosts",
            "run",
            "run/secrets",
            "full",
            "../escape",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(remove_created(b, &created), 3);
        assert!(!b.join("etc").exists());
        assert!(!b.join("run/secrets").exists());
        assert!(b.join("run/kept").exists());
        assert!(b.join("full").exists());
    }

    #[test]
    fn never_follows_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(outside.path().join("victim")).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("run")).unwrap();
        assert_eq!(remove_created(d.path(), &["run/victim".to_string()]), 0);
        assert!(outside.path().join("victim").exists());
    }
}
