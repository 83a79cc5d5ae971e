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
use crate::store::{Digest, LayerTar, Store, MAX_DELTA_DEPTH};

fn hints_dir(store: &Store) -> PathBuf {
    store.cache_dir().join("similar")
}

/// The hint names of `family`, most specific first: a COPY from a context is
/// `<family>.<context dir id>` (its own project's last layer), then `<family>` (the
/// same COPY in any context dir: a fresh clone elsewhere, another branch's checkout).
fn candidates(family: &str) -> impl Iterator<Item = &str> {
    let shared = family.split_once('.').map(|(f, _)| f);
    std::iter::once(family).chain(shared)
}

/// Writes `diff_id` under every hint name of `family` in `dir`.
fn write_hints(store: &Store, dir: &Path, family: &str, diff_id: &Digest) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for name in candidates(family) {
        store.write_file(&dir.join(name), diff_id.to_string().as_bytes(), 0o644)?;
    }
    Ok(())
}

/// The family's last snapshotted layer: its diffID, and the diffID, dir and
/// delta depth of the full snapshot it is (depth 0) or is a delta over, if
/// that is still in the store.
pub fn base_snapshot(store: &Store, family: &str) -> Option<(Digest, (Digest, PathBuf, u32))> {
    candidates(family).find_map(|name| base_snapshot_named(store, name))
}

fn base_snapshot_named(store: &Store, family: &str) -> Option<(Digest, (Digest, PathBuf, u32))> {
    let text = std::fs::read_to_string(hints_dir(store).join(family)).ok()?;
    let diff_id = Digest::parse(text.trim()).ok()?;
    let path = store.snapshot_path(&diff_id);
    if path.is_dir() {
        return Some((diff_id.clone(), (diff_id, path, 0)));
    }
    let d = store.delta(&diff_id)?;
    let path = store.snapshot_path(&d.base);
    Some((diff_id, (d.base, path, d.depth)))
}

/// Where the family's last written layer is named (any layer a COPY wrote, snapshot or not).
fn written_dir(store: &Store) -> PathBuf {
    store.cache_dir().join("similar-written")
}

/// The family's last layer whose plain tar is in the store: the last one written, else the
/// last one snapshotted. A COPY takes the contents it shares with it from there (see
/// `layer::PreviousLayer`).
pub fn previous_layer(store: &Store, family: &str) -> Option<Digest> {
    let read = |dir: PathBuf, name: &str| {
        let text = std::fs::read_to_string(dir.join(name)).ok()?;
        Digest::parse(text.trim())
            .ok()
            .filter(|d| store.has_blob(d))
    };
    candidates(family)
        .find_map(|name| read(written_dir(store), name).or_else(|| read(hints_dir(store), name)))
}

/// Records `diff_id` (just written into the store) as the family's last written layer.
pub fn remember_written(store: &Store, family: &str, diff_id: &Digest) -> Result<()> {
    write_hints(store, &written_dir(store), family, diff_id)
}

/// Records `diff_id` (whose snapshot exists) as the family's latest.
pub fn remember(store: &Store, family: &str, diff_id: &Digest) -> Result<()> {
    write_hints(store, &hints_dir(store), family, diff_id)
}

/// Removes the hints whose snapshot is gone (after `prune`); returns how
/// many. A hint removed while a build rewrites it only costs that build's
/// next step a plain extraction.
pub fn forget_dangling(store: &Store) -> usize {
    let dangling = |dir: PathBuf, gone: &dyn Fn(&str) -> bool| {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !name.starts_with('.') && gone(&name)
            })
            .filter(|e| std::fs::remove_file(e.path()).is_ok())
            .count()
    };
    let written_gone = |name: &str| {
        let text = std::fs::read_to_string(written_dir(store).join(name)).unwrap_or_default();
        Digest::parse(text.trim()).map_or(true, |d| !store.has_blob(&d))
    };
    dangling(hints_dir(store), &|name| {
        base_snapshot(store, name).is_none()
    }) + dangling(written_dir(store), &written_gone)
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
        // The store hashes the stream on another core (`extract_checked`).
        let opts = crate::layer::ExtractOptions {
            unhashed: true,
            ..Default::default()
        };
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

