//! Mounting overlayfs with options that keep the upper dir a full diff
//! (`redirect_dir=off,metacopy=off,index=off`).
//!
//! `mount(2)` copies its option string into one page, so the classic form
//! holds at most 4095 bytes — about 55 lower layers with store paths. Longer
//! chains use the new mount API, passing each lower with `lowerdir+`
//! (Linux 6.8+); older kernels get the lowers as short paths relative to
//! their common parent (overlay resolves them against the cwd at mount
//! time). Overlay itself stacks at most 500 lowers.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use nix::mount::{mount as mount2, MsFlags};

/// Options after the lower/upper/work dirs.
const FIXED: [(&str, &str); 3] = [
    ("redirect_dir", "off"),
    ("metacopy", "off"),
    ("index", "off"),
];

/// Largest option string `mount(2)` accepts (one page, NUL included).
fn page_limit() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).saturating_sub(1)
}

/// Mounts `overlay(lowers, upper?)` on `target`; `lowers` top first.
pub(super) fn mount(
    lowers: &[PathBuf],
    upper: Option<(&PathBuf, &PathBuf)>,
    target: &Path,
) -> Result<()> {
    let data = options(lowers.iter().map(|p| p.as_os_str().as_bytes()), upper);
    if data.len() <= page_limit() {
        return classic(&data, target);
    }
    match fsconfig_mount(lowers, upper, target) {
        Ok(()) => Ok(()),
        Err(FsError::Unsupported) => relative_mount(lowers, upper, target),
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
    for (k, v) in FIXED {
        data.extend_from_slice(format!(",{k}={v}").as_bytes());
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

/// Mounts with lowers given relative to their common parent.
fn relative_mount(
    lowers: &[PathBuf],
    upper: Option<(&PathBuf, &PathBuf)>,
    target: &Path,
) -> Result<()> {
    let parent = common_parent(lowers).context("overlay lower dirs have no common parent")?;
    let rel: Vec<&[u8]> = lowers
        .iter()
        .map(|l| l.strip_prefix(&parent).map(|r| r.as_os_str().as_bytes()))
        .collect::<Result<_, _>>()?;
    let data = options(rel.into_iter(), upper);
    if data.len() > page_limit() {
        bail!(
            "overlay options for {} lower dirs are {} bytes; the kernel takes at most {} \
             (and `lowerdir+`, which lifts the limit, needs Linux 6.8)",
            lowers.len(),
            data.len(),
            page_limit()
        );
    }
    let cwd = std::env::current_dir()?;
    std::env::set_current_dir(&parent)?;
    let result = classic(&data, target);
    std::env::set_current_dir(cwd)?;
    result
}

fn common_parent(paths: &[PathBuf]) -> Option<PathBuf> {
    let mut parent = paths.first()?.parent()?.to_path_buf();
    for p in paths {
        while !p.starts_with(&parent) {
            parent = parent.parent()?.to_path_buf();
        }
    }
    Some(parent)
}

enum FsError {
    /// The kernel lacks the new mount API or `lowerdir+`.
    Unsupported,
    Failed(anyhow::Error),
}

// The new mount API's constants (linux/mount.h), not in the libc crate.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
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
    for (k, v) in FIXED {
        set(k, v.as_bytes()).map_err(|e| fail(format!("overlay option {k}={v}"), e))?;
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
            r"lowerdir=/a\,b:/c\:d,upperdir=/u,workdir=/w,redirect_dir=off,metacopy=off,index=off"
        );
    }

    #[test]
    fn common_parent_of_snapshots() {
        let p = common_parent(&[
            PathBuf::from("/s/snap/a"),
            PathBuf::from("/s/snap/b"),
            PathBuf::from("/s/x/c"),
        ]);
        assert_eq!(p, Some(PathBuf::from("/s")));
    }
}
