//! Directory → deterministic layer tar, hashed (diffID) in the same streaming pass.
//!
//! Determinism: depth-first with each directory's entries in name-byte order, numeric owners only (empty uname/gname), no
//! atime/ctime, mtimes clamped to `SOURCE_DATE_EPOCH` when given, PAX records sorted and used only
//! where ustar cannot hold a value. Two sources: a plain directory, or an overlayfs upper dir whose
//! whiteouts and opaque markers become OCI `.wh.` entries.

use super::digest::{Digest, HashingWriter};
use super::tarheader::{write_end, write_header, write_padding, EntryHeader, Kind};
use super::xattrs;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Buffer size for layer I/O: large writes keep the hasher and the disk busy with few syscalls.
pub(crate) const IO_BUF: usize = 256 * 1024;

/// What the source directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceKind {
    /// An ordinary directory: every entry is written as it is.
    #[default]
    Plain,
    /// An overlayfs upper dir (`redirect_dir=off,metacopy=off,index=off`): 0:0 character devices
    /// become `.wh.NAME` whiteouts, `trusted.overlay.opaque=y` dirs get `.wh..wh..opq`, and
    /// overlay's own xattrs are never emitted.
    OverlayUpper,
}

/// How to write a layer.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Plain directory or overlay upper dir.
    pub kind: SourceKind,
    /// When set, every mtime later than this (seconds since the epoch) is clamped to it.
    pub source_date_epoch: Option<i64>,
}

/// A layer tar written to a temp file (fsynced; the caller renames it into place).
#[derive(Debug, Clone)]
pub struct WrittenLayer {
    /// The temp file holding the uncompressed tar.
    pub path: PathBuf,
    /// sha256 of the tar: the layer's diffID.
    pub diff_id: Digest,
    /// Length of the tar in bytes.
    pub size: u64,
}

/// Writes `src` as a layer tar into a new temp file in `tmp_dir`, fsyncs it, and returns it.
pub fn write(src: &Path, tmp_dir: &Path, opts: &WriteOptions) -> Result<WrittenLayer> {
    to_temp_file(tmp_dir, |file| {
        let (diff_id, size, _) = write_to(src, file, opts)?;
        Ok((diff_id, size))
    })
}

/// Runs `fill` on a new temp file in `tmp_dir` (it writes a layer tar and
/// returns its diffID and size), then fsyncs and keeps the file.
pub(crate) fn to_temp_file(
    tmp_dir: &Path,
    fill: impl FnOnce(&File) -> Result<(Digest, u64)>,
) -> Result<WrittenLayer> {
    let tmp = tempfile::Builder::new()
        .prefix(".layer-")
        .suffix(".tar.tmp")
        .tempfile_in(tmp_dir)
        .with_context(|| format!("creating temp file in {}", tmp_dir.display()))?;
    let (diff_id, size) = fill(tmp.as_file())?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("fsync of {}", tmp.path().display()))?;
    let (_file, path) = tmp
        .keep()
        .with_context(|| format!("keeping temp file in {}", tmp_dir.display()))?;
    Ok(WrittenLayer {
        path,
        diff_id,
        size,
    })
}

/// Streams `src` as a layer tar into `out`; returns the diffID, the tar size and `out`.
pub fn write_to<W: Write>(src: &Path, out: W, opts: &WriteOptions) -> Result<(Digest, u64, W)> {
    let mut w = BufWriter::with_capacity(IO_BUF, HashingWriter::new(out));
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    // Depth-first, each directory's entries sorted by name bytes (Go's filepath.Walk order).
    // Unlike a global sort of full paths ("a/", "a-b", "a/x"), this keeps every subtree
    // contiguous, which extractors that restore a directory's mtime when they leave it
    // (GNU tar) rely on.
    // Whiteouts may be files (`.wh.NAME`) in a store on overlayfs: listed
    // under the name they delete, so the entries keep level 1's order.
    let files = opts.kind == SourceKind::OverlayUpper && super::whiteout_files::enabled();
    let mut stack = vec![list_dir(src, &[], files)?.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(item) = top.next() else {
            stack.pop();
            continue;
        };
        emit(&mut w, &item, opts, &mut links)
            .with_context(|| format!("adding {} to layer", item.path.display()))?;
        if item.meta.is_dir() {
            stack.push(list_dir(&item.path, &item.rel, files)?.into_iter());
        }
    }
    write_end(&mut w).context("writing end of layer tar")?;
    let hw = w
        .into_inner()
        .map_err(|e| e.into_error())
        .context("flushing layer tar")?;
    let (out, digest, size) = hw.finish();
    Ok((digest, size, out))
}

