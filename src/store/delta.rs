//! Delta snapshots: `ROOT/deltas/<diffid-hex>/` holds `tree/`, only what the
//! layer changes against the full snapshot of a similar layer (see
//! `layer::extract_delta`), and `base`, that layer's diffID and how many
//! deltas in a row led here (`sha256:…\n<depth>\n`). The layer's tree is the
//! overlay of `tree/` over `snapshots/<base-hex>/`: two lowers instead of one.
//!
//! Made like a snapshot (temp dir in the temp area, stream hashed against the
//! diffID, then renamed into place), so what is at a delta's name is whole; a
//! killed maker leaves only temp dirs, reclaimed as any. A delta whose base
//! snapshot is gone is useless and removed by `prune`; a reachable delta keeps
//! its base alive (see [`Store::keep_delta_bases`]).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::digest::Digest;
use super::mapped::{LayerTar, MappedExtractor};
use super::snapshot::Extractor;
use super::{fsutil, Store};

/// A delta snapshot in the store.
#[derive(Debug, Clone)]
pub struct DeltaSnapshot {
    /// The dir to mount right above the base snapshot.
    pub tree: PathBuf,
    /// The diffID of the layer whose full snapshot is below `tree`.
    pub base: Digest,
    /// Deltas in a row over `base` up to this one (1 for the first).
    pub depth: u32,
}

/// Deltas in a row over one full snapshot before the next change is made a
/// full snapshot again (by the hard-link clone): a delta holds everything
/// changed since its base, so a long series of edits would grow it (and its
/// whiteouts). A delta that would rewrite most of the layer is not made at all
/// (the engine clones instead), so this bound only caps the slow growth of
/// many small edits: a clone of a 100,000-file layer costs as much as ~5
/// deltas. A recorded depth is 1 to this.
pub const MAX_DELTA_DEPTH: u32 = 16;

/// The base record's (`sha256:…\n<depth>\n`) base and depth.
pub(super) fn parse_record(text: &str) -> Option<(Digest, u32)> {
    let mut lines = text.lines();
    let base = Digest::parse(lines.next()?.trim()).ok()?;
    let depth = lines.next()?.trim().parse().ok()?;
    Some((base, depth))
}

impl Store {
    pub(super) fn deltas_dir(&self) -> PathBuf {
        self.root.join("deltas")
    }

    /// The delta snapshot of `diff_id`, if there is one and its base snapshot
    /// is in the store.
    pub fn delta(&self, diff_id: &Digest) -> Option<DeltaSnapshot> {
        self.delta_at(self.deltas_dir().join(diff_id.hex()))
            .filter(|d| self.snapshot_path(&d.base).is_dir())
    }

    fn delta_at(&self, dir: PathBuf) -> Option<DeltaSnapshot> {
        let (base, depth) = parse_record(&fs::read_to_string(dir.join("base")).ok()?)?;
        let tree = dir.join("tree");
        tree.is_dir().then_some(DeltaSnapshot { tree, base, depth })
    }

    /// Returns the delta snapshot of `diff_id` over the full snapshot of
    /// `base`, making it with `extract` (blob `blob` into the tree, given the
    /// base snapshot's dir) if it is not there yet.
    pub fn ensure_delta(
        &self,
        diff_id: &Digest,
        blob: &Digest,
        (base, depth): (&Digest, u32),
        extract: &mut dyn FnMut(LayerTar<'_>, &std::path::Path, &std::path::Path) -> Result<()>,
    ) -> Result<DeltaSnapshot> {
        if let Some(d) = self.delta(diff_id) {
            return Ok(d);
        }
        let _l = self.lock(&format!("snapshot-{}", diff_id.hex()))?;
        if let Some(d) = self.delta(diff_id) {
            return Ok(d);
        }
        let base_dir = self.snapshot_path(base);
        anyhow::ensure!(base_dir.is_dir(), "the base snapshot {base} is gone");
        // Before any work: a store that cannot hold deltas (read-only) fails here.
        let dir = self.deltas_dir();
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix("delta-")
            .tempdir_in(self.temp_dir()?)
            .context("creating a temp dir for a delta snapshot")?;
        let tree = tmp.path().join("tree");
        // Mode 0700 like a snapshot's root (a temp dir): the chroot level's
        // merge gives the view's root the top lower's mode.
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&tree)
            .with_context(|| format!("creating {}", tree.display()))?;
        // A built layer's blob is its plain tar: mapped, it is hashed on one core while the
        // delta is planned and made from it in place on the other.
        match (blob == diff_id)
            .then(|| self.map_blob(blob).ok())
            .flatten()
        {
            Some(map) => {
                let mut ex: Box<MappedExtractor<'_>> =
                    Box::new(|t, dest| extract(LayerTar::Mapped(t), dest, &base_dir));
                self.extract_mapped(diff_id, &tree, &map, &mut *ex)?;
            }
            None => {
                let mut ex: Box<Extractor<'_>> =
                    Box::new(|r, dest| extract(LayerTar::Stream(r), dest, &base_dir));
                self.extract_checked(diff_id, blob, &tree, &mut *ex)?;
            }
        }
        self.write_file(
            &tmp.path().join("base"),
            format!("{base}\n{depth}\n").as_bytes(),
            0o644,
        )?;
        let target = dir.join(diff_id.hex());
        let tmp_path = tmp.keep();
        match fs::rename(&tmp_path, &target) {
            Ok(()) => fsutil::sync_dir(&dir)?,
            // A read-only store: served from this process's temp area.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EXDEV | libc::EROFS)) => {
                return self
                    .delta_at(tmp_path)
                    .context("reading back a delta snapshot");
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("renaming a delta into {}", target.display()))
            }
        }
        self.delta(diff_id).context("reading back a delta snapshot")
    }

    /// For `prune`: removes every delta that is not in `snaps` (the reachable
    /// snapshot diffIDs) or whose base snapshot is gone, and adds the bases of
    /// the deltas it keeps to `snaps`, so no base goes while a delta needs it.
    /// Returns (deltas removed, bytes freed).
    pub(super) fn keep_delta_bases(&self, snaps: &mut HashSet<Digest>) -> Result<(usize, u64)> {
        let Ok(entries) = fs::read_dir(self.deltas_dir()) else {
            return Ok((0, 0));
        };
        let (mut removed, mut freed) = (0, 0);
        for e in entries {
            let e = e?;
            let diff_id = Digest::from_hex(&e.file_name().to_string_lossy()).ok();
            let live = diff_id
                .filter(|d| snaps.contains(d))
                .and_then(|_| self.delta_at(e.path()))
                .filter(|d| self.snapshot_path(&d.base).is_dir());
            match live {
                Some(d) => {
                    snaps.insert(d.base);
                }
                None => {
                    freed += super::cache_prune::disk_usage(&e.path());
                    self.remove_atomically(&e.path())?;
                    removed += 1;
                }
            }
        }
        Ok((removed, freed))
    }
}
