//! Copying filesystem entries with everything a layer carries (type, mode,
//! owner, mtime, xattrs, hardlinks), and merging an overlay-format
//! snapshot chain into one plain directory.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{mknod, Mode, SFlag};
use nix::sys::time::TimeSpec;

use crate::layer::{whiteout_files, xattrs};

/// Hardlinks already copied: source (dev, ino) → destination path.
pub type Links = HashMap<(u64, u64), PathBuf>;

/// Whether an xattr is overlayfs' bookkeeping rather than file content.
pub fn is_overlay_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

/// A snapshot's whiteout: a 0:0 character device.
pub fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether a snapshot dir is opaque (either overlay xattr, or the marker
/// file of a store on overlayfs).
pub fn is_opaque(path: &Path) -> io::Result<bool> {
    if whiteout_files::enabled()
        && path
            .join(std::ffi::OsStr::from_bytes(whiteout_files::OPAQUE))
            .symlink_metadata()
            .is_ok()
    {
        return Ok(true);
    }
    for name in [&b"trusted.overlay.opaque"[..], b"user.overlay.opaque"] {
        if xattrs::get(path, name)?.as_deref() == Some(b"y") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The xattrs of `path` a layer keeps (overlay's own left out), sorted.
pub fn content_xattrs(path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for name in xattrs::list(path)? {
        if is_overlay_xattr(&name) || name == b"security.selinux" {
            continue;
        }
        if let Some(v) = xattrs::get(path, &name)? {
            out.push((name, v));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes whatever is at `path` (a file, link or whole tree), if anything.
pub fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Copies one non-directory entry `src` to `dst` (which must not exist),
/// keeping hardlinks among the entries copied with the same `links`.
pub fn copy_entry(
    src: &Path,
    meta: &fs::Metadata,
    dst: &Path,
    links: &mut Links,
) -> io::Result<()> {
    let ft = meta.file_type();
    if meta.nlink() > 1 && !ft.is_dir() {
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            return fs::hard_link(first, dst);
        }
        links.insert((meta.dev(), meta.ino()), dst.to_path_buf());
    }
    if ft.is_file() {
        // copy_file_range: a reflink where the filesystem shares extents.
        fs::copy(src, dst)?;
    } else if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
    } else {
        let kind = if ft.is_char_device() {
            SFlag::S_IFCHR
        } else if ft.is_block_device() {
            SFlag::S_IFBLK
        } else if ft.is_fifo() {
            SFlag::S_IFIFO
        } else {
            SFlag::S_IFSOCK
        };
        mknod(dst, kind, Mode::from_bits_truncate(0o600), meta.rdev())?;
    }
    set_meta(src, meta, dst)
}

/// Makes directory `dst` (if missing) with `src`'s metadata except the
/// mtime, which [`set_mtime`] sets once its children are in place.
pub fn copy_dir(src: &Path, meta: &fs::Metadata, dst: &Path) -> io::Result<()> {
    match fs::create_dir(dst) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    set_owner_mode_xattrs(src, meta, dst)
}

/// Owner, mode, xattrs and mtime of `src` onto `dst`.
pub fn set_meta(src: &Path, meta: &fs::Metadata, dst: &Path) -> io::Result<()> {
    set_owner_mode_xattrs(src, meta, dst)?;
    set_mtime(dst, meta)
}

fn set_owner_mode_xattrs(src: &Path, meta: &fs::Metadata, dst: &Path) -> io::Result<()> {
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        // After chown, which clears setuid/setgid bits.
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    for (name, value) in content_xattrs(src)? {
        xattrs::set(dst, &name, &value)?;
    }
    Ok(())
}

/// Sets `dst`'s atime and mtime to `meta`'s (a symlink itself, not its target).
pub fn set_mtime(dst: &Path, meta: &fs::Metadata) -> io::Result<()> {
    let at = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mt = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        dst,
        &at,
        &mt,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}

/// Sorted entries of a directory: (name, path, lstat).
pub fn entries(dir: &Path) -> io::Result<Vec<(Vec<u8>, PathBuf, fs::Metadata)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        let meta = fs::symlink_metadata(&path)?;
        out.push((e.file_name().as_bytes().to_vec(), path, meta));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Where each regular file of a materialised root was copied from
/// (relative path → the file in its snapshot, reached through real
/// directories only): the diff compares contents against it.
pub type Sources = HashMap<Vec<u8>, PathBuf>;

/// Merges `lowers` (an overlay snapshot chain, top first) into the empty
/// dir `dest` as overlayfs would show them: whiteouts delete, opaque dirs
/// hide what is below, upper entries replace lower ones. Hardlinks are not
/// kept: overlayfs breaks them at copy-up too, so a RUN that changes one
/// name must not change the other.
pub fn materialise(lowers: &[PathBuf], dest: &Path) -> io::Result<Sources> {
    merge(lowers, dest, false)
}

/// [`materialise`] for a view nothing writes to (`COPY --from` sources,
/// the destination lookups of COPY, `--output`): regular files are hard
/// links to the snapshots' own, so only directories and names are made.
/// Files keep their snapshot's inode, as overlayfs shows a lower file's;
/// whoever gets such a view must never write through it.
pub fn materialise_view(lowers: &[PathBuf], dest: &Path) -> io::Result<()> {
    merge(lowers, dest, true).map(|_| ())
}

fn merge(lowers: &[PathBuf], dest: &Path, link: bool) -> io::Result<Sources> {
    let mut sources = Sources::new();
    for layer in lowers.iter().rev() {
        apply_dir(layer, dest, &[], &mut sources, link)?;
        let meta = fs::symlink_metadata(layer)?;
        set_meta(layer, &meta, dest)?;
    }
    Ok(sources)
}

fn apply_dir(
    src: &Path,
    dst: &Path,
    rel: &[u8],
    sources: &mut Sources,
    link: bool,
) -> io::Result<()> {
    for (name, path, meta) in entries(src)? {
        let target = dst.join(std::ffi::OsStr::from_bytes(&name));
        let mut r = rel.to_vec();
        if !r.is_empty() {
            r.push(b'/');
        }
        r.extend_from_slice(&name);
        if is_whiteout(&meta) {
            remove_any(&target)?;
            continue;
        }
        if whiteout_files::enabled() && meta.is_file() && name.starts_with(b".wh.") {
            // A store on overlayfs: `.wh.NAME` deletes NAME; the opaque
            // marker was read with its dir.
            if let Some(t) = whiteout_files::target(&name) {
                remove_any(&dst.join(std::ffi::OsStr::from_bytes(t)))?;
            }
            continue;
        }
        if meta.is_dir() {
            let existing = fs::symlink_metadata(&target).ok();
            if existing.is_some_and(|m| !m.is_dir()) || is_opaque(&path)? {
                remove_any(&target)?;
            }
            copy_dir(&path, &meta, &target)?;
            apply_dir(&path, &target, &r, sources, link)?;
            set_mtime(&target, &meta)?;
        } else {
            remove_any(&target)?;
            if link && meta.is_file() {
                fs::hard_link(&path, &target)?;
                continue;
            }
            copy_entry(&path, &meta, &target, &mut Links::new())?;
            if meta.is_file() {
                sources.insert(r, path);
            }
        }
    }
    Ok(())
}
