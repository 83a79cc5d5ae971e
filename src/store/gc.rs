//! Garbage collection: delete blobs and snapshots nothing references.
//!
//! Roots are the tags in `index.json`, the digests listed in files under
//! `ROOT/cache/roots/` (the step cache's hook: one digest per line, kept as
//! a blob and as a snapshot diffID), and any extra [`GcRoots`] the caller
//! passes. From each manifest the walk keeps its config and layers, from
//! each index its children, and from each config its `rootfs.diff_ids`
//! snapshots. GC runs under the exclusive store lock, so no other process
//! is mid-write; everything in `ROOT/tmp` but the pruner's own temp area is
//! then stale and removed too, as are `.tmp*` files of atomic writes that
//! older builders made beside their targets (`ROOT`, `ROOT/cache/…`).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use super::descriptor::{is_index, is_manifest};
use super::digest::Digest;
use super::fsutil::remove_all;
use super::Store;

/// Extra digests to keep.
#[derive(Debug, Clone, Default)]
pub struct GcRoots {
    /// Blobs to keep (and, if they are manifests/indexes, what they reference).
    pub blobs: Vec<Digest>,
    /// Snapshots to keep, by diffID.
    pub snapshots: Vec<Digest>,
}

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Blobs deleted.
    pub blobs_removed: usize,
    /// Snapshot dirs deleted.
    pub snapshots_removed: usize,
    /// Stale temp entries deleted.
    pub temp_removed: usize,
    /// Bytes freed by deleted blobs and snapshot dirs (their files' sizes).
    pub bytes_freed: u64,
}

fn digests_in_file(path: &Path) -> Result<Vec<Digest>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Digest::parse(l).with_context(|| format!("in GC roots file {}", path.display())))
        .collect()
}

impl Store {
    /// Computes the set of blobs and snapshot diffIDs reachable from the
    /// tags, `extra` and the files in `ROOT/cache/roots/` except `ignore`.
    pub(super) fn reachable_from(
        &self,
        extra: &GcRoots,
        ignore: &HashSet<PathBuf>,
    ) -> Result<(HashSet<Digest>, HashSet<Digest>)> {
        let mut blobs = HashSet::new();
        let mut snaps: HashSet<Digest> = extra.snapshots.iter().cloned().collect();
        let mut todo: Vec<(Digest, Option<String>)> =
            extra.blobs.iter().map(|d| (d.clone(), None)).collect();
        for img in self.list_images()? {
            todo.push((img.descriptor.digest, Some(img.descriptor.media_type)));
        }
        let roots_dir = self.cache_dir().join("roots");
        if roots_dir.is_dir() {
            for e in fs::read_dir(&roots_dir)
                .with_context(|| format!("listing {}", roots_dir.display()))?
            {
                let p = e?.path();
                if p.is_file() && !ignore.contains(&p) && !is_temp(&p) {
                    for d in digests_in_file(&p)? {
                        snaps.insert(d.clone());
                        todo.push((d, None));
                    }
                }
            }
        }
        while let Some((d, media_type)) = todo.pop() {
            if !blobs.insert(d.clone()) || !self.has_blob(&d) {
                continue;
            }
            // Only small JSON documents are parsed: descriptors say what
            // they are; untyped roots are sniffed if they are small.
            let looks_json = match &media_type {
                Some(mt) => {
                    is_manifest(mt)
                        || is_index(mt)
                        || mt.ends_with("+json")
                        || mt.ends_with(".json")
                }
                None => self.blob_size(&d)? < 4 << 20,
            };
            if !looks_json {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<Value>(&self.read_blob(&d)?) else {
                continue;
            };
            let child = |x: &Value| -> Option<(Digest, Option<String>)> {
                let dg = Digest::parse(x.get("digest")?.as_str()?).ok()?;
                let mt = x
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Some((dg, mt))
            };
            if let Some(ms) = v.get("manifests").and_then(Value::as_array) {
                todo.extend(ms.iter().filter_map(child));
            }
            if let Some(c) = v.get("config").and_then(child) {
                todo.push(c);
            }
            if let Some(ls) = v.get("layers").and_then(Value::as_array) {
                // Layers are never parsed, so mark them without a media type
                // that would make us read them.
                for l in ls.iter().filter_map(child) {
                    blobs.insert(l.0);
                }
            }
            if let Some(ids) = v.pointer("/rootfs/diff_ids").and_then(Value::as_array) {
                snaps.extend(ids.iter().filter_map(|x| Digest::parse(x.as_str()?).ok()));
            }
        }
        Ok((blobs, snaps))
    }

    /// Removes `path` (a snapshot or cache mount dir, a record file) so
    /// that it is either whole at its name or gone, whenever this process
    /// is killed: it is renamed into this store's temp area first (same
    /// filesystem: atomic), the rename is made durable, and only then is
    /// the tree deleted there. What a killed process leaves in its area is
    /// removed by the next builder command (see `tmp`).
    pub(super) fn remove_atomically(&self, path: &Path) -> Result<()> {
        let parent = path
            .parent()
            .with_context(|| format!("{} has no parent directory", path.display()))?;
        let trash = tempfile::Builder::new()
            .prefix("trash-")
            .tempdir_in(self.temp_dir()?)
            .context("creating a trash dir in the store's temp area")?
            .keep();
        let dest = trash.join("x");
        fs::rename(path, &dest)
            .with_context(|| format!("moving {} out of the store", path.display()))?;
        super::fsutil::sync_dir(parent)?;
        remove_all(&trash)
    }

    /// Deletes unreferenced blobs, snapshots and stale temp files. Waits for
    /// other builder processes using this store to finish first.
    pub fn prune(&self, extra: &GcRoots) -> Result<PruneReport> {
        self.gc_lock.upgrade()?;
        let result = self.prune_locked(extra);
        self.gc_lock.downgrade()?;
        result
    }

    /// [`Store::prune`] for a caller that already holds the exclusive lock.
    pub(super) fn prune_locked(&self, extra: &GcRoots) -> Result<PruneReport> {
        let (blobs, mut snaps) = self.reachable_from(extra, &HashSet::new())?;
        let mut report = PruneReport::default();
        let (deltas, freed) = self.keep_delta_bases(&mut snaps)?;
        report.snapshots_removed += deltas;
        report.bytes_freed += freed;
        let blob_dir = self.root.join("blobs/sha256");
        for e in
            fs::read_dir(&blob_dir).with_context(|| format!("listing {}", blob_dir.display()))?
        {
            let e = e?;
            let name = e.file_name();
            let keep = Digest::from_hex(&name.to_string_lossy())
                .map(|d| blobs.contains(&d))
                .unwrap_or(false);
            if !keep {
                report.bytes_freed += e.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(e.path())
                    .with_context(|| format!("removing {}", e.path().display()))?;
                report.blobs_removed += 1;
            }
        }
        let snap_dir = self.root.join("snapshots");
        for e in
            fs::read_dir(&snap_dir).with_context(|| format!("listing {}", snap_dir.display()))?
        {
            let e = e?;
            let keep = Digest::from_hex(&e.file_name().to_string_lossy())
                .map(|d| snaps.contains(&d))
                .unwrap_or(false);
            if !keep {
                report.bytes_freed += super::cache_prune::disk_usage(&e.path());
                self.remove_atomically(&e.path())?;
                report.snapshots_removed += 1;
            }
        }
        // No other builder has the store open: every temp area but ours is
        // dead, and so is anything else in ROOT/tmp.
        report.temp_removed += super::tmp::reclaim(&self.tmp_root(), self.area.made(), true)?;
        // Torn atomic writes of builders that wrote their temp files beside
        // the target (a crash before the rename).
        for dir in [
            self.root.clone(),
            self.cache_dir(),
            self.cache_dir().join("roots"),
            self.cache_dir().join("steps"),
            self.cache_dir().join("compressed"),
        ] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries {
                let p = e?.path();
                if is_temp(&p) {
                    remove_all(&p)?;
                    report.temp_removed += 1;
                }
            }
        }
        Ok(report)
    }
}

