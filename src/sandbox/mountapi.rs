//! Thin wrappers over the new mount API (`open_tree`, `mount_setattr`,
//! `move_mount`; Linux 5.12+). A mount source is cloned while the host is
//! still reachable and attached after `pivot_root`, because a plain bind
//! from a path under the detached old root is refused by the kernel.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

// linux/mount.h values missing from the libc crate.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
const MOUNT_ATTR_RDONLY: u64 = 1;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// A detached recursive copy of the mount tree at `path` (a bind mount not
/// yet attached anywhere).
pub(super) fn clone_tree(path: &Path) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    let flags =
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_RECURSIVE as libc::c_uint;
    // SAFETY: valid NUL-terminated path and flags.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, p.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open_tree returned a new fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Makes a detached tree read-only, submounts included.
pub(super) fn make_readonly(tree: &OwnedFd) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint;
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, attr of the given size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Attaches a detached tree (from [`clone_tree`] or `fsmount`) at `target`.
pub(super) fn attach(tree: &OwnedFd, target: &Path) -> io::Result<()> {
    let t = cstr(target)?;
    // SAFETY: valid fd, empty path with F_EMPTY_PATH, valid target path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new detached mount of a file system without a source (`proc`,
/// `sysfs`), nosuid, nodev and noexec, for attaching later.
pub(super) fn fresh_fs(fstype: &str, options: &[(&str, &str)]) -> io::Result<OwnedFd> {
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const MOUNT_ATTR_NOSUID_NODEV_NOEXEC: libc::c_uint = 0x2 | 0x4 | 0x8;
    let name = CString::new(fstype).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: NUL-terminated name and FSOPEN_CLOEXEC.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), 1 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsopen returned a new fd owned by nobody else.
    let fs = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let config = |cmd: libc::c_uint, key: Option<&CString>, value: Option<&CString>| {
        // SAFETY: valid fd; key and value are NUL-terminated or null.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                cmd,
                key.map_or(std::ptr::null(), |k| k.as_ptr()),
                value.map_or(std::ptr::null(), |v| v.as_ptr()),
                0 as libc::c_int,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    for (k, v) in options {
        let k = CString::new(*k).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let v = CString::new(*v).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        config(FSCONFIG_SET_STRING, Some(&k), Some(&v))?;
    }
    config(FSCONFIG_CMD_CREATE, None, None)?;
    // SAFETY: valid fs context fd and flags.
    let m = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            1 as libc::c_uint, // FSMOUNT_CLOEXEC
            MOUNT_ATTR_NOSUID_NODEV_NOEXEC,
        )
    };
    if m < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsmount returned a new fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(m as i32) })
}
