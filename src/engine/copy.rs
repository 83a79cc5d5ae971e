//! Copying files into a rootfs the way BuildKit's COPY does: contents,
//! modes and mtimes kept; owners 0:0 unless `--chown` (or kept for `--from`
//! sources); `--chmod` applied to every copied entry; hardlinks inside one
//! copy kept as hardlinks; symlinks copied as symlinks.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::unistd::{fchownat, FchownatFlags, Gid, Uid};

use super::copy_meta::{copied_device_kind, copied_times};

/// Ownership and mode rules for one COPY/ADD.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// `--chown` resolved to numeric ids.
    pub owner: Option<(u32, u32)>,
    /// `--chmod` as permission bits.
    pub mode: Option<u32>,
    /// Keep the source owners when no `--chown` is given (sources from a
    /// stage or an image); context files become 0:0 otherwise.
    pub preserve_owner: bool,
}

/// The xattrs a copied entry carries: those a layer keeps
/// (`security.capability`), read from the source. Sources from a stage or
/// an image keep them on every entry but symlinks; build-context files keep
/// them on directories only, as in Docker, whose context transfer sets
/// xattrs before its `lchown`, and the kernel drops a non-directory's
/// capability on chown.
pub(crate) fn kept_xattrs(
    src: &Path,
    meta: &fs::Metadata,
    opts: &CopyOptions,
) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let ft = meta.file_type();
    if ft.is_symlink() || !(ft.is_dir() || opts.preserve_owner) {
        return Ok(Vec::new());
    }
    crate::layer::read_xattrs(src).map_err(|e| with_path(io::Error::other(format!("{e:#}")), src))
}

/// Gives `dst` the kept xattrs of `src` (after its chown: chown clears a
/// file's capability).
fn copy_xattrs(src: &Path, dst: &Path, meta: &fs::Metadata, opts: &CopyOptions) -> io::Result<()> {
    let xattrs = kept_xattrs(src, meta, opts)?;
    crate::layer::set_xattrs(dst, &xattrs).map_err(|e| with_path(e, dst))
}

impl CopyOptions {
    /// The owner a copied entry gets.
    pub(crate) fn owner_for(&self, meta: &fs::Metadata) -> (u32, u32) {
        match self.owner {
            Some(o) => o,
            None if self.preserve_owner => (meta.uid(), meta.gid()),
            None => (0, 0),
        }
    }

    /// The permission bits a copied entry gets.
    pub(crate) fn mode_for(&self, meta: &fs::Metadata) -> u32 {
        match self.mode {
            Some(m) => m & 0o7777,
            None => meta.permissions().mode() & 0o7777,
        }
    }
}

/// Remembers the destination of every multiply-linked source inode, so the
/// second occurrence becomes a hardlink to the first, as in the source.
#[derive(Debug, Default)]
pub struct HardlinkMap {
    seen: HashMap<(u64, u64), PathBuf>,
    off: bool,
}

impl HardlinkMap {
    /// A map that never links: every path becomes its own file, as BuildKit's
    /// COPY writes hardlinked sources.
    pub fn disabled() -> Self {
        HardlinkMap {
            seen: HashMap::new(),
            off: true,
        }
    }
}

/// Copies `src` (file, dir, symlink or special file) to `dst`. A directory
/// source copies the directory itself to `dst`; use [`copy_dir_contents`]
/// for Docker's "a directory means its contents" rule.
pub fn copy_entry(
    src: &Path,
    dst: &Path,
    opts: &CopyOptions,
    links: &mut HardlinkMap,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(src).map_err(|e| with_path(e, src))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        ensure_dir(dst, &meta, opts)?;
        copy_xattrs(src, dst, &meta, opts)?;
        copy_dir_contents(src, dst, opts, links)?;
        set_times(dst, &meta, opts)?;
        return Ok(());
    }
    if ft.is_file() && (meta.nlink() == 1 || links.off) {
        let (uid, gid) = opts.owner_for(&meta);
        copy_file(src, dst, &meta, (uid, gid), opts)?;
        return copy_xattrs(src, dst, &meta, opts);
    }
    replace_non_dir(dst)?;
    if meta.nlink() > 1 && !ft.is_dir() && !links.off {
        let key = (meta.dev(), meta.ino());
        if let Some(first) = links.seen.get(&key) {
            return fs::hard_link(first, dst).map_err(|e| with_path(e, dst));
        }
        links.seen.insert(key, dst.to_path_buf());
    }
    let (uid, gid) = opts.owner_for(&meta);
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(|e| with_path(e, src))?;
        std::os::unix::fs::symlink(&target, dst).map_err(|e| with_path(e, dst))?;
        chown_nofollow(dst, uid, gid)?;
        set_times(dst, &meta, opts)?;
        return Ok(());
    }
    if ft.is_file() {
        // Opened without blocking and checked again: the source may have changed kind.
        let mut input =
            crate::context::regular::open_regular_nofollow(src).map_err(|e| with_path(e, src))?;
        let mut output = fs::File::create(dst).map_err(|e| with_path(e, dst))?;
        io::copy(&mut input, &mut output).map_err(|e| with_path(e, dst))?;
    } else if ft.is_socket() {
        // Docker 26.1's client sends a socket of the context as an empty regular file with
        // the socket's permissions (recorded: `COPY . /ctx/` of a context holding one).
        fs::File::create(dst).map_err(|e| with_path(e, dst))?;
    } else {
        // Devices and fifos are recreated, not read; a block device as a character device
        // (see `copied_device_kind`).
        let kind = nix::sys::stat::SFlag::from_bits_truncate(copied_device_kind(meta.mode()));
        nix::sys::stat::mknod(
            dst,
            kind,
            nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o7777),
            meta.rdev(),
        )
        .map_err(|e| with_path(e.into(), dst))?;
    }
    chown_nofollow(dst, uid, gid)?;
    copy_xattrs(src, dst, &meta, opts)?;
    // chmod after chown: chown clears setuid/setgid bits.
    fs::set_permissions(dst, fs::Permissions::from_mode(opts.mode_for(&meta)))
        .map_err(|e| with_path(e, dst))?;
    set_times(dst, &meta, opts)
}

