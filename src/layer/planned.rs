//! A layer written from a list of entries instead of a directory: a COPY
//! into a new directory knows every file, owner and mode it will create, so
//! its tar can be written straight from the sources without first copying
//! them into an overlay upper dir (on a 100,000-file context that copy is
//! most of the step). Same tar conventions as [`super::write`].

use std::cmp::Ordering;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::digest::HashingWriter;
use super::pipe_write::with_sink_thread;
use super::previous::PreviousLayer;
use super::tarheader::{write_end, write_header, write_padding, EntryHeader, Kind};
use super::write::{copy_exact, to_temp_file, WriteOptions, WrittenLayer, IO_BUF};

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedKind {
    /// A directory.
    Dir,
    /// A regular file whose content is read from `source` (`size` bytes).
    File {
        /// Where the bytes come from.
        source: PathBuf,
        /// Its length, as the header promises.
        size: u64,
        /// Its content's sha256 when the build knows it: the bytes may then come from the
        /// previous layer (see [`PreviousLayer`]) instead of `source`.
        digest: Option<[u8; 32]>,
    },
    /// A symlink with this target.
    Symlink(Vec<u8>),
    /// A hard link to an earlier entry of the layer (its path).
    Hardlink(Vec<u8>),
    /// An empty regular file with no source to read: what Docker 26.1's client makes of a
    /// socket in the build context.
    EmptyFile,
    /// A named pipe.
    Fifo,
    /// A character device (major, minor).
    Char(u64, u64),
    /// A block device (major, minor).
    Block(u64, u64),
}

/// One entry of a planned layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// Path inside the layer: `/`-separated, relative, no trailing slash.
    pub rel: Vec<u8>,
    /// Type and content.
    pub kind: PlannedKind,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The order [`super::write`] emits a tree in: depth first, each
/// directory's entries by name bytes (component-wise comparison, so `a/x`
/// comes before `a-b`).
pub fn layer_order(a: &[u8], b: &[u8]) -> Ordering {
    a.split(|&c| c == b'/').cmp(b.split(|&c| c == b'/'))
}

/// Writes `entries` (already in [`layer_order`], each parent before its
/// children) as a layer tar into a new temp file in `tmp_dir`, fsynced. A regular file
/// whose content `previous` holds (same path, size and sha256) is written from there
/// without opening its source: the same bytes.
pub fn write_planned(
    entries: &[PlannedEntry],
    tmp_dir: &std::path::Path,
    opts: &WriteOptions,
    previous: Option<&PreviousLayer>,
) -> Result<WrittenLayer> {
    to_temp_file(tmp_dir, |file| {
        // Sources are read on this thread, the tar is hashed and written on another.
        let hw = with_sink_thread(HashingWriter::new(file), IO_BUF, |w| {
            for e in entries {
                emit(w, e, opts, previous).with_context(|| {
                    format!("adding {} to layer", String::from_utf8_lossy(&e.rel))
                })?;
            }
            write_end(w).context("writing end of layer tar")
        })?;
        let (_, diff_id, size) = hw.finish();
        Ok((diff_id, size))
    })
}

