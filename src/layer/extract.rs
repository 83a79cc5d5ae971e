//! Safe extraction of a layer tar into a snapshot directory in overlayfs format.
//!
//! Input may be gzip, zstd, bzip2, xz or plain (detected by magic). OCI whiteouts become overlay
//! whiteouts (`.wh.x` → 0:0 char device `x`; `.wh..wh..opq` → `trusted.overlay.opaque=y`, `user.overlay.opaque=y` in a user namespace),
//! or stay files in a store on overlayfs (see `whiteout_files`).
//! Every write happens relative to a directory fd resolved by [`Root`], so no entry — `../`,
//! absolute names, symlinked parents, symlink chains, hardlinks to outside — can touch anything
//! outside `dest`. The diffID (sha256 of the uncompressed stream) and the blob digest are computed
//! in the same pass. On a digest mismatch the files are already written: extract into a fresh
//! temp dir and rename it into place only on success.

use super::compress::{decompress, StreamFormat};
use super::delta::{Delta, Seen};
use super::delta_plan::DeltaPlan;
use super::digest::{Digest, HashingReader};
pub use super::entry_meta::squash_unmapped;
use super::entry_meta::{apply_meta, copy_buf, read_meta, set_xattr_tolerant};
use super::reuse::{Base, Placed, ReuseStats};

#[path = "extract_archive.rs"]
mod archive;
#[path = "extract_replace.rs"]
mod replace;
use super::root::{clean_entry, fd_path, Root};
use super::write::IO_BUF;
use super::xattrs;
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fstatat, futimens, makedev, mkdirat, mknodat, utimensat, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use tar::EntryType;

/// Errors a caller may want to tell apart from I/O failures.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The uncompressed stream does not hash to the expected diffID.
    #[error("layer diffID mismatch: expected {expected}, got {actual}")]
    DiffIdMismatch {
        /// What the caller expected (from the image config).
        expected: Digest,
        /// What the stream hashed to.
        actual: Digest,
    },
    /// An entry tried to leave the destination or is otherwise not allowed.
    #[error("refusing layer entry {entry:?}: {reason}")]
    Unsafe {
        /// The entry's path as written in the tar.
        entry: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// Options for [`extract`].
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// When set, the uncompressed stream must hash to this diffID.
    pub expected_diff_id: Option<Digest>,
    /// The caller hashes the stream itself (the store's `extract_checked` does, on another
    /// core): no sha256 here, and [`Extracted`]'s `diff_id` and `blob_digest` are all zeros.
    /// Two hashes of a 100 MB layer were a third of a delta snapshot's time.
    pub unhashed: bool,
}

/// What [`extract`] found.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// sha256 of the bytes as read (equals `diff_id` for a plain tar).
    pub blob_digest: Digest,
    /// Size of the bytes as read.
    pub blob_size: u64,
    /// The compression that was detected.
    pub format: StreamFormat,
    /// Files linked from / written over the base of [`extract_over`] (zero without one).
    pub reuse: ReuseStats,
}

/// Extracts the layer read from `input` into the existing directory `dest`.
pub fn extract<R: Read>(input: R, dest: &Path, opts: &ExtractOptions) -> Result<Extracted> {
    extract_with(input, dest, opts, None, false)
}

/// [`extract`] over `base`, the snapshot of a similar layer (immutable, on the destination's
/// filesystem): regular files equal to its own at the same path are hard-linked from it
/// instead of written (see `reuse`); the result is otherwise what [`extract`] makes.
pub fn extract_over<R: Read>(
    input: R,
    dest: &Path,
    opts: &ExtractOptions,
    base: &Path,
) -> Result<Extracted> {
    extract_with(input, dest, opts, Some((base, None)), false)
}

