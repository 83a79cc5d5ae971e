//! COPY from the build context or another stage straight into a layer tar.
//!
//! The layer a COPY of context files makes is known before anything is
//! written: the destination's existing ancestors (copied up, as overlayfs
//! would), the directories it creates, and the selected entries with their
//! new owners and modes. Its tar is written from the source files
//! directly — no writable overlay, no copy of every file into an upper dir
//! and no second walk to archive it — and the snapshot is extracted from
//! the tar only if a later step mounts it. The destination is resolved in
//! the image first (symlinks on the way followed, as the overlay path does).
//! Shapes whose overlay result needs more than that (a file on the way or
//! at the destination, a directory meeting a non-directory or the reverse,
//! two sources writing one path) return `None` and go through the overlay
//! path, which also reports the errors.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::copy::{kept_xattrs, CopyOptions};
use super::overlay::{with_overlays, OverlaySpec};
use crate::context::{FileKind, SelectedSource};
use crate::layer::{layer_order, read_xattrs, PlannedEntry, PlannedKind};

/// Whether COPYs may take this path: `BUILDER_COPY_VIA_OVERLAY=1` sends
/// every COPY through the overlay (the tests compare the two; it is also a
/// way out should a copy ever differ).
pub fn enabled() -> bool {
    std::env::var_os("BUILDER_COPY_VIA_OVERLAY").is_none_or(|v| v != "1")
}

/// The image's file system as the plan sees it: a read-only overlay of
/// the lower layers (`None` for an empty image).
struct Image<'a>(Option<&'a Path>);

impl Image<'_> {
    /// `lstat` of `rel` in the image; `None` when it does not exist.
    fn look(&self, rel: &[u8]) -> std::io::Result<Option<fs::Metadata>> {
        let Some(root) = self.0 else {
            return Ok(None);
        };
        match fs::symlink_metadata(root.join(std::ffi::OsStr::from_bytes(rel))) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The components of `dest` (absolute) resolved inside the image,
    /// symlinks followed as the overlay path follows them (`/bin/x` on a
    /// merged-/usr image is `usr/bin/x`); `None` for a name that is not
    /// UTF-8 after resolution (left to the overlay path).
    fn resolve(&self, dest: &str) -> std::io::Result<Option<Vec<String>>> {
        let lexical = || {
            dest.split('/')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
        };
        let Some(root) = self.0 else {
            return Ok(Some(lexical().collect()));
        };
        let real = super::fsroot::resolve_in_root(root, dest, true)?;
        let rel = real.strip_prefix(root).map_err(std::io::Error::other)?;
        Ok(rel
            .iter()
            .map(|c| c.to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>())
    }

    /// An existing directory, as overlayfs copies it up.
    fn copied_up(&self, rel: &[u8], meta: &fs::Metadata, mtime: i64) -> Result<PlannedEntry> {
        let root = self.0.unwrap_or(Path::new("/"));
        let xattrs = read_xattrs(&root.join(std::ffi::OsStr::from_bytes(rel)))?;
        Ok(PlannedEntry {
            rel: rel.to_vec(),
            kind: PlannedKind::Dir,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            mtime,
            xattrs,
        })
    }
}

/// Makes the layer of `COPY <sources> <dest>` without a writable overlay
/// when it can: `select` resolves the sources (given the root of the
/// `--from` image when `source_lowers` is set, else `None` for the build
/// context), `write` turns the planned entries into the layer while the
/// sources are still mounted. `None` when the copy is not of a shape this
/// handles (the caller then copies through an overlay). `dest` is
/// absolute (a trailing `/` means a directory); `lowers` are the image's
/// snapshot dirs, top first; `scratch` holds the read-only mounts.
#[allow(clippy::too_many_arguments)]
pub fn copy_layer<T, S, W>(
    lowers: &[PathBuf],
    source_lowers: Option<&[PathBuf]>,
    scratch: &Path,
    select: S,
    dest: &str,
    opts: &CopyOptions,
    now: i64,
    write: W,
) -> Result<Option<T>>
where
    T: Send,
    S: FnOnce(Option<&Path>) -> Result<Vec<SelectedSource>> + Send,
    W: FnOnce(&[PlannedEntry]) -> Result<T> + Send,
{
    if dest.split('/').any(|c| c == "." || c == "..") {
        return Ok(None);
    }
    let finish = |image: &Image<'_>, selected: &[SelectedSource]| -> Result<Option<T>> {
        let Some(comps) = image.resolve(dest)? else {
            return Ok(None);
        };
        let comps: Vec<&str> = comps.iter().map(String::as_str).collect();
        match plan_in(
            image,
            selected,
            dest,
            &comps,
            opts,
            now,
            source_lowers.is_none(),
        )? {
            Some(entries) => Ok(Some(write(&entries)?)),
            None => Ok(None),
        }
    };
    if lowers.is_empty() && source_lowers.is_none() {
        let selected = select(None)?;
        return finish(&Image(None), &selected);
    }
    // An empty image is not mounted (overlay refuses a lower-only mount
    // of nothing): its root is `None`.
    let mut specs = Vec::new();
    if !lowers.is_empty() {
        specs.push(OverlaySpec {
            lowers: lowers.to_vec(),
            upper: None,
        });
    }
    if let Some(src) = source_lowers {
        specs.push(OverlaySpec {
            lowers: src.to_vec(),
            upper: None,
        });
    }
    let done = with_overlays(&specs, scratch, |roots| {
        (|| {
            let (image_root, source_root) = match (lowers.is_empty(), source_lowers.is_some()) {
                (false, true) => (roots.first(), roots.get(1)),
                (false, false) => (roots.first(), None),
                (true, _) => (None, roots.first()),
            };
            let image = Image(image_root.map(PathBuf::as_path));
            let selected = select(source_root.map(PathBuf::as_path))?;
            finish(&image, &selected)
        })()
        .map_err(|e| std::io::Error::other(format!("{e:#}")))
    })?;
    Ok(done)
}

