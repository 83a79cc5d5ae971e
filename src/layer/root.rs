//! Path resolution confined to a root directory, done with directory file descriptors.
//!
//! Every component is looked up with `fstatat(AT_SYMLINK_NOFOLLOW)` and opened with
//! `O_NOFOLLOW|O_DIRECTORY`. Symlinks met on the way are expanded *inside* the root (an absolute
//! target restarts at the root, `..` stops at the root), as if the root were `/` — so a hostile
//! tar can make a path point elsewhere in its own tree, but never outside it.

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Symlink expansions allowed while resolving one path (Linux's own limit is 40).
const MAX_LINKS: usize = 40;

/// An open root directory that paths are resolved within.
pub(crate) struct Root {
    fd: OwnedFd,
}

/// A directory resolved inside the root: its open fd and its real component path.
pub(crate) struct ResolvedDir {
    pub fd: OwnedFd,
    pub comps: Vec<Vec<u8>>,
}

/// Whether [`Root::open_dir_with`] creates missing directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Never: a missing directory is `ENOENT`.
    No,
    /// Every missing directory, also the target of a dangling symlink.
    Always,
    /// As Go's `os.MkdirAll` (Docker's archive extraction): a missing
    /// directory named in the path is made, but not through a symlink, whose
    /// missing target is `EEXIST` (`mkdir` meets the link itself).
    NotThroughLinks,
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

impl Root {
    /// Opens `path` (which must be a directory) as the root.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// Resolves the directory `comps` (already free of `.`/`..`) inside the root, creating
    /// missing directories (mode 0755, owner of the process) when `create` is set.
    pub fn open_dir(&self, comps: &[Vec<u8>], create: bool) -> io::Result<ResolvedDir> {
        self.open_dir_with(comps, if create { Create::Always } else { Create::No })
    }

    /// [`Self::open_dir`] with a choice of what is created.
    pub fn open_dir_with(&self, comps: &[Vec<u8>], create: Create) -> io::Result<ResolvedDir> {
        let mut stack: Vec<(OwnedFd, Vec<u8>)> = Vec::new();
        // Each component with whether it came from a symlink's target.
        let mut queue: VecDeque<(Vec<u8>, bool)> =
            comps.iter().map(|c| (c.clone(), false)).collect();
        let mut links = 0;
        while let Some((c, linked)) = queue.pop_front() {
            if c.is_empty() || c == b"." {
                continue;
            }
            if c == b".." {
                stack.pop(); // never above the root
                continue;
            }
            let cur = match stack.last() {
                Some((fd, _)) => fd.as_fd(),
                None => self.fd.as_fd(),
            };
            let name = OsStr::from_bytes(&c);
            match fstatat(cur, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => {
                    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
                    if kind == SFlag::S_IFDIR {
                        let fd = openat(cur, name, dir_flags(), Mode::empty())?;
                        stack.push((fd, c));
                    } else if kind == SFlag::S_IFLNK {
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(io::Error::from_raw_os_error(libc::ELOOP));
                        }
                        let target = readlinkat(cur, name)?;
                        let target = target.as_bytes();
                        if target.starts_with(b"/") {
                            stack.clear();
                        }
                        for part in target.split(|&b| b == b'/').rev() {
                            queue.push_front((part.to_vec(), true));
                        }
                    } else {
                        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
                    }
                }
                Err(Errno::ENOENT) if create == Create::NotThroughLinks && linked => {
                    return Err(io::Error::from_raw_os_error(libc::EEXIST));
                }
                Err(Errno::ENOENT) if create != Create::No => {
                    match mkdirat(cur, name, Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    let fd = openat(cur, name, dir_flags(), Mode::empty())?;
                    stack.push((fd, c));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let comps = stack.iter().map(|(_, c)| c.clone()).collect();
        let fd = match stack.pop() {
            Some((fd, _)) => fd,
            None => self.fd.try_clone()?,
        };
        Ok(ResolvedDir { fd, comps })
    }
}

/// A path naming `name` inside the directory open as `dir`, usable with path-based syscalls
/// (`lsetxattr`, `remove_dir_all`) without resolving the directory again.
pub(crate) fn fd_path(dir: &impl AsRawFd, name: &[u8]) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    p.push(OsStr::from_bytes(name));
    p
}

/// Splits a tar path into normal components: leading `/` and `.` are dropped, `..` cancels the
/// previous component; `None` when `..` would climb above the root.
pub(crate) fn clean(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    clean_with(raw, false)
}

/// A tar entry's name or hardlink target as components below the root. A layer refuses
/// `..` past its root ([`clean`]); an `ADD` archive (`archive`) is unpacked chrooted
/// (moby's `chrootarchive`), where `..` stops at the root: `../x` and `/x` are `x`
/// (BuildKit 0.13, parity 239).
pub(crate) fn clean_entry(raw: &[u8], archive: bool) -> Option<Vec<Vec<u8>>> {
    clean_with(raw, archive)
}

/// `None` when a `..` would leave the root, unless `clamp` keeps it there.
fn clean_with(raw: &[u8], clamp: bool) -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !clamp {
                    return None;
                }
            }
            c => out.push(c.to_vec()),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        let v = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(clean(b"./a//b/"), Some(v(&["a", "b"])));
        assert_eq!(clean(b"/etc/passwd"), Some(v(&["etc", "passwd"])));
        assert_eq!(clean(b"a/../b"), Some(v(&["b"])));
        assert_eq!(clean(b"../x"), None);
        assert_eq!(clean(b"a/../../x"), None);
        assert_eq!(clean_entry(b"../x", true), Some(v(&["x"])));
        assert_eq!(clean_entry(b"/a/../../b/./c", true), Some(v(&["b", "c"])));
        assert_eq!(clean_entry(b"../x", false), None);
    }

    #[test]
    fn symlinks_stay_inside() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink("/", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let r = Root::open(&root).unwrap();
        let d = r
            .open_dir(&[b"abs".to_vec(), b"made".to_vec()], true)
            .unwrap();
        assert_eq!(d.comps, vec![b"made".to_vec()]);
        let d = r.open_dir(&[b"up".to_vec(), b"x".to_vec()], true).unwrap();
        assert_eq!(d.comps, vec![b"x".to_vec()]);
        assert!(root.join("made").is_dir() && root.join("x").is_dir());
        assert!(!outer.path().join("x").exists());
        assert!(r.open_dir(&[b"loop".to_vec()], true).is_err());
    }
}
