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
//! - nothing else sits in those two namespaces;
//! - every delta snapshot (`deltas/<diffid-hex>`, see `check_delta`) has a
//!   sound record, its base snapshot, and, over that base, the tree of its
//!   layer.
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
    /// Delta snapshots whose tree over their base was compared with a fresh
    /// extraction of their layer.
    pub deltas_compared: usize,
    /// Snapshots and deltas with no layer blob in the store to compare with.
    pub snapshots_unverified: usize,
    /// One line per problem; empty when the store is sound.
    pub problems: Vec<String>,
}

/// One tree entry as compared: type (`f`ile, `d`ir, `l`ink, `c`har or
/// `b`lock device, `o`ther), mode bits, owner, size, content (a file's
/// digest, a link's target, a device's number).
pub(super) type TreeEntry = (char, u32, u32, u32, u64, String);

/// Every entry of a tree by its path relative to the root.
pub(super) type Tree = BTreeMap<String, TreeEntry>;

impl Store {
    /// Checks every blob and snapshot (see the module docs); `extract`
    /// unpacks a layer as snapshots are made. Errors only when the store
    /// cannot be listed; what is wrong in it goes to the report.
    pub fn check(&self, extract: &mut Extractor<'_>) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        for (want, e) in self.digest_entries("blobs/sha256", &mut report.problems)? {
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
        for (diff_id, e) in self.digest_entries("snapshots", &mut report.problems)? {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                report
                    .problems
                    .push(format!("snapshot {diff_id}: not a directory"));
                continue;
            }
            let Some(blob) = self.layer_blob(&diff_id, &layers) else {
                report.snapshots_unverified += 1;
                continue;
            };
            match self.compare_with_layer(|| tree(&e.path()), &diff_id, &blob, extract) {
                Ok(None) => report.snapshots_compared += 1,
                Ok(Some(diff)) => report
                    .problems
                    .push(format!("snapshot {diff_id} differs from its layer: {diff}")),
                Err(err) => report.problems.push(format!("snapshot {diff_id}: {err:#}")),
            }
        }
        self.check_deltas(&layers, extract, &mut report)?;
        Ok(report)
    }

    /// The entries of `ROOT/<rel>` in name order, each with the digest its
    /// name spells (hex), and a problem in `problems` for each name that
    /// spells none. Errors when the dir cannot be listed.
    pub(super) fn digest_entries(
        &self,
        rel: &str,
        problems: &mut Vec<String>,
    ) -> Result<Vec<(Digest, fs::DirEntry)>> {
        let dir = self.root.join(rel);
        let mut names: Vec<_> = fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .collect::<std::io::Result<_>>()?;
        names.sort_by_key(|e| e.file_name());
        Ok(names
            .into_iter()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                match Digest::from_hex(&name) {
                    Ok(d) => Some((d, e)),
                    Err(_) => {
                        problems.push(format!("{rel}/{name}: not a digest name"));
                        None
                    }
                }
            })
            .collect())
    }

    /// diffID → compressed blob, from every manifest in the store.
    pub(super) fn layer_blobs(&self) -> HashMap<Digest, Digest> {
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

    /// `None` when the tree `shown` lists (a snapshot's, a delta over its
    /// base) is the tree of layer `blob` extracted, else the first
    /// difference.
    pub(super) fn compare_with_layer(
        &self,
        shown: impl FnOnce() -> Result<Tree>,
        diff_id: &Digest,
        blob: &Digest,
        extract: &mut Extractor<'_>,
    ) -> Result<Option<String>> {
        Ok(match self.layer_tree(diff_id, blob, extract)? {
            Ok(want) => first_difference(&shown()?, &want),
            Err(wrong) => Some(wrong),
        })
    }

    /// The tree a fresh extraction of layer `blob` (diffID `diff_id`) gives,
    /// or, as `Err`, why the blob is not that layer.
    fn layer_tree(
        &self,
        diff_id: &Digest,
        blob: &Digest,
        extract: &mut Extractor<'_>,
    ) -> Result<std::result::Result<Tree, String>> {
        let fresh = tempfile::Builder::new()
            .prefix("check-")
            .tempdir_in(self.temp_dir()?)
            .context("creating a temp dir")?;
        let mut hashing = HashingReader::new(decompress(self.open_blob(blob)?)?);
        extract(&mut hashing, fresh.path())?;
        std::io::copy(&mut hashing, &mut std::io::sink())?;
        let (got, _) = hashing.finish()?;
        if got != *diff_id {
            return Ok(Err(format!("its layer {blob} has diffID {got}")));
        }
        Ok(Ok(tree(fresh.path())?))
    }

    /// The blob holding layer `diff_id`, if the store has one: the layer
    /// itself (built or imported layers are stored uncompressed) or the
    /// compressed blob a manifest pairs with it (`layers`, see
    /// [`Store::layer_blobs`]).
    pub(super) fn layer_blob(
        &self,
        diff_id: &Digest,
        layers: &HashMap<Digest, Digest>,
    ) -> Option<Digest> {
        if self.has_blob(diff_id) {
            Some(diff_id.clone())
        } else {
            layers.get(diff_id).filter(|b| self.has_blob(b)).cloned()
        }
    }
}

/// The first difference between a tree as found (`have`) and as its layer
/// gives it (`want`), `None` when they are equal.
pub(super) fn first_difference(have: &Tree, want: &Tree) -> Option<String> {
    for (path, w) in want {
        match have.get(path) {
            None => return Some(format!("/{path} is missing")),
            Some(h) if h != w => return Some(format!("/{path} is {h:?}, expected {w:?}")),
            Some(_) => {}
        }
    }
    have.keys()
        .find(|p| !want.contains_key(*p))
        .map(|extra| format!("/{extra} is not in the layer"))
}

/// Every entry under `root` (not `root` itself) as compared by the check.
pub(super) fn tree(root: &Path) -> Result<Tree> {
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
        } else if ft.is_char_device() {
            ('c', m.rdev().to_string())
        } else if ft.is_block_device() {
            ('b', m.rdev().to_string())
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