fn plan_in(
    image: &Image<'_>,
    selected: &[SelectedSource],
    dest: &str,
    comps: &[&str],
    opts: &CopyOptions,
    now: i64,
    from_context: bool,
) -> Result<Option<Vec<PlannedEntry>>> {
    let matches: usize = selected.iter().map(|s| s.matches.len()).sum();
    if matches == 0 {
        return Ok(None); // the overlay path reports what is missing
    }
    // The destination's ancestors that exist (`comps` is resolved, so
    // these are directories; a file on the way is the overlay path's error).
    let mut existing: Vec<(Vec<u8>, fs::Metadata)> = Vec::new();
    for i in 0..comps.len() {
        let rel = comps[..=i].join("/").into_bytes();
        match image.look(&rel)? {
            Some(m) if m.is_dir() => existing.push((rel, m)),
            Some(_) => return Ok(None),
            None => break,
        }
    }
    // The root always exists.
    let dest_exists = existing.len() == comps.len();
    // As BuildKit decides per source: a directory's contents go into the
    // destination; a file goes into it when it is a directory (trailing
    // `/`, existing, or made by a directory source), else becomes it.
    let all_dirs = selected
        .iter()
        .flat_map(|s| &s.matches)
        .all(|m| m.kind == FileKind::Dir);
    let dest_is_dir = dest.ends_with('/') || dest_exists || all_dirs;
    if !dest_is_dir && matches > 1 {
        // Files over one another, or a directory source before or after a
        // file: the order decides, which the overlay path follows.
        return Ok(None);
    }
    let parent_owner = opts.owner.unwrap_or((0, 0));
    let mut out = Vec::new();
    let last = existing.len().wrapping_sub(1);
    for (i, (rel, meta)) in existing.iter().enumerate() {
        // The directory the first new entry goes into gets a new mtime.
        let mtime = if i == last { now } else { meta.mtime() };
        out.push(image.copied_up(rel, meta, mtime)?);
    }
    let new_dirs = if dest_is_dir {
        comps.len()
    } else {
        comps.len() - 1
    };
    for depth in existing.len()..new_dirs {
        out.push(PlannedEntry {
            rel: comps[..=depth].join("/").into_bytes(),
            kind: PlannedKind::Dir,
            mode: 0o755,
            uid: parent_owner.0,
            gid: parent_owner.1,
            mtime: now,
            xattrs: Vec::new(),
        });
    }
    let fixed = out.len();
    let dest_rel = comps.join("/").into_bytes();
    // Hardlinks are kept inside one copied directory (per match), never
    // between separately named sources: the overlay path does the same.
    let mut groups: HashMap<Vec<u8>, (usize, u64, u64)> = HashMap::new();
    let mut match_index = 0;
    // fsutil's copier gives the destination of a directory copy the source directory's
    // timestamps once its contents are in, whether it made the directory or it existed; a
    // later file source written into it makes it "now" again (see `dest_dir_mtime`).
    let mut dest_mtime: Option<i64> = None;
    for source in selected {
        for m in &source.matches {
            match_index += 1;
            dest_mtime = dest_dir_mtime(m, from_context);
            if m.kind == FileKind::Dir {
                for entry in &m.entries {
                    if entry.dest.as_os_str().is_empty() {
                        continue; // the destination dir itself, handled above
                    }
                    let rel = join(&dest_rel, entry.dest.as_os_str().as_bytes());
                    let Some(e) = planned(
                        rel,
                        entry.kind,
                        (&entry.path, &entry.metadata, entry.digest),
                        entry.link_target.as_deref(),
                        opts,
                    )?
                    else {
                        continue;
                    };
                    if entry.kind == FileKind::File && entry.metadata.nlink() > 1 {
                        groups.insert(
                            e.rel.clone(),
                            (match_index, entry.metadata.dev(), entry.metadata.ino()),
                        );
                    }
                    out.push(e);
                }
            } else if m.kind == FileKind::File {
                let rel = if dest_is_dir {
                    join(&dest_rel, m.name.as_bytes())
                } else {
                    dest_rel.clone()
                };
                let digest = m.entries.first().and_then(|e| e.digest);
                if let Some(e) = planned(rel, m.kind, (&m.path, &m.metadata, digest), None, opts)? {
                    out.push(e);
                }
            } else {
                return Ok(None);
            }
        }
    }
    let mut seen = HashSet::new();
    if !out.iter().all(|e| seen.insert(e.rel.clone())) {
        return Ok(None); // two sources write one path: the overlay path decides
    }
    if dest_exists {
        // Into an existing directory: a new entry may meet an old one. Same
        // kind (directory over directory, non-directory over non-directory)
        // replaces it as the overlay path would; anything else (an opaque
        // directory over a file, a file over a directory) goes that way.
        for e in &out[fixed..] {
            if let Some(old) = image.look(&e.rel)? {
                if old.is_dir() != (e.kind == PlannedKind::Dir) {
                    return Ok(None);
                }
            }
        }
    }
    if let Some(t) = dest_mtime {
        if let Some(d) = out[..fixed].iter_mut().find(|e| e.rel == dest_rel) {
            d.mtime = t;
        }
    }
    out.sort_by(|a, b| layer_order(&a.rel, &b.rel));
    // The first of each linked group in layer order holds the content, as
    // the directory writer makes it.
    let mut first: HashMap<(usize, u64, u64), Vec<u8>> = HashMap::new();
    for e in &mut out {
        if let Some(g) = groups.get(&e.rel) {
            match first.get(g) {
                Some(to) => e.kind = PlannedKind::Hardlink(to.clone()),
                None => {
                    first.insert(*g, e.rel.clone());
                }
            }
        }
    }
    Ok(Some(out))
}

