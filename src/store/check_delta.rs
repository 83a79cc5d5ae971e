//! `builder debug check-store` for delta snapshots (`ROOT/deltas/<diffid-hex>`,
//! see `delta`). Each must be a digest-named dir holding `tree/` and a `base`
//! record (`sha256:…\n<depth>\n`) whose base is a full snapshot in the store
//! other than the delta's own layer (deltas never chain: a base is never
//! itself only a delta) and whose depth is 1 to [`MAX_DELTA_DEPTH`]; and
//! where the store holds the layer, `[tree, base]` as overlayfs shows the
//! pair must be exactly the tree a fresh extraction of the layer gives,
//! compared as snapshots are (`check`).
//!
//! The overlay is computed on the two listings rather than mounted, so the
//! check needs no privileges and reads a store on any file system. The
//! rules are overlayfs's (Documentation/filesystems/overlayfs.rst): an entry
//! of the delta hides the base's at its path; a whiteout (a 0:0 character
//! device, or a `.wh.NAME` file in a store on overlayfs, see
//! `layer::whiteout_files`) hides the base's path and is not shown itself; a
//! directory over a base directory merges with it (its own attributes show),
//! unless it is opaque (`trusted.overlay.opaque`/`user.overlay.opaque` = `y`,
//! or a `.wh..wh..opq` file in it), which hides the base's children.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use anyhow::Result;

use super::check::{tree, CheckReport, Tree};
use super::delta::{parse_record, DeltaSnapshot, MAX_DELTA_DEPTH};
use super::digest::Digest;
use super::snapshot::Extractor;
use super::Store;
use crate::layer::{whiteout_files, xattrs};

impl Store {
    /// Checks every delta (see the module docs) into `report`: a problem
    /// per unsound one, else a comparison with its layer (`layers`: diffID
    /// → compressed blob, from the store's manifests) or, without one, an
    /// unverified count. Errors when `ROOT/deltas` cannot be listed.
    pub(super) fn check_deltas(
        &self,
        layers: &HashMap<Digest, Digest>,
        extract: &mut Extractor<'_>,
        report: &mut CheckReport,
    ) -> Result<()> {
        if !self.deltas_dir().is_dir() {
            return Ok(());
        }
        for (diff_id, e) in self.digest_entries("deltas", &mut report.problems)? {
            let d = match self.delta_record(&e.path(), &diff_id) {
                Ok(d) => d,
                Err(problem) => {
                    report.problems.push(format!("delta {diff_id}: {problem}"));
                    continue;
                }
            };
            let Some(blob) = self.layer_blob(&diff_id, layers) else {
                report.snapshots_unverified += 1;
                continue;
            };
            // `[tree, base]` as overlayfs shows the pair.
            let shown = || overlay(tree(&self.snapshot_path(&d.base))?, &d.tree);
            match self.compare_with_layer(shown, &diff_id, &blob, extract) {
                Ok(None) => report.deltas_compared += 1,
                Ok(Some(diff)) => report.problems.push(format!(
                    "delta {diff_id} over {} differs from its layer: {diff}",
                    d.base
                )),
                Err(err) => report.problems.push(format!("delta {diff_id}: {err:#}")),
            }
        }
        Ok(())
    }

    /// The delta at `dir` (of layer `diff_id`) if its tree and record are
    /// sound, else what is wrong with them.
    fn delta_record(&self, dir: &Path, diff_id: &Digest) -> Result<DeltaSnapshot, String> {
        let text = fs::read_to_string(dir.join("base"))
            .map_err(|e| format!("no readable base record ({e})"))?;
        let (base, depth) = parse_record(&text)
            .ok_or_else(|| format!("its base record {text:?} is not `sha256:…\\n<depth>\\n`"))?;
        let tree = dir.join("tree");
        if !tree.is_dir() {
            return Err("no tree dir".into());
        }
        if base == *diff_id {
            return Err("it names itself as its base".into());
        }
        if !(1..=MAX_DELTA_DEPTH).contains(&depth) {
            return Err(format!(
                "its depth {depth} is outside 1..={MAX_DELTA_DEPTH} (deltas in a row over a base)"
            ));
        }
        if !self.snapshot_path(&base).is_dir() {
            return Err(if self.deltas_dir().join(base.hex()).is_dir() {
                format!("its base {base} is only a delta (deltas never chain)")
            } else {
                format!("its base snapshot {base} is gone")
            });
        }
        Ok(DeltaSnapshot { tree, base, depth })
    }
}

/// The tree overlayfs shows for the dir `upper` mounted over a lower whose
/// listing is `lower` (see the module docs).
fn overlay(mut lower: Tree, upper: &Path) -> Result<Tree> {
    let top = tree(upper)?;
    // Hiding first, then showing: what the delta hides is the base's only,
    // whatever order its names sort in.
    let mut shown = Vec::new();
    for (path, e) in &top {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let is_file = e.0 == 'f';
        if e.0 == 'c' && e.5 == "0" {
            hide(&mut lower, path);
        } else if is_file && name.as_bytes() == whiteout_files::OPAQUE {
            hide_children(&mut lower, dir);
        } else if let Some(t) = whiteout_files::target(name.as_bytes()).filter(|_| is_file) {
            let t = String::from_utf8_lossy(t);
            hide(
                &mut lower,
                &if dir.is_empty() {
                    t.into_owned()
                } else {
                    format!("{dir}/{t}")
                },
            );
        } else {
            if e.0 == 'd' && is_opaque(&upper.join(path)) {
                hide_children(&mut lower, path);
            }
            shown.push((path, e));
        }
    }
    for (path, e) in shown {
        if e.0 != 'd' {
            hide_children(&mut lower, path);
        }
        lower.insert(path.clone(), e.clone());
    }
    Ok(lower)
}

fn is_opaque(dir: &Path) -> bool {
    [&b"trusted.overlay.opaque"[..], b"user.overlay.opaque"]
        .iter()
        .any(|x| xattrs::get(dir, x).is_ok_and(|v| v.as_deref() == Some(&b"y"[..])))
}

/// Removes `path` and everything under it.
fn hide(t: &mut Tree, path: &str) {
    t.remove(path);
    hide_children(t, path);
}

/// Removes everything under `dir` (`""`: the root).
fn hide_children(t: &mut Tree, dir: &str) {
    if dir.is_empty() {
        t.clear();
        return;
    }
    let prefix = format!("{dir}/");
    let under: Vec<String> = t
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in under {
        t.remove(&k);
    }
}
