//! The per-file index of a cache mount: path → kind, mode, owner, size,
//! mtime and content digest. An export compares the mount dir with the
//! index of the chain it last exported or restored, so a small change
//! becomes a small delta layer; a restore sets file mtimes from it (tar
//! headers keep whole seconds only, and make-style tools compare mtimes).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

/// What a path is. Other file types (fifos, sockets, devices) are not
/// exported: a cache holds files a build tool writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file (hard links are exported as separate files).
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed, here or on restore).
    Symlink,
}

/// One path of a mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File, dir or symlink.
    pub kind: Kind,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Bytes (files only).
    #[serde(default)]
    pub size: u64,
    /// Modification time: seconds since the epoch (files only).
    #[serde(default)]
    pub mtime: i64,
    /// Nanoseconds of the modification time (files only).
    #[serde(default)]
    pub mtime_nsec: u32,
    /// `sha256:…` of the content (files only; empty until hashed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// The link target (symlinks only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link: String,
}

impl FileEntry {
    /// Whether `self` (scanned now) is what `before` recorded, by
    /// metadata: a file whose size, mtime, mode and owner are unchanged is
    /// taken as unchanged without reading it (as git's index does).
    pub fn same_as(&self, before: &FileEntry) -> bool {
        let common = self.kind == before.kind
            && self.mode == before.mode
            && self.uid == before.uid
            && self.gid == before.gid;
        common
            && match self.kind {
                Kind::Dir => true,
                Kind::Symlink => self.link == before.link,
                Kind::File => {
                    self.size == before.size
                        && self.mtime == before.mtime
                        && self.mtime_nsec == before.mtime_nsec
                }
            }
    }
}

/// A mount's index: relative path (`/`-separated, no leading `/`) → entry.
/// Sorted, so a parent comes before its children.
pub type Index = BTreeMap<String, FileEntry>;

/// Scans the mount dir `root` (symlinks not followed). Files unchanged
/// since `previous` keep its digest; others get an empty one, filled in
/// when they are written to a layer. Returns the index and the number of
/// special files skipped.
pub fn scan(root: &Path, previous: &Index) -> Result<(Index, usize)> {
    let mut index = Index::new();
    let mut skipped = 0;
    for entry in walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.with_context(|| format!("scanning {}", root.display()))?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .context("walked out of the mount")?;
        let Some(rel) = rel.to_str() else {
            bail!(
                "{} has a name that is not UTF-8; cache mounts with such names cannot be exported",
                entry.path().display()
            );
        };
        let md = entry
            .path()
            .symlink_metadata()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_symlink() {
            Kind::Symlink
        } else {
            skipped += 1;
            continue;
        };
        let mut e = FileEntry {
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
            digest: String::new(),
            link: String::new(),
        };
        match kind {
            Kind::File => {
                e.size = md.len();
                e.mtime = md.mtime();
                e.mtime_nsec = md.mtime_nsec() as u32;
            }
            Kind::Symlink => {
                let target = std::fs::read_link(entry.path())?;
                e.link = target
                    .to_str()
                    .with_context(|| {
                        format!("{}: link target is not UTF-8", entry.path().display())
                    })?
                    .to_string();
            }
            Kind::Dir => {}
        }
        if let Some(before) = previous.get(rel) {
            if e.kind == Kind::File && e.same_as(before) {
                e.digest = before.digest.clone();
            }
        }
        index.insert(rel.to_string(), e);
    }
    Ok((index, skipped))
}

/// What a delta layer from `before` to `now` holds: the paths to write
/// (new or changed) and the paths to delete (whiteouts, top-most only).
pub fn changes(before: &Index, now: &Index) -> (Vec<String>, Vec<String>) {
    let write: Vec<String> = now
        .iter()
        .filter(|(p, e)| {
            before
                .get(*p)
                .is_none_or(|b| !e.same_as(b) || (e.kind == Kind::File && e.digest.is_empty()))
        })
        .map(|(p, _)| p.clone())
        .collect();
    let delete: Vec<String> = before
        .keys()
        .filter(|p| !now.contains_key(*p))
        .filter(|p| match p.rsplit_once('/') {
            // A parent that is still a dir keeps its other children; a
            // parent that went, or became a file, takes the child with it.
            Some((parent, _)) => matches!(
                (now.get(parent), before.get(parent)),
                (Some(n), Some(b)) if n.kind == Kind::Dir && b.kind == Kind::Dir
            ),
            None => true,
        })
        .cloned()
        .collect();
    (write, delete)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64, mtime: i64) -> FileEntry {
        FileEntry {
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime,
            mtime_nsec: 0,
            digest: "sha256:x".into(),
            link: String::new(),
        }
    }

    fn dir() -> FileEntry {
        FileEntry {
            kind: Kind::Dir,
            size: 0,
            mtime: 0,
            digest: String::new(),
            ..file(0, 0)
        }
    }

    #[test]
    fn changes_write_the_changed_and_whiteout_the_topmost_deleted() {
        let before: Index = [
            ("a".to_string(), dir()),
            ("a/x".to_string(), file(1, 1)),
            ("a/y".to_string(), file(1, 1)),
            ("gone".to_string(), dir()),
            ("gone/z".to_string(), file(1, 1)),
            ("became-file".to_string(), dir()),
            ("became-file/w".to_string(), file(1, 1)),
        ]
        .into_iter()
        .collect();
        let now: Index = [
            ("a".to_string(), dir()),
            ("a/x".to_string(), file(1, 1)),
            ("a/new".to_string(), file(2, 2)),
            ("became-file".to_string(), file(3, 3)),
        ]
        .into_iter()
        .collect();
        let (write, delete) = changes(&before, &now);
        assert_eq!(write, vec!["a/new", "became-file"]);
        assert_eq!(delete, vec!["a/y", "gone"]);
        let mut touched = now.clone();
        touched.get_mut("a/x").unwrap().mtime = 9;
        assert_eq!(changes(&now, &touched).0, vec!["a/x"]);
        assert_eq!(changes(&now, &now), (vec![], vec![]));
    }
}
