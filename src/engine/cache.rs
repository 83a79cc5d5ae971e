//! The step cache: a key per step covering everything that can change its
//! result, and a record of what the step produced (the image config after
//! it and the layer chain), so a rebuild with the same inputs mounts,
//! extracts and runs nothing.
//!
//! Records live in `ROOT/cache/steps/<key>.json` (atomic writes); the blobs
//! they name are listed in `ROOT/cache/roots/step-<key>` so `prune` keeps
//! them while the record exists.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::state::{LayerRef, StageImage};
use crate::image::ImageConfig;
use crate::store::{fsutil, Descriptor, Digest, Store};

/// Bumped whenever what a key covers changes, so old records stop matching.
const KEY_VERSION: &str = "builder-step-cache-v1";

/// Builds a cache key from labelled parts.
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    hasher: Sha256,
}

impl KeyBuilder {
    /// A key derived from `parent` (the previous step's key).
    pub fn new(parent: &str) -> Self {
        let mut k = KeyBuilder {
            hasher: Sha256::new(),
        };
        k.part("version", KEY_VERSION);
        k.part("parent", parent);
        k
    }

    /// Adds a labelled part (length-prefixed, so parts cannot run together).
    pub fn part(&mut self, label: &str, value: &str) -> &mut Self {
        for s in [label, value] {
            self.hasher.update((s.len() as u64).to_le_bytes());
            self.hasher.update(s.as_bytes());
        }
        self
    }

    /// The key, as hex.
    pub fn finish(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    config: serde_json::Value,
    layers: Vec<RecordLayer>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordLayer {
    diff_id: String,
    blob: Descriptor,
}

fn record_path(store: &Store, key: &str) -> PathBuf {
    store.cache_dir().join("steps").join(format!("{key}.json"))
}

/// Looks up `key`; returns the config and layers it recorded when every
/// blob they need is still in the store.
pub fn lookup(store: &Store, key: &str) -> Option<(ImageConfig, Vec<LayerRef>)> {
    let bytes = std::fs::read(record_path(store, key)).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    let config: ImageConfig = serde_json::from_value(record.config).ok()?;
    let mut layers = Vec::new();
    for l in record.layers {
        let diff_id = Digest::parse(&l.diff_id).ok()?;
        if !store.has_blob(&l.blob.digest) {
            return None;
        }
        layers.push(LayerRef {
            diff_id,
            blob: l.blob,
        });
    }
    if config.rootfs.diff_ids.len() != layers.len() {
        return None;
    }
    Some((config, layers))
}

/// Records what a step produced under `key`.
pub fn record(store: &Store, key: &str, image: &StageImage) -> Result<()> {
    let dir = store.cache_dir().join("steps");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let record = Record {
        config: serde_json::to_value(&image.config)?,
        layers: image
            .layers
            .iter()
            .map(|l| RecordLayer {
                diff_id: l.diff_id.to_string(),
                blob: l.blob.clone(),
            })
            .collect(),
    };
    let mut roots = String::new();
    for l in &image.layers {
        roots.push_str(&format!("{}\n{}\n", l.blob.digest, l.diff_id));
    }
    let roots_dir = store.cache_dir().join("roots");
    std::fs::create_dir_all(&roots_dir)?;
    // Roots first: a record whose blobs could be pruned must never exist.
    fsutil::write_atomic(
        &roots_dir.join(format!("step-{key}")),
        roots.as_bytes(),
        0o644,
    )?;
    fsutil::write_atomic(
        &record_path(store, key),
        &serde_json::to_vec(&record)?,
        0o644,
    )
}

/// Removes every step record (and its GC roots); returns how many.
pub fn clear(store: &Store) -> Result<usize> {
    let mut n = 0;
    let dir = store.cache_dir().join("steps");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(key) = name.strip_suffix(".json") {
                let _ = std::fs::remove_file(
                    store.cache_dir().join("roots").join(format!("step-{key}")),
                );
                if std::fs::remove_file(e.path()).is_ok() {
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_every_part_and_order() {
        let a = KeyBuilder::new("p").part("x", "1").part("y", "2").finish();
        let b = KeyBuilder::new("p").part("x", "1").part("y", "2").finish();
        let c = KeyBuilder::new("p").part("x", "12").part("y", "").finish();
        let d = KeyBuilder::new("q").part("x", "1").part("y", "2").finish();
        assert_eq!(a, b);
        assert_ne!(a, c, "length prefixes keep parts apart");
        assert_ne!(a, d, "parent key matters");
    }
}