/// The delta of the layer over `base` (see `delta`): only what differs from the full
/// snapshot `base` of a similar layer, with whiteouts for what the layer lacks, so that
/// `[dest, base]` as overlay lowers shows what [`extract`] makes. `reuse.linked` counts the
/// files left out, `reuse.whiteouts` the whiteouts. Errors on a layer with whiteouts.
/// With `plan` (from [`super::plan_delta`] of this layer against the tar `base` was
/// extracted from) nothing of `base` is read: the plan says what to leave out, and
/// directories equal to the base's are made only above something written.
pub fn extract_delta<R: Read>(
    input: R,
    dest: &Path,
    opts: &ExtractOptions,
    base: &Path,
    plan: Option<DeltaPlan>,
) -> Result<Extracted> {
    extract_with(input, dest, opts, Some((base, plan)), true)
}

/// [`extract_delta`] of an uncompressed layer tar in memory (a mapped store blob) with its
/// plan: unchanged entries are skipped, not read. Nothing is hashed: the caller checks the
/// tar's diffID itself (the store hashes the map on another core meanwhile).
pub fn extract_delta_mapped(
    tar: &memmap2::Mmap,
    dest: &Path,
    base: &Path,
    plan: DeltaPlan,
) -> Result<ReuseStats> {
    let root = Root::open(dest).with_context(|| format!("opening {}", dest.display()))?;
    let mut x = Extractor::new(&root);
    let mut delta = Delta::new(base, Some(plan));
    let visits = delta.take_visits();
    x.delta = Some(delta);
    match visits {
        // Only what the delta holds: the tar's other entries are never parsed.
        Some(visits) => x.run_visits(tar, &visits)?,
        None => x.run_seek(super::MappedTar::new(tar))?,
    }
    let stats = ReuseStats::default();
    Ok(x.delta.map(|d| d.stats(stats)).unwrap_or(stats))
}

fn extract_with<R: Read>(
    input: R,
    dest: &Path,
    opts: &ExtractOptions,
    base: Option<(&Path, Option<DeltaPlan>)>,
    delta: bool,
) -> Result<Extracted> {
    let root = Root::open(dest).with_context(|| format!("opening {}", dest.display()))?;
    anyhow::ensure!(
        !(opts.unhashed && opts.expected_diff_id.is_some()),
        "an unhashed extraction cannot check a diffID"
    );
    let mut raw = if opts.unhashed {
        HashingReader::counting(input)
    } else {
        HashingReader::new(input)
    };
    let reuse;
    let (format, diff_id, size) = {
        let buffered = BufReader::with_capacity(IO_BUF, &mut raw);
        let (format, decoded) = decompress(buffered)?;
        let decoded = BufReader::with_capacity(64 * 1024, decoded);
        let mut plain = if opts.unhashed {
            HashingReader::counting(decoded)
        } else {
            HashingReader::new(decoded)
        };
        let mut x = Extractor::new(&root);
        match base {
            // The plan knows what is equal: the base is never opened.
            Some((base, Some(plan))) if delta => x.delta = Some(Delta::new(base, Some(plan))),
            Some((base, _)) => {
                x.base = Some(Base::open(base, delta)?);
                x.delta = delta.then(|| Delta::new(base, None));
            }
            None => {}
        }
        x.run(&mut plain)?;
        let stats = x.base.map(|b| b.stats).unwrap_or_default();
        reuse = match x.delta {
            Some(d) => d.stats(stats),
            None => stats,
        };
        plain.drain().context("reading the end of the layer")?;
        let (d, n) = plain.finish();
        (format, d, n)
    };
    raw.drain().context("reading the end of the layer blob")?;
    let (blob_digest, blob_size) = raw.finish();
    if let Some(expected) = opts.expected_diff_id {
        if expected != diff_id {
            return Err(ExtractError::DiffIdMismatch {
                expected,
                actual: diff_id,
            }
            .into());
        }
    }
    Ok(Extracted {
        diff_id,
        size,
        blob_digest,
        blob_size,
        format,
        reuse,
    })
}

