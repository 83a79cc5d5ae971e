//! Mounting overlayfs with options that keep the upper dir a full diff
//! (`redirect_dir=off,metacopy=off,index=off`). Every overlay the project
//! mounts (RUN, COPY/ADD/WORKDIR, read-only views for `COPY --from`,
//! `RUN --mount=from=`, `--output`, `builder run`) goes through [`mount`].
//!
//! A writable overlay is also `volatile`: without it, every unmount (the end
//! of every run) syncs the whole filesystem holding the upper dir, which
//! costs tens of milliseconds on a busy disk. The upper dir needs no
//! durability of its own — a step's result is durable once `layer/` has
//! written and fsynced its tar; after a crash the step simply runs again.
//! Volatile mounts leave `work/incompat/volatile` in the work dir, which
//! blocks remounting it; [`clear_volatile_marker`] removes it after a clean
//! end of the run.
//!
//! Any chain mounts:
//! - A lower dir that appears twice (two steps with byte-identical layers
//!   share one snapshot; classic-builder images repeat `diff_ids`) makes
//!   overlayfs fail with ELOOP. Only the topmost occurrence is kept: it
//!   shadows the lower one for every path the dir holds, so the merged view
//!   is the same.
//! - `mount(2)` copies its option string into one page (about 55 store
//!   paths). Lowers are passed one `lowerdir+` each through the new mount
//!   API (Linux 6.8+), which has no such limit; older kernels get them as
//!   one-to-three-character symlinks in a scratch dir the mounting thread
//!   chdirs into (overlay resolves lower paths, following symlinks, at mount
//!   time), so 500 lowers (overlay's own limit) fit in a page.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use nix::mount::{mount as mount2, MsFlags};

/// Options after the lower/upper/work dirs.
/// In a user namespace `redirect_dir` must be `nofollow` (`off` there
/// means "follow", which conflicts with `userxattr`); neither creates
/// redirects.
fn fixed() -> [(&'static str, &'static str); 3] {
    let redirect = if userxattr() { "nofollow" } else { "off" };
    [
        ("redirect_dir", redirect),
        ("metacopy", "off"),
        ("index", "off"),
    ]
}

/// Whether overlays need `userxattr` (Linux 5.11+): in a user namespace
/// (rootless), where overlayfs keeps its markers in `user.overlay.*`.
fn userxattr() -> bool {
    crate::layer::xattrs::in_user_namespace()
}

/// Overlayfs stacks at most this many lower dirs (`OVL_MAX_STACK`).
const OVL_MAX_STACK: usize = 500;

/// Largest option string `mount(2)` accepts (one page, NUL included).
fn page_limit() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).saturating_sub(1)
}

/// The lower dirs overlay is given: `lowers` (top first) with each dir kept
/// only at its topmost occurrence.
pub fn distinct_lowers(lowers: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    lowers
        .iter()
        .filter(|l| seen.insert(l.as_path()))
        .cloned()
        .collect()
}

/// Mounts `overlay(lowers, upper?)` on `target`; `lowers` top first, any
/// length and with repeats (see the module docs). A read-only overlay
/// (`upper == None`) needs two distinct lower dirs.
///
/// Errors: the kernel's refusal with its log messages (e.g. an upper dir on
/// a file system overlay cannot use), or more than 500 distinct lowers.
pub fn mount(lowers: &[PathBuf], upper: Option<(&PathBuf, &PathBuf)>, target: &Path) -> Result<()> {
    let lowers = distinct_lowers(lowers);
    if lowers.is_empty() {
        bail!("an overlay needs at least one lower dir");
    }
    if lowers.len() > OVL_MAX_STACK {
        bail!(
            "{} lower dirs: overlayfs stacks at most {OVL_MAX_STACK}",
            lowers.len()
        );
    }
    match fsconfig_mount(&lowers, upper, target) {
        Ok(()) => Ok(()),
        Err(FsError::Unsupported) => linked_mount(&lowers, upper, target),
        Err(FsError::Failed(e)) => Err(e),
    }
}

/// `lowerdir=a:b,upperdir=u,workdir=w,…` with `\` escapes for `,` `:` `\`.
fn options<'a>(
    lowers: impl Iterator<Item = &'a [u8]>,
    upper: Option<(&PathBuf, &PathBuf)>,
) -> Vec<u8> {
    let mut data = b"lowerdir=".to_vec();
    for (i, l) in lowers.enumerate() {
        if i > 0 {
            data.push(b':');
        }
        escape_into(&mut data, l);
    }
    if let Some((u, w)) = upper {
        data.extend_from_slice(b",upperdir=");
        escape_into(&mut data, u.as_os_str().as_bytes());
        data.extend_from_slice(b",workdir=");
        escape_into(&mut data, w.as_os_str().as_bytes());
    }
    for (k, v) in fixed() {
        data.extend_from_slice(format!(",{k}={v}").as_bytes());
    }
    if upper.is_some() {
        data.extend_from_slice(b",volatile");
    }
    if userxattr() {
        data.extend_from_slice(b",userxattr");
    }
    data
}