/// The destination directory's mtime after source `m` of a COPY is placed (`None`: the time
/// of the copy): a directory source leaves its own mtime on the destination (fsutil
/// `copy.Copy` ends with `copyFileTimestamp` of the source onto the target, recorded with
/// Docker 26.1 for created and existing destinations alike); a file written into it is a
/// change made after that. The build context's root is the exception (`from_context` and a
/// match that is the root, named or reached by a symlink): BuildKit's copy of the context has
/// a root of its own, made when the context was received, so `COPY . /x/` (or `COPY up /x/`
/// with `up -> .`) leaves the time of the build.
pub(crate) fn dest_dir_mtime(m: &crate::context::SourceMatch, from_context: bool) -> Option<i64> {
    let context_root = from_context && m.is_root;
    let mtime = if from_context {
        super::copy_meta::context_time(m.metadata.mtime(), 0).0
    } else {
        m.metadata.mtime()
    };
    (m.kind == FileKind::Dir && !context_root).then_some(mtime)
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    let mut out = dir.to_vec();
    out.push(b'/');
    out.extend_from_slice(name);
    out
}

/// One copied entry as the overlay path would leave it: owner and mode
/// from the copy options, the source's mtime, the xattrs a copy keeps.
/// `source`: the path, its metadata and (a regular file's) content digest if known.
fn planned(
    rel: Vec<u8>,
    kind: FileKind,
    (path, meta, digest): (&Path, &fs::Metadata, Option<[u8; 32]>),
    link: Option<&Path>,
    opts: &CopyOptions,
) -> Result<Option<PlannedEntry>> {
    let (uid, gid) = opts.owner_for(meta);
    let mut mode = opts.mode_for(meta);
    let kind = match kind {
        FileKind::File => PlannedKind::File {
            source: path.to_path_buf(),
            size: meta.len(),
            digest,
        },
        FileKind::Dir => PlannedKind::Dir,
        FileKind::Symlink => {
            mode = 0o777;
            let target = match link {
                Some(t) => t.to_path_buf(),
                None => fs::read_link(path)?,
            };
            PlannedKind::Symlink(target.as_os_str().as_bytes().to_vec())
        }
        FileKind::Fifo => PlannedKind::Fifo,
        // A block device is copied as a character device (see `copy_meta::copied_device_kind`).
        FileKind::CharDevice | FileKind::BlockDevice => PlannedKind::Char(
            u64::from(libc::major(meta.rdev())),
            u64::from(libc::minor(meta.rdev())),
        ),
        // Docker 26.1's client sends a socket of the context as an empty regular file with
        // the socket's permissions (recorded with `COPY . /ctx/`); never opened.
        FileKind::Socket => PlannedKind::EmptyFile,
    };
    Ok(Some(PlannedEntry {
        rel,
        kind,
        mode,
        uid,
        gid,
        mtime: if opts.preserve_owner {
            meta.mtime()
        } else {
            super::copy_meta::context_time(meta.mtime(), 0).0
        },
        xattrs: kept_xattrs(path, meta, opts)?,
    }))
}