struct Item {
    /// Path relative to the source root, `/`-separated bytes.
    rel: Vec<u8>,
    path: PathBuf,
    meta: Metadata,
    /// A whiteout file `.wh.NAME` listed as `NAME` (see `whiteout_files`).
    whiteout_file: bool,
}

/// The entries of one directory (lstat'ed, never followed), sorted by name bytes. With
/// `whiteout_files`, `.wh.NAME` files are listed as whiteouts of `NAME` and `.wh..wh.*`
/// markers are left out (the opaque one is read by [`is_opaque`]).
fn list_dir(dir: &Path, rel: &[u8], whiteout_files: bool) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let rd = fs::read_dir(dir).with_context(|| format!("reading directory {}", dir.display()))?;
    for entry in rd {
        let entry = entry.with_context(|| format!("reading directory {}", dir.display()))?;
        let path = entry.path();
        let meta =
            fs::symlink_metadata(&path).with_context(|| format!("stat of {}", path.display()))?;
        let file_name = entry.file_name();
        let mut name = file_name.as_bytes();
        let mut whiteout_file = false;
        if whiteout_files && meta.is_file() && name.starts_with(b".wh.") {
            match super::whiteout_files::target(name) {
                Some(t) => {
                    name = t;
                    whiteout_file = true;
                }
                None => continue,
            }
        }
        let mut r = rel.to_vec();
        if !r.is_empty() {
            r.push(b'/');
        }
        r.extend_from_slice(name);
        items.push(Item {
            rel: r,
            path,
            meta,
            whiteout_file,
        });
    }
    items.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    Ok(items)
}

fn emit<W: Write>(
    w: &mut W,
    item: &Item,
    opts: &WriteOptions,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<()> {
    let meta = &item.meta;
    let ft = meta.file_type();
    let overlay = opts.kind == SourceKind::OverlayUpper;
    let mtime = match opts.source_date_epoch {
        Some(e) if meta.mtime() > e => e,
        _ => meta.mtime(),
    };
    let mut h = EntryHeader {
        name: item.rel.clone(),
        kind: Kind::Regular,
        mode: meta.mode() & 0o7777,
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
        size: 0,
        mtime,
        link: Vec::new(),
        dev_major: 0,
        dev_minor: 0,
        xattrs: Vec::new(),
    };

    if ft.is_socket() {
        return Ok(()); // sockets cannot be carried in a tar; Docker drops them too
    }
    if overlay && (item.whiteout_file || ft.is_char_device() && meta.rdev() == 0) {
        // overlayfs whiteout → OCI whiteout file `.wh.NAME` (Docker writes mode 0600).
        h.name = whiteout_name(&item.rel, b".wh.");
        h.mode = 0o600;
        // The kernel (5.8+) links one RUN's whiteouts to one shared inode. moby's tar writer
        // sees the second and later as hardlinks before its whiteout converter makes them
        // empty regular files, which keeps the link name: the first one's path, without
        // `.wh.` (recorded with Docker 26.1: `rm /a /b` gives `.wh.b` linking `a`). Every
        // whiteout of the layer is treated as that one inode, whatever made it (a kernel
        // that did not share it, the `.wh.` files of a store on overlayfs, the chroot
        // level's own diff), so every isolation level writes the same tar.
        match links.get(&WHITEOUT_INODE) {
            Some(first) => h.link = first.clone(),
            None => {
                links.insert(WHITEOUT_INODE, item.rel.clone());
            }
        }
        write_header(w, &h)?;
        return Ok(());
    }
    h.xattrs = read_xattrs(&item.path)?;

    if ft.is_dir() {
        h.kind = Kind::Dir;
        h.name.push(b'/');
        write_header(w, &h)?;
        if overlay && is_opaque(&item.path)? {
            // Emitted right after its directory (before any child) so that even a naive reader
            // applies it before unpacking this layer's own children.
            let mut name = item.rel.clone();
            name.extend_from_slice(b"/.wh..wh..opq");
            // moby's converter leaves its time unset: Go writes the zero time as 0.
            let marker = EntryHeader {
                name,
                kind: Kind::Regular,
                mode: h.mode & 0o777,
                mtime: 0,
                xattrs: Vec::new(),
                ..h
            };
            write_header(w, &marker)?;
        }
        return Ok(());
    }

    if meta.nlink() > 1 {
        match links.get(&(meta.dev(), meta.ino())) {
            Some(first) => {
                h.kind = Kind::Link;
                h.link = first.clone();
                write_header(w, &h)?;
                return Ok(());
            }
            None => {
                links.insert((meta.dev(), meta.ino()), item.rel.clone());
            }
        }
    }

    if ft.is_file() {
        h.size = meta.len();
        let file = fs::OpenOptions::new()
            .read(true)
            // Never blocks on an entry that became a FIFO since the lstat.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&item.path)
            .context("opening file")?;
        write_header(w, &h)?;
        copy_exact(file, w, h.size)?;
        write_padding(w, h.size)?;
    } else if ft.is_symlink() {
        h.kind = Kind::Symlink;
        h.link = fs::read_link(&item.path)
            .context("reading symlink")?
            .as_os_str()
            .as_bytes()
            .to_vec();
        write_header(w, &h)?;
    } else if ft.is_char_device() || ft.is_block_device() {
        h.kind = if ft.is_char_device() {
            Kind::Char
        } else {
            Kind::Block
        };
        let rdev = meta.rdev();
        h.dev_major = u64::from(libc::major(rdev));
        h.dev_minor = u64::from(libc::minor(rdev));
        write_header(w, &h)?;
    } else if ft.is_fifo() {
        h.kind = Kind::Fifo;
        write_header(w, &h)?;
    } else {
        bail!("unsupported file type");
    }
    Ok(())
}

/// Copies exactly `size` bytes; a file that changed length while archived is an error, since the
/// header already promised `size` bytes.
pub(crate) fn copy_exact<W: Write>(file: File, w: &mut W, size: u64) -> Result<()> {
    let mut limited = file.take(size);
    let n = io::copy(&mut limited, w).context("copying file content")?;
    if n != size {
        bail!("file shrank from {size} to {n} bytes while being archived");
    }
    let mut extra = [0u8; 1];
    if limited
        .into_inner()
        .read(&mut extra)
        .context("reading file")?
        != 0
    {
        bail!("file grew beyond {size} bytes while being archived");
    }
    Ok(())
}

/// The key of a layer's whiteouts in the hardlink map: no real (dev, inode) pair, as no file
/// system uses the maximum inode number of the maximum device.
const WHITEOUT_INODE: (u64, u64) = (u64::MAX, u64::MAX);

fn whiteout_name(rel: &[u8], prefix: &[u8]) -> Vec<u8> {
    let (dir, base) = match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..=i], &rel[i + 1..]),
        None => (&rel[..0], rel),
    };
    let mut out = dir.to_vec();
    out.extend_from_slice(prefix);
    out.extend_from_slice(base);
    out
}