/// Creates one selected entry at `dst` (its parent exists). A directory
/// that already exists gets the source's owner and mode (BuildKit
/// overwrites the metadata of directories a copy passes through), unless
/// `keep_existing_dir` (the copy's destination directory itself).
pub fn place_entry(
    src: &Path,
    dst: &Path,
    opts: &CopyOptions,
    links: &mut HardlinkMap,
    keep_existing_dir: bool,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(src).map_err(|e| with_path(e, src))?;
    if !meta.is_dir() {
        return copy_entry(src, dst, opts, links);
    }
    match fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => {
            if keep_existing_dir {
                return Ok(());
            }
            let (uid, gid) = opts.owner_for(&meta);
            chown_nofollow(dst, uid, gid)?;
            fs::set_permissions(dst, fs::Permissions::from_mode(opts.mode_for(&meta)))
                .map_err(|e| with_path(e, dst))?;
            copy_xattrs(src, dst, &meta, opts)?;
            set_times(dst, &meta, opts)
        }
        // A directory never replaces a file, a symlink (even one to a
        // directory: symlinks inside a copied tree are not followed) or a
        // device: BuildKit's copier refuses it.
        Ok(_) => Err(non_directory(dst)),
        Err(_) => {
            ensure_dir(dst, &meta, opts)?;
            copy_xattrs(src, dst, &meta, opts)?;
            set_times(dst, &meta, opts)
        }
    }
}

/// BuildKit's error for a directory that would go where a non-directory is.
pub(crate) fn non_directory(dst: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("cannot copy to non-directory: {}", dst.display()),
    )
}

/// Copies the entries of directory `src` into directory `dst` (which must exist).
pub fn copy_dir_contents(
    src: &Path,
    dst: &Path,
    opts: &CopyOptions,
    links: &mut HardlinkMap,
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)
        .map_err(|e| with_path(e, src))?
        .collect::<Result<_, _>>()
        .map_err(|e| with_path(e, src))?;
    // Sorted so hardlink "first occurrences" do not depend on readdir order.
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        copy_entry(&entry.path(), &dst.join(entry.file_name()), opts, links)?;
    }
    Ok(())
}

/// Copies a regular file with every change made through file descriptors:
/// a COPY of a large context is dominated by path walks through the
/// overlay mount, so the destination path is resolved once, not five times.
fn copy_file(
    src: &Path,
    dst: &Path,
    meta: &fs::Metadata,
    (uid, gid): (u32, u32),
    opts: &CopyOptions,
) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = opts.mode_for(meta);
    let mut input =
        crate::context::regular::open_regular_nofollow(src).map_err(|e| with_path(e, src))?;
    let create = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(dst)
    };
    let mut out = match create() {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Replaced, not written through: it may be a link to another file.
            replace_non_dir(dst)?;
            create().map_err(|e| with_path(e, dst))?
        }
        Err(e) => return Err(with_path(e, dst)),
    };
    copy_bytes(&mut input, &mut out, meta.len()).map_err(|e| with_path(e, dst))?;
    crate::layer::squash_unmapped(nix::unistd::fchown(
        &out,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
    ))
    .map_err(|e| with_path(e.into(), dst))?;
    // chmod after chown: chown clears setuid/setgid bits.
    out.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| with_path(e, dst))?;
    let (atime, mtime) = copied_times(meta, opts);
    nix::sys::stat::futimens(&out, &atime, &mtime).map_err(|e| with_path(e.into(), dst))
}

/// Copies file contents: small files with plain reads and one write (the
/// kernel's copy_file_range fails across the overlay mount and costs a
/// syscall per file to find out), large ones through `io::copy`.
fn copy_bytes(input: &mut fs::File, out: &mut fs::File, len: u64) -> io::Result<()> {
    use std::io::{Read, Write};
    const SMALL: u64 = 256 * 1024;
    if len > SMALL {
        io::copy(input, out)?;
        return Ok(());
    }
    let mut buf = Vec::with_capacity(len as usize + 1);
    input.read_to_end(&mut buf)?;
    out.write_all(&buf)
}

