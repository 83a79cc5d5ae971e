//! `builder debug check-store`: verifies what the store trusts by name.
//!
//! - every blob's content hashes to its file name (`blobs/sha256/<hex>`);
//! - every snapshot (`snapshots/<diffid-hex>`) is a directory named by a
//!   digest, and where the store holds the layer it came from (a blob whose
//!   digest is the diffID — layers built or imported here are stored
//!   uncompressed — or a manifest pairing the diffID with a compressed
//!   blob), it has exactly the tree a fresh extraction of that layer gives:
//!   the same paths, file types, permission bits, owners, sizes, file
//!   contents, symlink targets and device numbers (mtimes are not compared:
//!   a RUN step's snapshot is its overlay upper dir, whose mtimes the layer
//!   tar clamps to `SOURCE_DATE_EPOCH`);
//! - nothing else sits in those two namespaces.
//!
//! A snapshot removed half-way (what a killed `prune` left before removals
//! went through the temp area) fails the comparison.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::digest::{Digest, HashingReader};
use super::snapshot::{decompress, Extractor};
use super::Store;

/// What [`Store::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Blobs whose content matched their name.
    pub blobs: usize,
    /// Snapshots compared with a fresh extraction of their layer.
    pub snapshots_compared: usize,
    /// Snapshots with no layer blob in the store to compare with.
    pub snapshots_unverified: usize,
    /// One line per problem; empty when the store is sound.
    pub problems: Vec<String>,
}

/// One tree entry as compared: type, mode bits, owner, size, content.
type TreeEntry = (char, u32, u32, u32, u64, String);