fn escape_into(out: &mut Vec<u8>, path: &[u8]) {
    for &b in path {
        if matches!(b, b',' | b':' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn classic(data: &[u8], target: &Path) -> Result<()> {
    let data = CString::new(data).context("overlay options contain a NUL byte")?;
    mount2(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_c_str()),
    )
    .with_context(|| format!("mounting overlay on {}", target.display()))
}

/// The mount for kernels without `lowerdir+`: each lower is a short
/// symlink (`0`, `1`, …) in a scratch dir beside `target`, named relative to
/// it after a chdir. Callers run in a thread or process of their own
/// (`CLONE_FS` unshared or a helper process), so the chdir touches no one.
fn linked_mount(
    lowers: &[PathBuf],
    upper: Option<(&PathBuf, &PathBuf)>,
    target: &Path,
) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("/"));
    let links = tempfile::Builder::new()
        .prefix(".lowers-")
        .tempdir_in(parent)
        .with_context(|| format!("creating lower dir links in {}", parent.display()))?;
    let mut names = Vec::with_capacity(lowers.len());
    for (i, l) in lowers.iter().enumerate() {
        let name = i.to_string();
        std::os::unix::fs::symlink(l, links.path().join(&name))?;
        names.push(name);
    }
    let data = options(names.iter().map(|n| n.as_bytes()), upper);
    if data.len() > page_limit() {
        bail!(
            "overlay options for {} lower dirs are {} bytes; mount(2) takes at most {}",
            lowers.len(),
            data.len(),
            page_limit()
        );
    }
    let cwd = std::env::current_dir()?;
    std::env::set_current_dir(links.path())?;
    let result = classic(&data, target);
    std::env::set_current_dir(cwd)?;
    result
}

enum FsError {
    /// The kernel lacks the new mount API or `lowerdir+`.
    Unsupported,
    Failed(anyhow::Error),
}

// The new mount API's constants (linux/mount.h), not in the libc crate.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