fn emit<W: Write>(
    w: &mut W,
    e: &PlannedEntry,
    opts: &WriteOptions,
    previous: Option<&PreviousLayer>,
) -> Result<()> {
    let mtime = match opts.source_date_epoch {
        Some(epoch) if e.mtime > epoch => epoch,
        _ => e.mtime,
    };
    let mut h = EntryHeader {
        name: e.rel.clone(),
        kind: Kind::Regular,
        mode: e.mode & 0o7777,
        uid: u64::from(e.uid),
        gid: u64::from(e.gid),
        size: 0,
        mtime,
        link: Vec::new(),
        dev_major: 0,
        dev_minor: 0,
        xattrs: e.xattrs.clone(),
    };
    match &e.kind {
        PlannedKind::Dir => {
            h.kind = Kind::Dir;
            h.name.push(b'/');
            write_header(w, &h)?;
        }
        PlannedKind::File {
            source,
            size,
            digest,
        } => {
            h.size = *size;
            let kept = previous
                .zip(digest.as_ref())
                .and_then(|(p, d)| p.content(&e.rel, *size, d));
            if let Some(bytes) = kept {
                write_header(w, &h)?;
                w.write_all(bytes)?;
                return Ok(write_padding(w, h.size)?);
            }
            let file = fs::OpenOptions::new()
                .read(true)
                // Never blocks on a source that became a FIFO; the size check below then
                // fails on it.
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(source)
                .with_context(|| format!("opening {}", source.display()))?;
            write_header(w, &h)?;
            copy_exact(file, w, h.size)?;
            write_padding(w, h.size)?;
        }
        PlannedKind::EmptyFile => write_header(w, &h)?,
        PlannedKind::Symlink(target) => {
            h.kind = Kind::Symlink;
            h.link = target.clone();
            write_header(w, &h)?;
        }
        PlannedKind::Hardlink(to) => {
            h.kind = Kind::Link;
            h.link = to.clone();
            write_header(w, &h)?;
        }
        PlannedKind::Fifo => {
            h.kind = Kind::Fifo;
            write_header(w, &h)?;
        }
        PlannedKind::Char(major, minor) | PlannedKind::Block(major, minor) => {
            h.kind = if matches!(e.kind, PlannedKind::Char(..)) {
                Kind::Char
            } else {
                Kind::Block
            };
            h.dev_major = *major;
            h.dev_minor = *minor;
            write_header(w, &h)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{write, SourceKind};
    use memmap2::Mmap;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    #[test]
    fn order_is_depth_first_by_component() {
        let mut v: Vec<&[u8]> = vec![b"a-b", b"a/x", b"a", b"b", b"a/x/y", b"a.c"];
        v.sort_by(|a, b| layer_order(a, b));
        let want: Vec<&[u8]> = vec![b"a", b"a/x", b"a/x/y", b"a-b", b"a.c", b"b"];
        assert_eq!(v, want);
    }

    /// A planned layer is byte-identical to the layer of a directory holding
    /// the same entries.
    #[test]
    fn matches_the_directory_writer() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("d/e")).unwrap();
        fs::write(src.join("d/f.txt"), b"hello").unwrap();
        fs::write(src.join("d-x"), b"").unwrap();
        symlink("f.txt", src.join("d/l")).unwrap();
        fs::hard_link(src.join("d/f.txt"), src.join("d/e/h")).unwrap();
        fs::set_permissions(src.join("d/e"), fs::Permissions::from_mode(0o750)).unwrap();
        let opts = WriteOptions {
            kind: SourceKind::Plain,
            source_date_epoch: Some(1_000),
        };
        let want = write(&src, dir.path(), &opts).unwrap();

        let meta = |p: &str| fs::symlink_metadata(src.join(p)).unwrap();
        let entry = |p: &str, kind: PlannedKind| {
            let m = meta(p);
            PlannedEntry {
                rel: p.as_bytes().to_vec(),
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                mtime: m.mtime(),
                xattrs: Vec::new(),
            }
        };
        let file = |p: &str| PlannedKind::File {
            source: src.join(p),
            size: meta(p).len(),
            digest: None,
        };
        let mut entries = vec![
            entry("d-x", file("d-x")),
            entry("d", PlannedKind::Dir),
            entry("d/f.txt", PlannedKind::Hardlink(b"d/e/h".to_vec())),
            entry("d/e", PlannedKind::Dir),
            entry("d/e/h", file("d/e/h")),
            entry("d/l", PlannedKind::Symlink(b"f.txt".to_vec())),
        ];
        entries.sort_by(|a, b| layer_order(&a.rel, &b.rel));
        let got = write_planned(&entries, dir.path(), &opts, None).unwrap();
        assert_eq!(got.diff_id, want.diff_id);
        assert_eq!(fs::read(&got.path).unwrap(), fs::read(&want.path).unwrap());
    }

    #[test]
    fn a_changed_source_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"abc").unwrap();
        let e = PlannedEntry {
            rel: b"f".to_vec(),
            kind: PlannedKind::File {
                source: dir.path().join("f"),
                size: 10,
                digest: None,
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        };
        let err = write_planned(&[e], dir.path(), &WriteOptions::default(), None).unwrap_err();
        assert!(format!("{err:#}").contains("shrank"), "{err:#}");
    }

    /// Contents the previous layer holds with the known digest are taken from it (the
    /// source is not even opened); a content whose digest differs is read from its source;
    /// the tar is the one a write from the sources makes.
    #[test]
    fn takes_unchanged_contents_from_the_previous_layer() {
        use sha2::{Digest as _, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        let put = |name: &str, body: &[u8]| fs::write(src.join(name), body).unwrap();
        let entries = |names: &[&str], known: bool| -> Vec<PlannedEntry> {
            names
                .iter()
                .map(|n| {
                    let body = fs::read(src.join(n)).unwrap_or_default();
                    PlannedEntry {
                        rel: format!("data/{n}").into_bytes(),
                        kind: PlannedKind::File {
                            source: src.join(n),
                            size: body.len() as u64,
                            digest: known.then(|| Sha256::digest(&body).into()),
                        },
                        mode: 0o644,
                        uid: 0,
                        gid: 0,
                        mtime: 5,
                        xattrs: Vec::new(),
                    }
                })
                .collect()
        };
        let opts = WriteOptions::default();
        put("f1", &[1u8; 5000]);
        put("f2", b"two");
        let first = write_planned(&entries(&["f1", "f2"], false), dir.path(), &opts, None).unwrap();
        let map = unsafe { Mmap::map(&fs::File::open(&first.path).unwrap()) }.unwrap();
        let previous = PreviousLayer::open(map).unwrap();
        put("f2", b"TWO");
        put("f3", b"three");
        let next = entries(&["f1", "f2", "f3"], true);
        let want = write_planned(&next, dir.path(), &opts, None).unwrap();
        // f1 is taken from the previous layer: its source may be gone.
        fs::remove_file(src.join("f1")).unwrap();
        let got = write_planned(&next, dir.path(), &opts, Some(&previous)).unwrap();
        assert_eq!(fs::read(&got.path).unwrap(), fs::read(&want.path).unwrap());
        // f2's known digest is not the previous content's: it is read from the source.
        fs::remove_file(src.join("f2")).unwrap();
        let err = write_planned(&next, dir.path(), &opts, Some(&previous)).unwrap_err();
        assert!(format!("{err:#}").contains("data/f2"), "{err:#}");
    }
}
