//! Pruning build cache: step records and cache mounts, all of them or the
//! least recently used beyond a size budget, then the blobs and snapshots
//! nothing references any more.
//!
//! The store does not know the engine's record format: the caller lists
//! the entries (what each roots and which files are its own) from inside
//! the exclusive GC lock, so no build can be writing a record, using a
//! cache mount or looking a record up while entries are chosen and removed.
//!
//! An entry's disk usage is what removing it could free: its own files
//! (record, roots file, mount dir) plus the blobs and snapshot dirs it
//! roots that neither a tagged image, another roots file, nor an entry
//! already kept needs
//! (shared data is counted once, by the most recently used entry).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Result;

use super::digest::Digest;
use super::gc::{GcRoots, PruneReport};
use super::Store;

/// What a cache entry is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// A step-cache record.
    Step,
    /// A `RUN --mount=type=cache` directory.
    Mount,
}

/// One unit of build cache, as the owner of its format describes it.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// Step record or cache mount.
    pub kind: CacheKind,
    /// A name for the report (record key, mount id).
    pub id: String,
    /// When it was last used; the least recently used go first.
    pub last_used: SystemTime,
    /// Digests it keeps alive, each as a blob and as a snapshot diffID,
    /// exactly as GC reads a roots file.
    pub roots: Vec<Digest>,
    /// Files and dirs that are this entry's alone, removed in this order
    /// (a record before its roots file, so it is never usable without them).
    pub paths: Vec<PathBuf>,
}

/// Which entries to remove.
#[derive(Debug, Clone, Default)]
pub struct CachePolicy {
    /// Keep the most recently used entries whose cumulative usage fits in
    /// this many bytes; `None` removes every candidate.
    pub keep_bytes: Option<u64>,
    /// Only entries unused for longer than this are candidates.
    pub unused_for: Option<Duration>,
}

/// What a cache prune removed and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePruneReport {
    /// Removed entries, least recently used first: (kind, id).
    pub removed: Vec<(CacheKind, String)>,
    /// Entries kept.
    pub kept: usize,
    /// Disk usage of the kept entries, as counted against the budget.
    pub kept_bytes: u64,
    /// Bytes freed: the entries' own files plus the GC below.
    pub bytes_freed: u64,
    /// The blob/snapshot GC that ran after the entries went.
    pub gc: PruneReport,
}

/// An entry with its usage, during selection.
struct Sized {
    entry: CacheEntry,
    protected: bool,
}

impl Store {
    /// Removes build cache entries per `policy`, then unreferenced blobs and
    /// snapshots. `list` runs under the exclusive GC lock (no other builder
    /// process has the store open then) and returns every cache entry.
    pub fn prune_cache<F>(&self, list: F, policy: &CachePolicy) -> Result<CachePruneReport>
    where
        F: FnOnce(&Store) -> Result<Vec<CacheEntry>>,
    {
        self.gc_lock.upgrade()?;
        let result = list(self).and_then(|entries| self.prune_cache_locked(entries, policy));
        self.gc_lock.downgrade()?;
        result
    }

    fn prune_cache_locked(
        &self,
        entries: Vec<CacheEntry>,
        policy: &CachePolicy,
    ) -> Result<CachePruneReport> {
        let now = SystemTime::now();
        // What stays whatever happens to the entries: tags, and roots files
        // that are no entry's (another owner's, e.g. imported cache).
        let entry_paths: HashSet<PathBuf> = entries
            .iter()
            .flat_map(|e| e.paths.iter().cloned())
            .collect();
        let (mut kept_blobs, mut kept_snaps) =
            self.reachable_from(&GcRoots::default(), &entry_paths)?;
        let mut sized: Vec<Sized> = entries
            .into_iter()
            .map(|entry| {
                let idle = now.duration_since(entry.last_used).unwrap_or_default();
                let protected = policy.unused_for.is_some_and(|d| idle <= d);
                Sized { entry, protected }
            })
            .collect();
        // Protected entries stay whatever the budget says, so they take
        // their share of it first; then the most recently used.
        sized.sort_by(|a, b| {
            b.protected
                .cmp(&a.protected)
                .then(b.entry.last_used.cmp(&a.entry.last_used))
        });
        let mut report = CachePruneReport::default();
        let mut remove = Vec::new();
        for s in sized {
            let keep = if s.protected {
                true
            } else if let Some(budget) = policy.keep_bytes {
                let usage = self.marginal_usage(&s.entry, &kept_blobs, &kept_snaps);
                report.kept_bytes + usage <= budget
            } else {
                false
            };
            if keep {
                report.kept_bytes += self.marginal_usage(&s.entry, &kept_blobs, &kept_snaps);
                report.kept += 1;
                kept_blobs.extend(s.entry.roots.iter().cloned());
                kept_snaps.extend(s.entry.roots.iter().cloned());
            } else {
                remove.push(s.entry);
            }
        }
        // Least recently used first, so an interrupted prune has dropped
        // the oldest.
        remove.reverse();
        for e in remove {
            for p in &e.paths {
                if fs::symlink_metadata(p).is_ok() {
                    report.bytes_freed += disk_usage(p);
                    self.remove_atomically(p)?;
                }
            }
            report.removed.push((e.kind, e.id));
        }
        report.gc = self.prune_locked(&GcRoots::default())?;
        report.bytes_freed += report.gc.bytes_freed;
        Ok(report)
    }