fn is_opaque(path: &Path) -> Result<bool> {
    if super::whiteout_files::enabled()
        && path
            .join(std::ffi::OsStr::from_bytes(super::whiteout_files::OPAQUE))
            .symlink_metadata()
            .is_ok()
    {
        return Ok(true);
    }
    for name in [&b"trusted.overlay.opaque"[..], b"user.overlay.opaque"] {
        if xattrs::get(path, name)
            .context("reading overlay xattr")?
            .as_deref()
            == Some(b"y")
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Which xattrs belong in a layer: `security.capability` only, as Docker's layer writer
/// (`archive.ReadSecurityXattrToTarHeader`) keeps them. Docker 26.1 drops `user.*`,
/// `trusted.*`, `security.selinux` and POSIX ACLs from every layer it makes (RUN, COPY, ADD);
/// overlayfs' own `trusted.overlay.*`/`user.overlay.*` bookkeeping is never image content.
pub fn layer_keeps_xattr(name: &[u8]) -> bool {
    name == b"security.capability"
}

/// The xattrs of `path` a layer carries (see [`layer_keeps_xattr`]), sorted by name.
pub fn read_xattrs(path: &Path) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for name in xattrs::list(path).context("listing xattrs")? {
        if !layer_keeps_xattr(&name) {
            continue;
        }
        if let Some(v) = xattrs::get(path, &name).context("reading xattr")? {
            out.push((name, v));
        }
    }
    out.sort();
    Ok(out)
}

/// Sets `xattrs` on `path` itself (a symlink is not followed).
pub fn set_xattrs(path: &Path, xattrs: &[(Vec<u8>, Vec<u8>)]) -> io::Result<()> {
    for (k, v) in xattrs {
        xattrs::set(path, k, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteout_names() {
        assert_eq!(whiteout_name(b"a/b/c", b".wh."), b"a/b/.wh.c");
        assert_eq!(whiteout_name(b"top", b".wh."), b".wh.top");
    }

    #[test]
    fn xattr_filter() {
        assert!(layer_keeps_xattr(b"security.capability"));
        for dropped in [
            &b"user.mime"[..],
            b"trusted.foo",
            b"trusted.overlay.opaque",
            b"user.overlay.opaque",
            b"security.selinux",
            b"system.posix_acl_access",
        ] {
            assert!(!layer_keeps_xattr(dropped));
        }
    }
}