fn fsconfig_mount(
    lowers: &[PathBuf],
    upper: Option<(&PathBuf, &PathBuf)>,
    target: &Path,
) -> Result<(), FsError> {
    // SAFETY: fsopen takes a NUL-terminated name and flags.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), FSOPEN_CLOEXEC) };
    if fd < 0 {
        return Err(FsError::Unsupported);
    }
    // SAFETY: fsopen returned a new fd that nothing else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let set = |key: &str, value: &[u8]| -> Result<(), std::io::Error> {
        let key = CString::new(key)?;
        let value = CString::new(value)?;
        // SAFETY: valid fd and NUL-terminated strings.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fd as libc::c_int,
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0 as libc::c_int,
            )
        };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    for (i, l) in lowers.iter().enumerate() {
        if let Err(e) = set("lowerdir+", l.as_os_str().as_bytes()) {
            // The first lowerdir+ failing with EINVAL means the key is unknown.
            if i == 0 && e.raw_os_error() == Some(libc::EINVAL) {
                return Err(FsError::Unsupported);
            }
            return Err(FsError::Failed(anyhow::Error::new(e).context(format!(
                "overlay lower dir {}: {}",
                l.display(),
                kernel_log(&fs)
            ))));
        }
    }
    let fail = |what: String, e: std::io::Error| {
        FsError::Failed(anyhow::Error::new(e).context(format!("{what}{}", kernel_log(&fs))))
    };
    if let Some((u, w)) = upper {
        set("upperdir", u.as_os_str().as_bytes())
            .map_err(|e| fail(format!("overlay upper dir {}", u.display()), e))?;
        set("workdir", w.as_os_str().as_bytes())
            .map_err(|e| fail(format!("overlay work dir {}", w.display()), e))?;
    }
    for (k, v) in fixed() {
        set(k, v.as_bytes()).map_err(|e| fail(format!("overlay option {k}={v}"), e))?;
    }
    let mut flags = Vec::new();
    if upper.is_some() {
        flags.push(c"volatile");
    }
    if userxattr() {
        flags.push(c"userxattr");
    }
    for flag in flags {
        // SAFETY: valid fd and NUL-terminated key; a flag takes no value.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fd as libc::c_int,
                FSCONFIG_SET_FLAG,
                flag.as_ptr(),
                std::ptr::null::<libc::c_char>(),
                0 as libc::c_int,
            )
        };
        if r < 0 {
            return Err(fail(
                format!("overlay option {}", flag.to_string_lossy()),
                std::io::Error::last_os_error(),
            ));
        }
    }
    // SAFETY: valid fd; the command takes no key or value.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fd as libc::c_int,
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0 as libc::c_int,
        )
    };
    if r < 0 {
        return Err(fail(
            "creating the overlay".into(),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: valid fs context fd.
    let m = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fd as libc::c_int,
            FSMOUNT_CLOEXEC,
            0 as libc::c_uint,
        )
    };
    if m < 0 {
        return Err(fail(
            "fsmount overlay".into(),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fsmount returned a new fd that nothing else owns.
    let mnt = unsafe { OwnedFd::from_raw_fd(m as i32) };
    super::mountapi::attach(&mnt, target)
        .map_err(|e| fail(format!("attaching the overlay on {}", target.display()), e))?;
    Ok(())
}

/// Removes the marker a `volatile` overlay leaves in its work dir, so the
/// work dir can be mounted again. Only call it once the overlay is
/// unmounted (the run's mount namespace is gone).
pub(crate) fn clear_volatile_marker(work: &Path) {
    let incompat = work.join("work").join("incompat");
    // Holds a `dirty` file; absent when the mount failed early.
    let _ = std::fs::remove_dir_all(incompat.join("volatile"));
    let _ = std::fs::remove_dir(&incompat);
}

/// The messages the kernel queued on an fs context (why a config failed).
fn kernel_log(fs: &OwnedFd) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 512];
    for _ in 0..8 {
        match nix::unistd::read(fs, &mut buf) {
            Ok(n) if n > 0 => {
                out.push_str("; ");
                out.push_str(String::from_utf8_lossy(&buf[..n]).trim());
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_escape_separators() {
        let lowers = [b"/a,b".as_slice(), b"/c:d".as_slice()];
        let (u, w) = (PathBuf::from("/u"), PathBuf::from("/w"));
        let data = options(lowers.into_iter(), Some((&u, &w)));
        assert_eq!(
            String::from_utf8(data).unwrap(),
            r"lowerdir=/a\,b:/c\:d,upperdir=/u,workdir=/w,redirect_dir=off,metacopy=off,index=off,volatile"
        );
    }

    #[test]
    fn repeated_lowers_keep_the_topmost() {
        let p = |s: &str| PathBuf::from(s);
        let got = distinct_lowers(&[p("/a"), p("/b"), p("/a"), p("/c"), p("/b")]);
        assert_eq!(got, vec![p("/a"), p("/b"), p("/c")]);
    }

    /// Both mechanisms, on real overlays: 130 lowers with repeats, each
    /// holding one file, and a repeated dir shadowing a lower one.
    type MountFn = fn(&[PathBuf], Option<(&PathBuf, &PathBuf)>, &Path) -> Result<()>;

    fn deep_chain(mount_fn: MountFn) {
        let dir = tempfile::tempdir().unwrap();
        let mut lowers = Vec::new();
        for i in 0..130 {
            let l = dir.path().join(format!("snapshot-with-a-long-name-{i:04}"));
            std::fs::create_dir(&l).unwrap();
            std::fs::write(l.join(format!("f{i}")), i.to_string()).unwrap();
            std::fs::write(l.join("top"), i.to_string()).unwrap();
            lowers.push(l);
        }
        lowers.reverse(); // top first
        let mut chain = lowers.clone();
        chain.push(lowers[0].clone()); // the top layer again, at the bottom
        let (upper, work, merged) = (
            dir.path().join("u"),
            dir.path().join("w"),
            dir.path().join("m"),
        );
        for d in [&upper, &work, &merged] {
            std::fs::create_dir(d).unwrap();
        }
        let lowers = distinct_lowers(&chain);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            nix::sched::unshare(
                nix::sched::CloneFlags::CLONE_NEWNS | nix::sched::CloneFlags::CLONE_FS,
            )
            .unwrap();
            mount2(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .unwrap();
            mount_fn(&lowers, Some((&upper, &work)), &merged).unwrap();
            let files = std::fs::read_dir(&merged).unwrap().count();
            let top = std::fs::read_to_string(merged.join("top")).unwrap();
            tx.send((files, top)).unwrap();
        })
        .join()
        .unwrap();
        let (files, top) = rx.recv().unwrap();
        assert_eq!(files, 131, "one file per layer plus `top`");
        assert_eq!(top, "129", "the topmost layer wins");
    }

    #[test]
    fn deep_chain_through_the_mount_api() {
        deep_chain(|l, u, t| match fsconfig_mount(l, u, t) {
            Ok(()) => Ok(()),
            Err(FsError::Unsupported) => panic!("this kernel lacks lowerdir+"),
            Err(FsError::Failed(e)) => Err(e),
        });
    }

    #[test]
    fn deep_chain_through_linked_paths() {
        deep_chain(linked_mount);
    }

    #[test]
    fn deep_chain_through_mount() {
        deep_chain(mount);
    }
}
