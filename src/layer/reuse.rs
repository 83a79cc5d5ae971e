//! Extraction over a similar snapshot: a regular file of the layer whose content, mode, owner,
//! mtime and (absent) xattrs equal a file at the same path of an earlier snapshot is hard-linked
//! from it instead of written, so a layer that differs from that snapshot in a few files
//! (the same `COPY . /data/` after a one-file change) costs a link per file, not a new inode
//! and its data. Everything else in the layer is extracted as usual, so the result is what
//! an extraction gives, file for file; only the link count of reused files is higher.
//!
//! The snapshots this links from are never written through: overlay mounts them read-only and
//! every writable view copies (see `engine/flat`). Content is compared byte for byte against
//! the layer stream (which the caller hashes against the diffID), never trusted from names or
//! times.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result};
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::linkat;

use super::entry_meta::Meta;
use super::root::Root;

/// How an extraction over a base snapshot went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReuseStats {
    /// Regular files hard-linked from the base snapshot.
    pub linked: u64,
    /// Regular files written from the layer (new, changed, or differing in metadata).
    pub written: u64,
    /// Whiteouts a delta holds for the base's paths the layer lacks (see `extract_delta`).
    pub whiteouts: u64,
    /// Directories of the layer a delta left to the base (equal, nothing written below).
    pub dirs_left: u64,
    /// Whether a delta knew the equal entries from the two layer tars (`plan_delta`) rather
    /// than by reading the base snapshot's files.
    pub from_tars: bool,
}

/// The base snapshot an extraction links from.
pub(super) struct Base {
    root: Root,
    /// Last resolved parent in the base: (components, fd, or `None` when it is not there).
    cache: Option<(Vec<Vec<u8>>, Option<OwnedFd>)>,
    cmp: Vec<u8>,
    /// Inodes of the base already linked into the new snapshot: one is never linked to two
    /// paths the layer writes as separate files (it would join them into one inode).
    linked: std::collections::HashSet<(u64, u64)>,
    /// A delta: an equal file is left out (the base shows through) instead of linked.
    delta: bool,
    pub stats: ReuseStats,
}

/// What [`Base::place`] did with a regular file entry.
pub(super) enum Placed {
    /// Linked from the base: nothing left to do.
    Linked,
    /// Written (content only) into this new file; owner, xattrs, mode and time are the caller's.
    Written(File),
}

impl Base {
    /// Opens the base snapshot dir; `delta`: equal files are left out, not linked.
    pub fn open(path: &Path, delta: bool) -> Result<Base> {
        Ok(Base {
            root: Root::open(path).with_context(|| format!("opening {}", path.display()))?,
            cache: None,
            cmp: Vec::new(),
            linked: std::collections::HashSet::new(),
            delta,
            stats: ReuseStats::default(),
        })
    }

    /// Places the regular file `name` (content `input`, `size` bytes, metadata `meta`) into
    /// `dir` (where nothing is yet), whose real path in the layer is `parent`: linked when the base
    /// holds the same file, else written. `None` when the base has no candidate; `input` is
    /// then untouched and the caller writes the file itself.
    pub fn place<R: Read>(
        &mut self,
        (dir, parent, name): (&OwnedFd, &[Vec<u8>], &[u8]),
        meta: &Meta,
        size: u64,
        input: &mut R,
        buf: &mut [u8],
    ) -> Result<Option<Placed>> {
        let Some((old, inode)) = self.candidate(parent, name, meta, size) else {
            self.stats.written += 1;
            return Ok(None);
        };
        let mut old = File::from(old);
        if self.cmp.len() < buf.len() {
            self.cmp.resize(buf.len(), 0);
        }
        let n = std::ffi::OsStr::from_bytes(name);
        // Compare chunk by chunk; on the first difference the file is written from the
        // equal prefix (copied from the old file) and the rest of the stream.
        let mut done: u64 = 0;
        loop {
            let got = read_some(input, buf)?;
            if got == 0 {
                break;
            }
            let same = read_exact_or_short(&mut old, &mut self.cmp[..got])? == got
                && buf[..got] == self.cmp[..got];
            if !same {
                let mut out = create(dir, n)?;
                old.seek(SeekFrom::Start(0))?;
                io::copy(&mut (&mut old).take(done), &mut out).context("copying equal prefix")?;
                out.write_all(&buf[..got])?;
                super::entry_meta::copy_buf(input, &mut out, buf)
                    .context("writing file content")?;
                self.stats.written += 1;
                return Ok(Some(Placed::Written(out)));
            }
            done += got as u64;
        }
        if done != size {
            // The tar reader ends an entry at its size; a short one is the reader's error.
            anyhow::bail!("layer entry ended after {done} of {size} bytes");
        }
        if self.delta {
            self.linked.insert(inode);
            self.stats.linked += 1;
            return Ok(Some(Placed::Linked));
        }
        let Some(from) = self.parent_fd(parent) else {
            anyhow::bail!("the base directory of a reused file went away");
        };
        match linkat(from, n, dir, n, AtFlags::empty()) {
            Ok(()) => {
                self.linked.insert(inode);
                self.stats.linked += 1;
                Ok(Some(Placed::Linked))
            }
            // Another filesystem (a read-only store's temp area), the link limit, …: the
            // content is known equal, so it is copied from the old file.
            Err(_) => {
                let mut out = create(dir, n)?;
                old.seek(SeekFrom::Start(0))?;
                io::copy(&mut old, &mut out).context("copying file content")?;
                self.stats.written += 1;
                Ok(Some(Placed::Written(out)))
            }
        }
    }