    /// Bytes `entry` holds beyond what `blobs`/`snaps` already keep.
    fn marginal_usage(
        &self,
        entry: &CacheEntry,
        blobs: &HashSet<Digest>,
        snaps: &HashSet<Digest>,
    ) -> u64 {
        let mut total: u64 = entry.paths.iter().map(|p| disk_usage(p)).sum();
        let mut seen = HashSet::new();
        for d in &entry.roots {
            if !seen.insert(d) {
                continue;
            }
            if !blobs.contains(d) {
                total += self.blob_size(d).unwrap_or(0);
            }
            if !snaps.contains(d) {
                let p = self.snapshot_path(d);
                if p.is_dir() {
                    total += disk_usage(&p);
                }
            }
        }
        total
    }
}

/// Apparent size of a file, or of every file under a dir (hard links
/// counted once); 0 for what cannot be read.
pub(super) fn disk_usage(path: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    for e in walkdir::WalkDir::new(path).into_iter().flatten() {
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            continue;
        }
        if meta.nlink() > 1 && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total += meta.len();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::descriptor::{Descriptor, OCI_MANIFEST};
    use super::*;

    /// An entry with a one-byte file of its own and a roots file naming
    /// `roots` (72 bytes a digest), as the step cache lays them out.
    fn entry(s: &Store, id: &str, age_secs: u64, roots: Vec<Digest>) -> CacheEntry {
        let own = s.cache_dir().join(format!("own-{id}"));
        fs::write(&own, b"r").unwrap();
        let text: String = roots.iter().map(|d| format!("{d}\n")).collect();
        let roots_file = s.cache_dir().join("roots").join(format!("test-{id}"));
        fs::write(&roots_file, text).unwrap();
        CacheEntry {
            kind: CacheKind::Step,
            id: id.to_string(),
            last_used: SystemTime::now() - Duration::from_secs(age_secs),
            roots,
            paths: vec![own, roots_file],
        }
    }

    fn ids(r: &CachePruneReport) -> Vec<&str> {
        r.removed.iter().map(|(_, id)| id.as_str()).collect()
    }

    #[test]
    fn keeps_most_recent_within_budget_counting_shared_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let shared = s.put_blob_bytes(&[1u8; 1000], None).unwrap();
        let a_only = s.put_blob_bytes(&[2u8; 500], None).unwrap();
        let old_only = s.put_blob_bytes(&[3u8; 900], None).unwrap();
        fs::create_dir_all(s.snapshot_path(&shared)).unwrap();
        fs::write(s.snapshot_path(&shared).join("f"), [0u8; 300]).unwrap();
        let list = |s: &Store| {
            Ok(vec![
                entry(s, "old", 300, vec![shared.clone(), old_only.clone()]),
                entry(s, "a", 10, vec![shared.clone(), a_only.clone()]),
                // Only shared data: costs just its own files once "a" is kept.
                entry(s, "b", 20, vec![shared.clone()]),
            ])
        };
        // a = 1 + 144 + 1000 + 300 + 500 = 1945; then b = 1 + 72 = 73;
        // then old = 1 + 144 + 900 = 1045, over the budget.
        let r = s
            .prune_cache(
                list,
                &CachePolicy {
                    keep_bytes: Some(2100),
                    unused_for: None,
                },
            )
            .unwrap();
        assert_eq!(ids(&r), vec!["old"]);
        assert_eq!((r.kept, r.kept_bytes), (2, 2018));
        assert!(s.has_blob(&shared) && s.has_blob(&a_only) && !s.has_blob(&old_only));
        assert!(s.snapshot_path(&shared).is_dir());
        assert!(!s.cache_dir().join("own-old").exists());
        assert_eq!(r.bytes_freed, 1045);

        // A budget below what each needs alone keeps nothing.
        let list = |s: &Store| {
            Ok(vec![
                entry(s, "a", 10, vec![shared.clone(), a_only.clone()]),
                entry(s, "b", 20, vec![shared.clone()]),
            ])
        };
        let policy = CachePolicy {
            keep_bytes: Some(1000),
            unused_for: None,
        };
        let r = s.prune_cache(list, &policy).unwrap();
        assert_eq!((ids(&r), r.kept), (vec!["b", "a"], 0));
        assert!(!s.has_blob(&shared) && !s.snapshot_path(&shared).exists());
        assert_eq!(r.bytes_freed, 645 + 73 + 1300);
    }

    #[test]
    fn until_protects_recent_entries_and_tags_always_survive() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let cached = s.put_blob_bytes(b"cached layer", None).unwrap();
        let layer = s.put_blob_bytes(b"tagged layer", None).unwrap();
        fs::create_dir_all(s.snapshot_path(&layer)).unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{layer}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":12}}]}}"#
        );
        let m = s.put_blob_bytes(manifest.as_bytes(), None).unwrap();
        s.set_tag(
            "t:1",
            &Descriptor::new(OCI_MANIFEST, m.clone(), manifest.len() as u64),
        )
        .unwrap();
        let list = |s: &Store| {
            Ok(vec![
                entry(s, "fresh", 5, vec![cached.clone()]),
                entry(s, "stale", 7200, vec![layer.clone()]),
            ])
        };
        let policy = CachePolicy {
            keep_bytes: None,
            unused_for: Some(Duration::from_secs(3600)),
        };
        let r = s.prune_cache(list, &policy).unwrap();
        assert_eq!(ids(&r), vec!["stale"]);
        assert!(s.has_blob(&cached), "the kept entry's roots stay");
        assert!(s.has_blob(&layer) && s.has_blob(&m), "tagged data stays");

        let list = |s: &Store| Ok(vec![entry(s, "fresh", 5, vec![cached.clone()])]);
        let r = s.prune_cache(list, &Default::default()).unwrap();
        assert_eq!(ids(&r), vec!["fresh"]);
        assert!(!s.has_blob(&cached));
        assert!(s.has_blob(&layer) && s.has_blob(&m), "tagged data stays");
        assert_eq!(s.list_images().unwrap().len(), 1);
    }
}
