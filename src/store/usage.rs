//! Sizes as Docker reports them, and the store's disk usage by kind.
//!
//! A layer's size is what Docker 26's overlay2 driver reports as its
//! `DiffSize` (`docker history` SIZE; their sum is `docker images` SIZE):
//! the sizes of the files the layer holds, directories not counted,
//! hardlinked files once, a symlink as the length of its target, whiteouts
//! 0. It is read from the layer tar once and remembered in
//! `ROOT/sizes/<blob hex>` (a few bytes per layer).

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::descriptor::{is_index, Descriptor, Platform};
use super::digest::Digest;
use super::Store;

/// Disk usage of one kind of store data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// How many items.
    pub total: usize,
    /// How many are in use (see [`Store::disk_usage`]).
    pub active: usize,
    /// Bytes on disk.
    pub size: u64,
    /// Bytes `builder prune` (with `rmi` for images) would free.
    pub reclaimable: u64,
}

/// The store's disk usage, as `docker system df` splits it.
#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    /// Images: distinct image IDs; active: those with a name; size: the
    /// blobs they reference; reclaimable: blobs only nameless images use.
    pub images: Usage,
    /// Build cache: step records and cache mounts; size: their files plus
    /// the blobs no image references; all reclaimable by `builder prune`.
    pub build_cache: Usage,
    /// Extracted layer snapshots; active: those of images' layers and the
    /// bases of active deltas; reclaimable: the others.
    pub snapshots: Usage,
    /// Delta snapshots (`ROOT/deltas`, a layer's tree as what differs from
    /// a similar layer's snapshot); active: those of images' layers whose
    /// base is there; reclaimable: the others (what `prune` removes once
    /// the build cache is gone).
    pub deltas: Usage,
}

/// Total size of the files under `path` (not following symlinks).
pub fn du(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| !m.is_dir())
        .map(|m| m.len())
        .sum()
}