/// Extracts an archive for `ADD` into the existing directory `dest`, as Docker's chrooted
/// `archive.Unpack`: paths resolve inside `dest` (absolute symlinks restart there), `.wh.`
/// names are plain files, an existing entry is replaced unless both are directories (a file
/// replaces a whole directory), a missing parent is made 0755 unless a symlink is in the way,
/// owners and modes come from the archive, xattrs as a layer keeps them.
pub fn unpack_archive<R: Read>(mut input: R, dest: &Path) -> Result<()> {
    let root = Root::open(dest).with_context(|| format!("opening {}", dest.display()))?;
    let mut x = Extractor::new(&root);
    x.archive = true;
    x.run(&mut input)
}

/// (requested components, open fd, real components) of a resolved parent directory.
type CachedParent = (Vec<Vec<u8>>, OwnedFd, Vec<Vec<u8>>);

struct Extractor<'a> {
    root: &'a Root,
    /// Last resolved parent: (requested comps, fd, real comps). Dropped whenever anything is
    /// removed, since a removal can invalidate it.
    cache: Option<CachedParent>,
    /// Directory mtimes, applied last because creating children changes them.
    dir_times: Vec<(Vec<Vec<u8>>, i64)>,
    buf: Vec<u8>,
    /// An `ADD` archive rather than a layer (see [`unpack_archive`]).
    archive: bool,
    /// A similar snapshot to link unchanged files from.
    base: Option<Base>,
    /// Set when only the difference from `base` is written (see `delta`).
    delta: Option<Delta>,
}

impl<'a> Extractor<'a> {
    fn new(root: &'a Root) -> Self {
        Extractor {
            root,
            cache: None,
            dir_times: Vec::new(),
            buf: vec![0; IO_BUF],
            archive: false,
            base: None,
            delta: None,
        }
    }

    fn run<R: Read>(&mut self, input: &mut R) -> Result<()> {
        let mut archive = tar::Archive::new(input);
        self.run_entries(archive.entries().context("reading layer tar")?)
    }

    /// [`Self::run`] over a seekable tar: what an entry does not read (a delta's unchanged
    /// files) is skipped by a seek instead of read.
    fn run_seek<R: Read + std::io::Seek>(&mut self, input: R) -> Result<()> {
        let mut archive = tar::Archive::new(input);
        self.run_entries(archive.entries_with_seek().context("reading layer tar")?)
    }

    /// The entries of `tar` whose headers start at the given offsets, each checked to be at
    /// its path (see `DeltaPlan::visit`), then what [`Self::run`] does last.
    fn run_visits(&mut self, tar: &memmap2::Mmap, visits: &[(u64, Vec<u8>)]) -> Result<()> {
        for (at, key) in visits {
            let at = usize::try_from(*at)?;
            let mut archive = tar::Archive::new(super::MappedTar::new_at(tar, at));
            let mut entry = archive
                .entries_with_seek()?
                .next()
                .context("a planned entry is past the layer's end")?
                .context("reading layer tar entry")?;
            let at_key = clean_entry(&entry.path_bytes(), false).map(|c| c.join(&b'/'));
            if at_key.as_ref() != Some(key) {
                bail!(
                    "the layer has no entry {:?} where planned",
                    String::from_utf8_lossy(key)
                );
            }
            self.entry(&mut entry)
                .with_context(|| format!("extracting {:?}", String::from_utf8_lossy(key)))?;
        }
        self.finish()
    }

    fn run_entries<R: Read>(&mut self, entries: tar::Entries<'_, R>) -> Result<()> {
        for entry in entries {
            let mut entry = entry.context("reading layer tar entry")?;
            self.entry(&mut entry).with_context(|| {
                format!(
                    "extracting {:?}",
                    String::from_utf8_lossy(&entry.path_bytes())
                )
            })?;
        }
        self.finish()
    }