/// Creates `dst` as a directory with the source directory's metadata, or
/// leaves an existing directory's metadata alone (BuildKit does not overwrite it).
fn ensure_dir(dst: &Path, src_meta: &fs::Metadata, opts: &CopyOptions) -> io::Result<()> {
    match fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => fs::remove_file(dst).map_err(|e| with_path(e, dst))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(with_path(e, dst)),
    }
    fs::create_dir(dst).map_err(|e| with_path(e, dst))?;
    let (uid, gid) = opts.owner_for(src_meta);
    chown_nofollow(dst, uid, gid)?;
    fs::set_permissions(dst, fs::Permissions::from_mode(opts.mode_for(src_meta)))
        .map_err(|e| with_path(e, dst))
}

/// Makes room for a non-directory at `dst`: an existing file or link is removed
/// (so an existing hardlink is not written through); a directory is an error.
fn replace_non_dir(dst: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => Err(io::Error::other(format!(
            "cannot replace to directory {} with file",
            dst.display()
        ))),
        Ok(_) => fs::remove_file(dst).map_err(|e| with_path(e, dst)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(with_path(e, dst)),
    }
}

/// Creates `dir` and its missing parents with mode 0755 and the given owner,
/// as BuildKit creates a COPY destination's parents (fsutil's `MkdirAll`):
/// symlinks on the way are followed, an existing non-directory is
/// `mkdir DIR: not a directory`, a dangling symlink is `file exists`.
///
/// Iterative: a destination of 100,000 components (an expanded word may be 1 MiB) must not
/// recurse once per component.
pub fn mkdir_all(dir: &Path, owner: (u32, u32)) -> io::Result<()> {
    // The missing directories, deepest first.
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        match fs::metadata(d) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                let e = io::Error::from_raw_os_error(libc::ENOTDIR);
                return Err(crate::diag::go_error("mkdir", d, &e));
            }
            Err(_) => missing.push(d),
        }
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => continue,
            Err(e) => return Err(crate::diag::go_error("mkdir", d, &e)),
        }
        chown_nofollow(d, owner.0, owner.1)?;
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).map_err(|e| with_path(e, d))?;
    }
    Ok(())
}

fn chown_nofollow(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    crate::layer::squash_unmapped(fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        FchownatFlags::AT_SYMLINK_NOFOLLOW,
    ))
    .map_err(|e| with_path(e.into(), path))
}

/// Gives `path` (not followed) the access and modification times of `meta` (see
/// [`super::copy_meta::copied_time`]).
pub(crate) fn set_times(path: &Path, meta: &fs::Metadata, opts: &CopyOptions) -> io::Result<()> {
    let (atime, mtime) = copied_times(meta, opts);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| with_path(e.into(), path))
}

fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_tree_with_links_and_owner_reset() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("d")).unwrap();
        fs::write(src.path().join("d/a"), b"hello").unwrap();
        fs::set_permissions(src.path().join("d/a"), fs::Permissions::from_mode(0o741)).unwrap();
        fs::hard_link(src.path().join("d/a"), src.path().join("d/b")).unwrap();
        std::os::unix::fs::symlink("a", src.path().join("d/c")).unwrap();
        chown_nofollow(&src.path().join("d/a"), 123, 456).unwrap();
        let mut links = HardlinkMap::default();
        copy_entry(
            &src.path().join("d"),
            &dst.path().join("out"),
            &CopyOptions::default(),
            &mut links,
        )
        .unwrap();
        let a = fs::metadata(dst.path().join("out/a")).unwrap();
        let b = fs::metadata(dst.path().join("out/b")).unwrap();
        assert_eq!(a.ino(), b.ino(), "hardlink kept");
        assert_eq!((a.uid(), a.gid()), (0, 0), "context owners become root");
        assert_eq!(a.permissions().mode() & 0o7777, 0o741);
        assert_eq!(
            fs::read_link(dst.path().join("out/c")).unwrap(),
            PathBuf::from("a")
        );
        let src_mtime = fs::metadata(src.path().join("d/a")).unwrap().mtime();
        assert_eq!(a.mtime(), src_mtime);
    }

    #[test]
    fn chown_and_chmod_apply() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::write(src.path().join("f"), b"x").unwrap();
        let opts = CopyOptions {
            owner: Some((1000, 1001)),
            mode: Some(0o4750),
            preserve_owner: false,
        };
        copy_entry(
            &src.path().join("f"),
            &dst.path().join("f"),
            &opts,
            &mut HardlinkMap::default(),
        )
        .unwrap();
        let m = fs::metadata(dst.path().join("f")).unwrap();
        assert_eq!((m.uid(), m.gid()), (1000, 1001));
        assert_eq!(m.permissions().mode() & 0o7777, 0o4750);
    }

    #[test]
    fn file_over_directory_is_an_error() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::write(src.path().join("f"), b"x").unwrap();
        fs::create_dir(dst.path().join("f")).unwrap();
        let err = copy_entry(
            &src.path().join("f"),
            &dst.path().join("f"),
            &CopyOptions::default(),
            &mut HardlinkMap::default(),
        );
        assert!(err.is_err());
    }
}