impl Store {
    /// The size Docker shows for the layer in blob `blob` (see the module
    /// docs); errors if the blob is missing or not a (compressed) tar.
    pub fn layer_size(&self, blob: &Digest) -> Result<u64> {
        let cached = self.root.join("sizes").join(blob.hex());
        if let Some(n) = fs::read_to_string(&cached)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Ok(n);
        }
        let reader = super::snapshot::decompress(self.open_blob(blob)?)?;
        let mut tar = tar::Archive::new(reader);
        let mut size = 0u64;
        for e in tar
            .entries()
            .with_context(|| format!("reading layer {blob}"))?
        {
            let e = e.with_context(|| format!("reading layer {blob}"))?;
            let h = e.header();
            size += match h.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => h.size().unwrap_or(0),
                tar::EntryType::Symlink => e.link_name_bytes().map_or(0, |l| l.len() as u64),
                _ => 0,
            };
        }
        // The cache only saves a re-read: a store that cannot be written (mounted
        // read-only, another user's) still answers.
        let _ = fs::create_dir_all(cached.parent().expect("sizes dir"))
            .map_err(anyhow::Error::from)
            .and_then(|()| self.write_file(&cached, size.to_string().as_bytes(), 0o644));
        Ok(size)
    }

    /// The manifest and config of an image for `platform` (an index's
    /// matching entry, else its first), parsed.
    pub fn manifest_and_config(
        &self,
        desc: &Descriptor,
        platform: &Platform,
    ) -> Result<(Descriptor, Value, Value)> {
        let mut desc = desc.clone();
        let mut doc: Value = serde_json::from_slice(&self.read_blob(&desc.digest)?)
            .with_context(|| format!("{} is not JSON", desc.digest))?;
        if is_index(&desc.media_type) {
            let children: Vec<Descriptor> =
                serde_json::from_value(doc["manifests"].clone()).unwrap_or_default();
            let pick = children
                .iter()
                .find(|c| c.platform.as_ref().is_some_and(|p| p.matches(platform)))
                .or_else(|| children.iter().find(|c| self.has_blob(&c.digest)))
                .with_context(|| format!("index {} has no manifest here", desc.digest))?;
            desc = pick.clone();
            doc = serde_json::from_slice(&self.read_blob(&desc.digest)?)
                .with_context(|| format!("{} is not JSON", desc.digest))?;
        }
        let config = doc
            .pointer("/config/digest")
            .and_then(Value::as_str)
            .map(Digest::parse)
            .transpose()?
            .with_context(|| format!("manifest {} has no config", desc.digest))?;
        let config: Value = serde_json::from_slice(&self.read_blob(&config)?)
            .with_context(|| format!("config {config} is not JSON"))?;
        Ok((desc, doc, config))
    }

    /// An image's size as `docker images` shows it: the sum of its layers'
    /// [`Store::layer_size`].
    pub fn image_size(&self, manifest: &Value) -> Result<u64> {
        let mut total = 0;
        for l in manifest["layers"].as_array().into_iter().flatten() {
            let d = Digest::parse(l["digest"].as_str().unwrap_or_default())?;
            total += self.layer_size(&d)?;
        }
        Ok(total)
    }

    /// Disk usage by images, build cache, snapshots and deltas; `cache_entries` is
    /// the number of build cache entries (the engine knows their format).
    pub fn disk_usage(&self, cache_entries: usize) -> Result<DiskUsage> {
        let images = self.list_images()?;
        let blob_size = |set: &HashSet<Digest>| -> u64 {
            set.iter().filter_map(|d| self.blob_size(d).ok()).sum()
        };
        let mut ids = HashSet::new();
        let mut named_ids = HashSet::new();
        for i in &images {
            let id = self
                .image_id(&i.descriptor)
                .unwrap_or(i.descriptor.digest.clone());
            if !i.name.is_empty() {
                named_ids.insert(id.clone());
            }
            ids.insert(id);
        }
        // What images alone reference: reachability without the cache roots.
        let (image_blobs, image_snaps) = self.reachable_images(false)?;
        let (named_blobs, _) = self.reachable_images(true)?;
        let images_usage = Usage {
            total: ids.len(),
            active: named_ids.len(),
            size: blob_size(&image_blobs),
            reclaimable: blob_size(&image_blobs.difference(&named_blobs).cloned().collect()),
        };
        let mut cache_only = 0u64;
        for e in fs::read_dir(self.root.join("blobs/sha256"))?.flatten() {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            let d = Digest::from_hex(&e.file_name().to_string_lossy()).ok();
            if d.is_some_and(|d| !image_blobs.contains(&d)) {
                cache_only += len;
            }
        }
        let cache_size = du(&self.cache_dir()) + cache_only;
        // A delta kept keeps its base snapshot (as `prune` does).
        let mut deltas = Usage::default();
        let mut bases = HashSet::new();
        for e in fs::read_dir(self.deltas_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let size = du(&e.path());
            deltas.total += 1;
            deltas.size += size;
            let live = Digest::from_hex(&e.file_name().to_string_lossy())
                .ok()
                .filter(|d| image_snaps.contains(d))
                .and_then(|d| self.delta(&d));
            match live {
                Some(d) => {
                    deltas.active += 1;
                    bases.insert(d.base);
                }
                None => deltas.reclaimable += size,
            }
        }
        let mut snaps = Usage::default();
        for e in fs::read_dir(self.root.join("snapshots"))?.flatten() {
            let size = du(&e.path());
            snaps.total += 1;
            snaps.size += size;
            let d = Digest::from_hex(&e.file_name().to_string_lossy()).ok();
            if d.is_some_and(|d| image_snaps.contains(&d) || bases.contains(&d)) {
                snaps.active += 1;
            } else {
                snaps.reclaimable += size;
            }
        }
        Ok(DiskUsage {
            images: images_usage,
            build_cache: Usage {
                total: cache_entries,
                active: 0,
                size: cache_size,
                reclaimable: cache_size,
            },
            snapshots: snaps,
            deltas,
        })
    }

    /// Blobs and snapshot diffIDs reachable from the images (only the
    /// named ones if `named_only`), not from the cache roots.
    fn reachable_images(&self, named_only: bool) -> Result<(HashSet<Digest>, HashSet<Digest>)> {
        let mut blobs = HashSet::new();
        let mut snaps = HashSet::new();
        let mut todo: Vec<Digest> = self
            .list_images()?
            .into_iter()
            .filter(|i| !named_only || !i.name.is_empty())
            .map(|i| i.descriptor.digest)
            .collect();
        while let Some(d) = todo.pop() {
            if !blobs.insert(d.clone()) || !self.has_blob(&d) {
                continue;
            }
            let mut head = [0u8; 1];
            let is_json = self.blob_size(&d)? < 4 << 20
                && self
                    .open_blob(&d)?
                    .read(&mut head)
                    .is_ok_and(|n| n == 1 && head[0] == b'{');
            if !is_json {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<Value>(&self.read_blob(&d)?) else {
                continue;
            };
            let digest_of = |x: &Value| Digest::parse(x.get("digest")?.as_str()?).ok();
            for key in ["manifests", "layers"] {
                todo.extend(
                    v[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(digest_of),
                );
            }
            todo.extend(digest_of(&v["config"]));
            if let Some(ids) = v.pointer("/rootfs/diff_ids").and_then(Value::as_array) {
                snaps.extend(ids.iter().filter_map(|x| Digest::parse(x.as_str()?).ok()));
            }
        }
        Ok((blobs, snaps))
    }
}