impl Store {
    /// Checks every blob and snapshot (see the module docs); `extract`
    /// unpacks a layer as snapshots are made. Errors only when the store
    /// cannot be listed; what is wrong in it goes to the report.
    pub fn check(&self, extract: &mut Extractor<'_>) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let blob_dir = self.root.join("blobs/sha256");
        let mut names: Vec<_> = fs::read_dir(&blob_dir)
            .with_context(|| format!("listing {}", blob_dir.display()))?
            .collect::<std::io::Result<_>>()?;
        names.sort_by_key(|e| e.file_name());
        for e in names {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(want) = Digest::from_hex(&name) else {
                report
                    .problems
                    .push(format!("blobs/sha256/{name}: not a digest name"));
                continue;
            };
            let got = fs::File::open(e.path())
                .map_err(anyhow::Error::from)
                .and_then(|f| {
                    let mut h = HashingReader::new(f);
                    std::io::copy(&mut h, &mut std::io::sink())?;
                    Ok(h.finish()?.0)
                });
            match got {
                Ok(got) if got == want => report.blobs += 1,
                Ok(got) => report
                    .problems
                    .push(format!("blob {want}: its content is {got}")),
                Err(err) => report.problems.push(format!("blob {want}: {err:#}")),
            }
        }
        let layers = self.layer_blobs();
        let snap_dir = self.root.join("snapshots");
        let mut snaps: Vec<_> = fs::read_dir(&snap_dir)
            .with_context(|| format!("listing {}", snap_dir.display()))?
            .collect::<std::io::Result<_>>()?;
        snaps.sort_by_key(|e| e.file_name());
        for e in snaps {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(diff_id) = Digest::from_hex(&name) else {
                report
                    .problems
                    .push(format!("snapshots/{name}: not a digest name"));
                continue;
            };
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                report
                    .problems
                    .push(format!("snapshot {diff_id}: not a directory"));
                continue;
            }
            let blob = if self.has_blob(&diff_id) {
                Some(diff_id.clone())
            } else {
                layers.get(&diff_id).filter(|b| self.has_blob(b)).cloned()
            };
            let Some(blob) = blob else {
                report.snapshots_unverified += 1;
                continue;
            };
            match self.compare_snapshot(&e.path(), &diff_id, &blob, extract) {
                Ok(None) => report.snapshots_compared += 1,
                Ok(Some(diff)) => report
                    .problems
                    .push(format!("snapshot {diff_id} differs from its layer: {diff}")),
                Err(err) => report.problems.push(format!("snapshot {diff_id}: {err:#}")),
            }
        }
        report.snapshots_unverified += self.check_deltas(&mut report.problems);
        Ok(report)
    }

    /// diffID → compressed blob, from every manifest in the store.
    fn layer_blobs(&self) -> HashMap<Digest, Digest> {
        let mut out = HashMap::new();
        let Ok(entries) = fs::read_dir(self.root.join("blobs/sha256")) else {
            return out;
        };
        for e in entries.flatten() {
            let Ok(d) = Digest::from_hex(&e.file_name().to_string_lossy()) else {
                continue;
            };
            if e.metadata().map_or(true, |m| m.len() > 4 << 20) {
                continue;
            }
            let Ok(m) = serde_json::from_slice::<Value>(&self.read_blob(&d).unwrap_or_default())
            else {
                continue;
            };
            let (Some(layers), Some(cfg)) = (
                m.get("layers").and_then(Value::as_array),
                m.pointer("/config/digest").and_then(Value::as_str),
            ) else {
                continue;
            };
            let Some(cfg) = Digest::parse(cfg)
                .ok()
                .and_then(|c| self.read_blob(&c).ok())
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            else {
                continue;
            };
            let Some(ids) = cfg.pointer("/rootfs/diff_ids").and_then(Value::as_array) else {
                continue;
            };
            for (id, l) in ids.iter().zip(layers) {
                let id = id.as_str().and_then(|s| Digest::parse(s).ok());
                let blob = l
                    .get("digest")
                    .and_then(Value::as_str)
                    .and_then(|s| Digest::parse(s).ok());
                if let (Some(id), Some(blob)) = (id, blob) {
                    out.insert(id, blob);
                }
            }
        }
        out
    }

    /// `None` when `snapshot` has the tree of layer `blob` extracted, else
    /// the first difference.
    fn compare_snapshot(
        &self,
        snapshot: &Path,
        diff_id: &Digest,
        blob: &Digest,
        extract: &mut Extractor<'_>,
    ) -> Result<Option<String>> {
        let fresh = tempfile::Builder::new()
            .prefix("check-")
            .tempdir_in(self.temp_dir()?)
            .context("creating a temp dir")?;
        let mut hashing = HashingReader::new(decompress(self.open_blob(blob)?)?);
        extract(&mut hashing, fresh.path())?;
        std::io::copy(&mut hashing, &mut std::io::sink())?;
        let (got, _) = hashing.finish()?;
        if got != *diff_id {
            return Ok(Some(format!("its layer {blob} has diffID {got}")));
        }
        let (a, b) = (tree(snapshot)?, tree(fresh.path())?);
        for (path, want) in &b {
            match a.get(path) {
                None => return Ok(Some(format!("/{path} is missing"))),
                Some(have) if have != want => {
                    return Ok(Some(format!("/{path} is {have:?}, expected {want:?}")))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = a.keys().find(|p| !b.contains_key(*p)) {
            return Ok(Some(format!("/{extra} is not in the layer")));
        }
        Ok(None)
    }
}

/// Every entry under `root` (not `root` itself) as compared by the check.
fn tree(root: &Path) -> Result<BTreeMap<String, TreeEntry>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e?;
        let m = e.metadata()?;
        let rel = e.path().strip_prefix(root)?.to_string_lossy().into_owned();
        let ft = m.file_type();
        let (kind, extra) = if ft.is_file() {
            let mut h = HashingReader::new(fs::File::open(e.path())?);
            std::io::copy(&mut h, &mut std::io::sink())?;
            ('f', h.finish()?.0.to_string())
        } else if ft.is_dir() {
            ('d', String::new())
        } else if ft.is_symlink() {
            ('l', fs::read_link(e.path())?.to_string_lossy().into_owned())
        } else if ft.is_char_device() || ft.is_block_device() {
            ('c', m.rdev().to_string())
        } else {
            ('o', String::new())
        };
        let size = if kind == 'f' { m.len() } else { 0 };
        out.insert(
            rel,
            (kind, m.mode() & 0o7777, m.uid(), m.gid(), size, extra),
        );
    }
    Ok(out)
}