    /// After the entries: a delta's whiteouts, then every directory's mtime (children
    /// change their directory's).
    fn finish(&mut self) -> Result<()> {
        if let Some(d) = self.delta.as_mut() {
            d.write_whiteouts(self.root)?;
            self.dir_times.append(&mut d.made);
        }
        for (comps, mtime) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            let Some((name, parent)) = comps.split_last() else {
                continue;
            };
            let dir = self.root.open_dir(parent, false);
            let t = TimeSpec::new(mtime, 0);
            if let Ok(dir) = dir {
                match utimensat(
                    &dir.fd,
                    OsStr::from_bytes(name),
                    &t,
                    &t,
                    UtimensatFlags::NoFollowSymlink,
                ) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(e) => return Err(e).context("setting directory mtime"),
                }
            }
        }
        Ok(())
    }

    fn parent(&mut self, comps: &[Vec<u8>], entry: &[u8]) -> Result<(OwnedFd, Vec<Vec<u8>>)> {
        if let Some((key, fd, real)) = &self.cache {
            if key.as_slice() == comps {
                return Ok((fd.try_clone()?, real.clone()));
            }
        }
        let d = if self.archive {
            self.archive_parent(comps, entry)?
        } else {
            self.root
                .open_dir(comps, true)
                .context("resolving parent directory")?
        };
        self.cache = Some((comps.to_vec(), d.fd.try_clone()?, d.comps.clone()));
        Ok((d.fd, d.comps))
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(());
        }
        if self.archive && !super::entry_meta::archive_handles(kind) {
            bail!("unhandled tar header type {}", kind.as_byte());
        }
        let raw_path = entry.path_bytes().into_owned();
        let unsafe_err = |reason| ExtractError::Unsafe {
            entry: String::from_utf8_lossy(&raw_path).into_owned(),
            reason,
        };
        let comps = clean_entry(&raw_path, self.archive)
            .ok_or_else(|| unsafe_err("path leaves the layer root"))?;
        let Some((name, parent_comps)) = comps.split_last() else {
            return Ok(()); // the root itself ("./"): a snapshot's root is made by the store
        };
        let mut meta = read_meta(entry)?;
        if self.archive {
            // A copy keeps the xattrs its layer keeps (see `layer_keeps_xattr`).
            meta.xattrs
                .retain(|(k, _)| super::write::layer_keeps_xattr(k));
        }

        if let Some(target) = name.strip_prefix(b".wh.").filter(|_| !self.archive) {
            if let Some(d) = &self.delta {
                d.refuse_whiteout()?;
            }
            let (dir, _) = self.parent(parent_comps, name)?;
            if super::whiteout_files::enabled() {
                return self.whiteout_file(&dir, name, target, &unsafe_err);
            }
            if target == b".wh..opq" {
                let xattr = xattrs::opaque_xattr().to_bytes();
                return xattrs::set(&fd_path(&dir, b"."), xattr, b"y")
                    .context("marking directory opaque");
            }
            if target.starts_with(b".wh.") {
                return Ok(()); // other AUFS metadata (.wh..wh.plnk, …) has no overlay meaning
            }
            if target.is_empty() || target == b"." || target == b".." {
                return Err(unsafe_err("invalid whiteout name").into());
            }
            self.remove_existing(&dir, target, false)?;
            mknodat(
                &dir,
                OsStr::from_bytes(target),
                SFlag::S_IFCHR,
                Mode::empty(),
                makedev(0, 0),
            )
            .context("creating whiteout")?;
            fchownat(
                &dir,
                OsStr::from_bytes(target),
                Some(Uid::from_raw(0)),
                Some(Gid::from_raw(0)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .context("chown of whiteout")?;
            return Ok(());
        }

        if let Some(d) = self.delta.as_mut() {
            if d.leave(&comps, kind, &meta) {
                return Ok(());
            }
            d.make_parents(self.root, parent_comps)?;
        }
        let (dir, real_parent) = self.parent(parent_comps, name)?;
        let n = OsStr::from_bytes(name);
        let is_dir = kind == EntryType::Directory;
        if let Some(d) = self.delta.as_mut() {
            d.note(
                &real_parent,
                name,
                if is_dir { Seen::Dir } else { Seen::Written },
            );
        }
        self.remove_existing(&dir, name, is_dir)?;

        match kind {
            EntryType::Directory => {
                match mkdirat(&dir, n, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).context("creating directory"),
                }
                apply_meta(&dir, name, &meta, false)?;
                let mut real = real_parent;
                real.push(name.to_vec());
                self.dir_times.push((real, meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let size = entry.size();
                // A sparse entry's stream is not its file's bytes: always written.
                let base = self.base.as_mut().filter(|_| kind != EntryType::GNUSparse);
                let placed = match base {
                    Some(b) => b.place(
                        (&dir, &real_parent, name),
                        &meta,
                        size,
                        entry,
                        &mut self.buf,
                    )?,
                    None => None,
                };
                let file = match placed {
                    Some(Placed::Linked) => {
                        if let Some(d) = self.delta.as_mut() {
                            d.note(&real_parent, name, Seen::Skipped);
                        }
                        return Ok(());
                    }
                    Some(Placed::Written(file)) => file,
                    None => {
                        let fd = openat(
                            &dir,
                            n,
                            OFlag::O_WRONLY
                                | OFlag::O_CREAT
                                | OFlag::O_EXCL
                                | OFlag::O_NOFOLLOW
                                | OFlag::O_CLOEXEC,
                            Mode::from_bits_truncate(0o600),
                        )
                        .context("creating file")?;
                        let mut file = File::from(fd);
                        copy_buf(entry, &mut file, &mut self.buf)
                            .context("writing file content")?;
                        file
                    }
                };
                squash_unmapped(fchown(
                    &file,
                    Some(Uid::from_raw(meta.uid)),
                    Some(Gid::from_raw(meta.gid)),
                ))
                .context("chown")?;
                for (k, v) in &meta.xattrs {
                    set_xattr_tolerant(xattrs::fset(file.as_fd(), k, v), k)?;
                }
                fchmod(&file, Mode::from_bits_truncate(meta.mode)).context("chmod")?;
                let t = TimeSpec::new(meta.mtime, 0);
                futimens(&file, &t, &t).context("setting mtime")?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("symlink without a target"))?;
                // The target is only data: it is never followed here, and later lookups through
                // it are confined by `Root`.
                symlinkat(OsStr::from_bytes(&target), &dir, n).context("creating symlink")?;
                apply_meta(&dir, name, &meta, true)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("hardlink without a target"))?;
                let tcomps = clean_entry(&target, self.archive)
                    .ok_or_else(|| unsafe_err("hardlink target leaves the layer root"))?;
                let Some((tname, tparent)) = tcomps.split_last() else {
                    return Err(unsafe_err("hardlink to the layer root").into());
                };
                if let Some(d) = self.delta.as_mut() {
                    let mut link = real_parent.clone();
                    link.push(name.to_vec());
                    if d.hardlink(self.root, &tcomps, &link)? {
                        return Ok(());
                    }
                }
                let tdir = self
                    .root
                    .open_dir(tparent, false)
                    .map_err(|_| unsafe_err("hardlink target is not extracted"))?;
                let st = fstatat(
                    &tdir.fd,
                    OsStr::from_bytes(tname),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(|_| unsafe_err("hardlink target is not extracted"))?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
                    return Err(unsafe_err("hardlink to a directory").into());
                }
                linkat(
                    &tdir.fd,
                    OsStr::from_bytes(tname),
                    &dir,
                    n,
                    AtFlags::empty(),
                )
                .context("creating hardlink")?;
                if self.archive {
                    let symlink =
                        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK;
                    super::entry_meta::apply_link_meta(&dir, name, &meta, symlink)?;
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (sflag, dev) = match kind {
                    EntryType::Fifo => (SFlag::S_IFIFO, 0),
                    _ => {
                        let major = entry.header().device_major()?.unwrap_or(0);
                        let minor = entry.header().device_minor()?.unwrap_or(0);
                        let f = if kind == EntryType::Char {
                            SFlag::S_IFCHR
                        } else {
                            SFlag::S_IFBLK
                        };
                        (f, makedev(u64::from(major), u64::from(minor)))
                    }
                };
                mknodat(&dir, n, sflag, Mode::from_bits_truncate(0o600), dev)
                    .context("creating device node")?;
                apply_meta(&dir, name, &meta, false)?;
            }
            other => bail!("unsupported tar entry type {other:?}"),
        }
        Ok(())
    }
}
