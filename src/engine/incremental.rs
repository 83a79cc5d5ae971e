//! Incremental snapshots: the snapshot of a COPY/ADD layer is made from the
//! snapshot of the same step's previous result when one exists, linking
//! every unchanged file instead of writing it (see `layer::reuse`).
//!
//! A COPY/ADD step's *family* is its cache key without the sources' content
//! (the context digest, the `--from` stage's key, a URL nonce): the same
//! instruction, destination, options and parent. `ROOT/cache/similar/<family>`
//! names the diffID of the last layer of that family whose snapshot was made
//! (written atomically, after the snapshot exists). When a later step needs
//! the snapshot of a new layer of the family, the layer tar is extracted over
//! that snapshot: the work is proportional to the change, and the result is
//! the extraction's, file for file. The hint is only a hint: a missing or
//! pruned snapshot means a plain extraction.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::state::LayerRef;
use crate::layer::ReuseStats;
use crate::store::{Digest, Store};

fn hints_dir(store: &Store) -> PathBuf {
    store.cache_dir().join("similar")
}

/// The diffID and snapshot dir of the family's last snapshotted layer, if
/// that snapshot is still in the store.
pub fn base_snapshot(store: &Store, family: &str) -> Option<(Digest, PathBuf)> {
    let text = std::fs::read_to_string(hints_dir(store).join(family)).ok()?;
    let diff_id = Digest::parse(text.trim()).ok()?;
    let path = store.snapshot_path(&diff_id);
    path.is_dir().then_some((diff_id, path))
}

/// Records `diff_id` (whose snapshot exists) as the family's latest.
pub fn remember(store: &Store, family: &str, diff_id: &Digest) -> Result<()> {
    let dir = hints_dir(store);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    store.write_file(&dir.join(family), diff_id.to_string().as_bytes(), 0o644)
}

/// Removes the hints whose snapshot is gone (after `prune`); returns how
/// many. A hint removed while a build rewrites it only costs that build's
/// next step a plain extraction.
pub fn forget_dangling(store: &Store) -> usize {
    let Ok(entries) = std::fs::read_dir(hints_dir(store)) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.starts_with('.') && base_snapshot(store, &name).is_none()
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// The snapshot dir of `layer`, extracted over `base` when given (see
/// `layer::reuse`); the stats are `None` when the snapshot was already there.
pub fn ensure_snapshot_over(
    store: &Store,
    layer: &LayerRef,
    base: Option<&Path>,
) -> Result<(PathBuf, Option<ReuseStats>)> {
    let mut stats = None;
    let mut extract = |input: &mut dyn std::io::Read, dest: &Path| -> Result<()> {
        let opts = crate::layer::ExtractOptions::default();
        let done = match base {
            Some(base) => crate::layer::extract_over(input, dest, &opts, base)?,
            None => crate::layer::extract(input, dest, &opts)?,
        };
        stats = base.map(|_| done.reuse);
        Ok(())
    };
    let path = store
        .ensure_snapshot(&layer.diff_id, &layer.blob.digest, &mut extract)
        .with_context(|| format!("preparing the snapshot of layer {}", layer.diff_id))?;
    Ok((path, stats))
}

/// The progress line for a snapshot made over the one of `base`.
pub fn describe(stats: &ReuseStats, base: &Digest) -> String {
    format!(
        "snapshot: incremental ({} files linked from {}, {} written)",
        stats.linked,
        short(base),
        stats.written
    )
}

fn short(d: &Digest) -> String {
    let s = d.to_string();
    s.chars().take(19).collect()
}

impl super::Shared {
    /// Notes that `diff_id` is the layer of a COPY/ADD step of `family`.
    pub(crate) fn note_family(&self, diff_id: &Digest, family: String) {
        self.families
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(diff_id.clone(), family);
    }

    /// The snapshot dir of `layer`, made over its family's previous snapshot
    /// when it is a COPY/ADD layer of this build that is not there yet.
    pub(crate) fn snapshot(&self, layer: &LayerRef) -> Result<PathBuf> {
        let family = self
            .families
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&layer.diff_id)
            .cloned();
        let store = &self.store;
        let Some(family) = family else {
            return super::state::ensure_snapshot(store, layer);
        };
        let hinted = base_snapshot(store, &family);
        let current = hinted.as_ref().is_some_and(|(d, _)| *d == layer.diff_id);
        let base = hinted.filter(|_| !current);
        let (path, stats) =
            ensure_snapshot_over(store, layer, base.as_ref().map(|b| b.1.as_path()))?;
        if let (Some(stats), Some((base, _))) = (stats, &base) {
            let id = self
                .progress
                .start(format!("snapshot of layer {}", short(&layer.diff_id)));
            self.progress.log(id, describe(&stats, base));
            self.progress.done(id, false);
        }
        if !current {
            // Best effort: without the hint the next change extracts in full.
            let _ = remember(store, &family, &layer.diff_id);
        }
        Ok(path)
    }
}