    fn parent_fd(&self, parent: &[Vec<u8>]) -> Option<&OwnedFd> {
        match &self.cache {
            Some((comps, fd)) if comps.as_slice() == parent => fd.as_ref(),
            _ => None,
        }
    }

    /// The base's file at the same path when it is a regular file with the same mode, owner,
    /// mtime (whole seconds, as extraction sets it), size and no xattrs, with its inode, unless
    /// that inode is linked into the new snapshot already.
    fn candidate(
        &mut self,
        parent: &[Vec<u8>],
        name: &[u8],
        meta: &Meta,
        size: u64,
    ) -> Option<(OwnedFd, (u64, u64))> {
        if !meta.xattrs.is_empty() {
            return None;
        }
        if self.parent_fd(parent).is_none() {
            let fd = self.root.open_dir(parent, false).ok().map(|d| d.fd);
            self.cache = Some((parent.to_vec(), fd));
        }
        let dir = self.parent_fd(parent)?;
        let fd = openat(
            dir,
            std::ffi::OsStr::from_bytes(name),
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .ok()?;
        let st = fstat(&fd).ok()?;
        let same = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
            && st.st_mode & 0o7777 == meta.mode & 0o7777
            && st.st_uid == meta.uid
            && st.st_gid == meta.gid
            && st.st_size as u64 == size
            && st.st_mtime == meta.mtime
            && st.st_mtime_nsec == 0
            && no_xattrs(&fd);
        let inode = (st.st_dev, st.st_ino);
        (same && !self.linked.contains(&inode)).then_some((fd, inode))
    }
}

/// Creates the new file `name` in `dir` (mode 0600 until the caller sets its own; fails if
/// anything is there).
pub(super) fn create(dir: &OwnedFd, name: &std::ffi::OsStr) -> Result<File> {
    let fd = openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .context("creating file")?;
    Ok(File::from(fd))
}

/// Whether the open file has no extended attributes at all.
fn no_xattrs(fd: &OwnedFd) -> bool {
    // SAFETY: a size query (null buffer, length 0) on a valid open fd.
    let n = unsafe { libc::flistxattr(fd.as_raw_fd(), std::ptr::null_mut(), 0) };
    n == 0 || (n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EOPNOTSUPP))
}

fn read_some<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Fills `buf` unless the file ends first; returns how much was read.
fn read_exact_or_short(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use crate::layer::{extract, extract_over, ExtractOptions};
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    fn tar_of(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, mode, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_mtime(1_000);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn listing(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                let data = if m.is_file() {
                    fs::read(e.path()).unwrap()
                } else {
                    Vec::new()
                };
                format!(
                    "{} {:o} {} {} {}",
                    e.path().strip_prefix(root).unwrap().display(),
                    m.mode(),
                    m.mtime(),
                    m.len(),
                    crate::layer::Digest::of(&data)
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Unchanged files are linked, everything else written: the tree equals a plain
    /// extraction, including a large file that differs only in its last byte (written from
    /// the equal prefix) and a file whose mode alone changed.
    #[test]
    fn links_only_identical_files() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![7u8; 600_000];
        let mut big2 = big.clone();
        *big2.last_mut().unwrap() = 8;
        let old = tar_of(&[
            ("d/same", 0o644, b"same"),
            ("d/big", 0o644, &big),
            ("d/mode", 0o644, b"mode"),
            ("gone", 0o644, b"gone"),
        ]);
        let new = tar_of(&[
            ("d/same", 0o644, b"same"),
            ("d/big", 0o644, &big2),
            ("d/mode", 0o600, b"mode"),
            ("d/new", 0o644, b"new"),
        ]);
        let (base, plain, over) = (
            dir.path().join("base"),
            dir.path().join("plain"),
            dir.path().join("over"),
        );
        for d in [&base, &plain, &over] {
            fs::create_dir(d).unwrap();
        }
        let opts = ExtractOptions::default();
        extract(&old[..], &base, &opts).unwrap();
        let want = extract(&new[..], &plain, &opts).unwrap();
        let got = extract_over(&new[..], &over, &opts, &base).unwrap();
        assert_eq!(got.diff_id, want.diff_id);
        assert_eq!(listing(&over), listing(&plain));
        assert_eq!((got.reuse.linked, got.reuse.written), (1, 3));
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&over.join("d/same")), ino(&base.join("d/same")));
        assert_ne!(ino(&over.join("d/big")), ino(&base.join("d/big")));
        // The base is untouched.
        assert_eq!(fs::read(base.join("d/big")).unwrap(), big);
        assert_eq!(
            fs::metadata(base.join("d/mode")).unwrap().mode() & 0o777,
            0o644
        );
    }
}
