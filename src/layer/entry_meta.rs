//! One tar entry's metadata as the extractors apply it: numeric fields with
//! Go's tolerance, PAX overrides, xattrs without overlayfs' own.

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmodat, utimensat, FchmodatFlags, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use super::root::fd_path;
use super::xattrs;

/// Owner, mode, time and xattrs of one entry (PAX values already applied).
#[derive(Clone)]
pub(super) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A filesystem without xattr support is not an error (the layer still extracts); anything else is.
pub(super) fn set_xattr_tolerant(r: std::io::Result<()>, name: &[u8]) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("setting xattr {}", String::from_utf8_lossy(name)))
        }
    }
}

pub(super) fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Meta> {
    let h = entry.header();
    let old = h.as_old();
    let mut meta = Meta {
        mode: numeric(h.mode().map(u64::from), &old.mode).context("bad mode")? as u32 & 0o7777,
        uid: u32::try_from(numeric(h.uid(), &old.uid).context("bad uid")?)
            .context("uid too large")?,
        gid: u32::try_from(numeric(h.gid(), &old.gid).context("bad gid")?)
            .context("gid too large")?,
        mtime: i64::try_from(numeric(h.mtime(), &old.mtime).context("bad mtime")?)
            .unwrap_or(i64::MAX),
        xattrs: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions().context("reading PAX header")? {
        for ext in pax {
            let ext = ext.context("reading PAX record")?;
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            let num = || std::str::from_utf8(value).ok().map(str::trim);
            match key {
                b"uid" => meta.uid = num().and_then(|s| s.parse().ok()).context("bad PAX uid")?,
                b"gid" => meta.gid = num().and_then(|s| s.parse().ok()).context("bad PAX gid")?,
                b"mtime" => {
                    // "seconds[.fraction]"; the fraction is dropped (layers carry whole seconds).
                    let s = num().context("bad PAX mtime")?;
                    let whole = s.split('.').next().unwrap_or(s);
                    meta.mtime = whole.parse().context("bad PAX mtime")?;
                }
                _ => {
                    if let Some(x) = key.strip_prefix(b"SCHILY.xattr.") {
                        // overlayfs' own xattrs would let a layer forge redirects or opacity.
                        if !x.starts_with(b"trusted.overlay.") && !x.starts_with(b"user.overlay.") {
                            meta.xattrs.push((x.to_vec(), value.to_vec()));
                        }
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// A numeric header field; an empty (all NUL/space) field reads as 0, as Go's archive/tar does.
fn numeric(parsed: std::io::Result<u64>, raw: &[u8]) -> std::io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        r => r,
    }
}

pub(super) fn copy_buf<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    buf: &mut [u8],
) -> std::io::Result<u64> {
    let mut total = 0;
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// chown → xattrs → chmod → mtime (chown clears setuid bits and file capabilities, so it
/// goes first). Symlinks keep their 0777 mode and get no xattrs (Linux refuses user.* there).
pub(super) fn apply_meta(dir: &OwnedFd, name: &[u8], meta: &Meta, symlink: bool) -> Result<()> {
    let n = OsStr::from_bytes(name);
    squash_unmapped(fchownat(
        dir,
        n,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    ))
    .context("chown")?;
    if !symlink {
        let p = fd_path(dir, name);
        for (k, v) in &meta.xattrs {
            set_xattr_tolerant(xattrs::set(&p, k, v), k)?;
        }
        fchmodat(
            dir,
            n,
            Mode::from_bits_truncate(meta.mode),
            FchmodatFlags::FollowSymlink,
        )
        .context("chmod")?;
    }
    let t = TimeSpec::new(meta.mtime, 0);
    utimensat(dir, n, &t, &t, UtimensatFlags::NoFollowSymlink).context("setting mtime")?;
    Ok(())
}

/// Whether an `ADD` archive may hold an entry of this type: the ones moby's
/// `createTarFile` writes. Any other (GNU sparse `S`, contiguous `7`, volume labels)
/// fails the build `unhandled tar header type 83`, as in Docker 26.1.
pub(super) fn archive_handles(kind: tar::EntryType) -> bool {
    use tar::EntryType as T;
    matches!(
        kind,
        T::Regular | T::Directory | T::Link | T::Symlink | T::Char | T::Block | T::Fifo
    )
}

/// The metadata of a hardlink entry of an `ADD` archive, applied to the inode it links to,
/// as moby's `createTarFile` does after `os.Link`: owner always; mode, xattrs and mtime
/// unless that inode is a symlink. The last header naming an inode decides its metadata.
pub(super) fn apply_link_meta(
    dir: &OwnedFd,
    name: &[u8],
    meta: &Meta,
    symlink: bool,
) -> Result<()> {
    if !symlink {
        return apply_meta(dir, name, meta, false);
    }
    squash_unmapped(fchownat(
        dir,
        OsStr::from_bytes(name),
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    ))
    .context("chown")?;
    Ok(())
}

/// In a user namespace with a single-ID map (no /etc/subuid ranges; builder
/// warned when it entered it) an owner outside the map cannot be set
/// (EINVAL): the file keeps the namespace's root as owner ("squashed").
pub fn squash_unmapped(r: nix::Result<()>) -> nix::Result<()> {
    match r {
        Err(Errno::EINVAL) if xattrs::in_user_namespace() => Ok(()),
        other => other,
    }
}