/// A temp file of an atomic write, not yet renamed (`.tmp-…`, or `.tmp…`
/// as `tempfile` names them by default).
fn is_temp(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(".tmp"))
}

#[cfg(test)]
mod tests {
    use super::super::descriptor::{Descriptor, OCI_MANIFEST};
    use super::*;

    #[test]
    fn prune_keeps_reachable() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let layer = s.put_blob_bytes(b"layer", None).unwrap();
        let diff = Digest::of(b"diff");
        let config = s
            .put_blob_bytes(
                format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#).as_bytes(),
                None,
            )
            .unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":5}}]}}"#
        );
        let m = s.put_blob_bytes(manifest.as_bytes(), None).unwrap();
        s.set_tag(
            "a:1",
            &Descriptor::new(OCI_MANIFEST, m.clone(), manifest.len() as u64),
        )
        .unwrap();
        let junk = s.put_blob_bytes(b"junk", None).unwrap();
        let cached = s.put_blob_bytes(b"cached", None).unwrap();
        fs::write(s.cache_dir().join("roots/steps"), format!("{cached}\n")).unwrap();
        fs::create_dir_all(s.snapshot_path(&diff)).unwrap();
        fs::create_dir_all(s.snapshot_path(&junk).join("ro")).unwrap();
        fs::write(s.root().join("tmp/blob-stale"), b"x").unwrap();
        fs::write(s.root().join(".tmp-index"), b"x").unwrap();
        let r = s.prune(&GcRoots::default()).unwrap();
        assert_eq!(
            (r.blobs_removed, r.snapshots_removed, r.temp_removed),
            (1, 1, 2)
        );
        for d in [&layer, &config, &m, &cached] {
            assert!(s.has_blob(d), "{d} removed");
        }
        assert!(!s.has_blob(&junk));
        assert!(s.snapshot_path(&diff).is_dir());
        assert!(s.tmp_dir().is_dir(), "prune removed its own temp area");
        s.remove_tag("a:1").unwrap();
        let r = s
            .prune(&GcRoots {
                blobs: vec![layer.clone()],
                snapshots: vec![],
            })
            .unwrap();
        assert_eq!(r.blobs_removed, 2);
        assert!(s.has_blob(&layer) && !s.has_blob(&m));
    }
}