/// The progress line for a snapshot made as a delta over the one of `base`.
pub fn describe_delta(stats: &ReuseStats, base: &Digest) -> String {
    format!(
        "snapshot: delta over {} ({} files unchanged, {} written, {} whiteouts, {} dirs left, \
         by the {})",
        short(base),
        stats.linked,
        stats.written,
        stats.whiteouts,
        stats.dirs_left,
        if stats.from_tars { "tars" } else { "files" }
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

    /// The lower dirs that show `layer`'s tree, top first: its snapshot dir,
    /// or a delta over a similar layer's snapshot when it is a COPY/ADD layer
    /// of this build and delta lowers are allowed (`delta`), else a snapshot
    /// made over its family's previous one.
    pub(crate) fn snapshot_stack(&self, layer: &LayerRef, delta: bool) -> Result<Vec<PathBuf>> {
        let family = self
            .families
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&layer.diff_id)
            .cloned();
        let store = &self.store;
        let full = store.snapshot_path(&layer.diff_id);
        let Some(family) = family.filter(|_| !full.is_dir()) else {
            return Ok(vec![super::state::ensure_snapshot(store, layer)?]);
        };
        if let Some(d) = store.delta(&layer.diff_id).filter(|_| delta) {
            return Ok(vec![d.tree, store.snapshot_path(&d.base)]);
        }
        let hinted = base_snapshot(store, &family);
        let current = hinted.as_ref().is_some_and(|(d, _)| *d == layer.diff_id);
        let base = hinted.filter(|_| !current).map(|h| h.1);
        // A step on the progress display only when there is a base to work
        // over (a delta or a clone): a plain extraction is not a build step
        // (BuildKit shows none either).
        let id = base.as_ref().map(|_| {
            self.progress
                .start(format!("snapshot of layer {}", short(&layer.diff_id)))
        });
        let log = |line: String| {
            if let Some(id) = id {
                self.progress.log(id, line);
            }
        };
        let stack = match &base {
            Some((base, dir, depth)) if delta && *depth < MAX_DELTA_DEPTH => {
                match make_delta(store, layer, (base, *depth + 1)) {
                    Ok((d, stats)) => {
                        log(describe_delta(&stats, base));
                        Some(vec![d.tree, dir.clone()])
                    }
                    Err(e) => {
                        log(format!("snapshot: no delta ({e:#}), cloning instead"));
                        None
                    }
                }
            }
            _ => None,
        };
        let stack = match stack {
            Some(s) => s,
            None => {
                let base_dir = base.as_ref().map(|b| b.1.as_path());
                let (path, stats) = ensure_snapshot_over(store, layer, base_dir)?;
                if let (Some(stats), Some((base, _, _))) = (stats, &base) {
                    log(describe(&stats, base));
                }
                vec![path]
            }
        };
        if let Some(id) = id {
            self.progress.done(id, false);
        }
        if !current {
            // Best effort: without the hint the next change extracts in full.
            let _ = remember(store, &family, &layer.diff_id);
        }
        Ok(stack)
    }
}

/// Makes the delta of `layer` over the full snapshot of `base` (see
/// `layer::extract_delta`).
fn make_delta(
    store: &Store,
    layer: &LayerRef,
    base: (&Digest, u32),
) -> Result<(crate::store::DeltaSnapshot, ReuseStats)> {
    let mut stats = ReuseStats::default();
    let (base_id, _) = base;
    let mut extract = |tar: LayerTar<'_>, dest: &Path, base: &Path| -> Result<()> {
        // The store hashes the layer on another core meanwhile.
        let opts = crate::layer::ExtractOptions {
            unhashed: true,
            ..Default::default()
        };
        // Without a plan (the base's tar is not in the store, or a tar is not in the
        // writers' order) the files are compared with the base snapshot's instead.
        stats = match tar {
            LayerTar::Mapped(tar) => match plan_mapped(store, tar, base_id) {
                Ok(plan) => {
                    worth_a_delta(&plan)?;
                    crate::layer::extract_delta_mapped(tar, dest, base, plan)?
                }
                Err(_) => {
                    let input = crate::layer::MappedTar::new(tar);
                    crate::layer::extract_delta(input, dest, &opts, base, None)?.reuse
                }
            },
            LayerTar::Stream(input) => {
                let plan = plan(store, layer, base_id).ok();
                if let Some(plan) = &plan {
                    worth_a_delta(plan)?;
                }
                crate::layer::extract_delta(input, dest, &opts, base, plan)?.reuse
            }
        };
        Ok(())
    };
    let d = store
        .ensure_delta(&layer.diff_id, &layer.blob.digest, base, &mut extract)
        .with_context(|| format!("making the delta snapshot of layer {}", layer.diff_id))?;
    Ok((d, stats))
}

/// Errors when a delta would rewrite most of the layer (every mtime touched, a new
/// dependency tree): it would cost a full extraction now, and every later delta over the
/// same base would rewrite all that again. The caller then makes a full snapshot (the
/// hard-link clone), which later deltas build on.
fn worth_a_delta(plan: &crate::layer::DeltaPlan) -> Result<()> {
    let (rewrites, files) = (plan.rewrites(), plan.files());
    if rewrites > DELTA_MAX_SMALL_REWRITE && rewrites * 2 > files {
        anyhow::bail!("{rewrites} of {files} files changed");
    }
    Ok(())
}

/// Rewrites any delta may make: below this, a delta is cheaper than a clone whatever the
/// layer's size.
const DELTA_MAX_SMALL_REWRITE: usize = 64;

/// [`plan`] of the new layer's tar in memory against the base's tar, mapped.
fn plan_mapped(
    store: &Store,
    tar: &memmap2::Mmap,
    base: &Digest,
) -> Result<crate::layer::DeltaPlan> {
    by_files_asked()?;
    crate::layer::plan_delta_mapped(tar, &store.map_blob(base)?)
}

/// `BUILDER_DELTA_BY_FILES=1` compares with the base snapshot's files instead (the way
/// before plans; kept to measure against and as a way out).
fn by_files_asked() -> Result<()> {
    if std::env::var_os("BUILDER_DELTA_BY_FILES").is_some_and(|v| v == "1") {
        anyhow::bail!("BUILDER_DELTA_BY_FILES=1");
    }
    Ok(())
}

/// What the delta of `layer` over the snapshot of `base` holds, from the two layer tars
/// (see `layer::plan_delta`). The base's tar is the blob named by its diffID (a layer this
/// store built or pulled uncompressed); the new layer's blob may be compressed.
fn plan(store: &Store, layer: &LayerRef, base: &Digest) -> Result<crate::layer::DeltaPlan> {
    use std::io::BufReader;
    by_files_asked()?;
    let buf = 256 * 1024;
    let new = BufReader::with_capacity(buf, store.open_blob(&layer.blob.digest)?);
    let (_, new) = crate::layer::decompress(new)?;
    let old = BufReader::with_capacity(buf, store.open_blob(base)?);
    crate::layer::plan_delta(BufReader::with_capacity(buf, new), old)
}
