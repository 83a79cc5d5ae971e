//! The step cache: a key per step covering everything that can change its
//! result, and a record of what the step produced (the image config after
//! it and the layer chain), so a rebuild with the same inputs mounts,
//! extracts and runs nothing.
//!
//! Records live in `ROOT/cache/steps/<key>.json` (atomic writes); the blobs
//! they name are listed in `ROOT/cache/roots/step-<key>` so `prune` keeps
//! them while the record exists.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::state::{LayerRef, StageImage};
use crate::image::ImageConfig;
use crate::store::{CacheEntry, CacheKind, Descriptor, Digest, Store};

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

fn roots_path(store: &Store, key: &str) -> PathBuf {
    store.cache_dir().join("roots").join(format!("step-{key}"))
}

/// Where `RUN --mount=type=cache` dirs live: `ROOT/cache/mounts/<id-hex>`.
pub fn mounts_dir(store: &Store) -> PathBuf {
    store.cache_dir().join("mounts")
}

/// Looks up `key`; returns the config and layers it recorded when every
/// blob they need is still in the store.
///
/// A hit marks the record as used now (its mtime), which is what `prune`
/// orders by. A record without its roots file is a half-removed one and
/// never used: nothing would keep its snapshots alive.
pub fn lookup(store: &Store, key: &str) -> Option<(ImageConfig, Vec<LayerRef>)> {
    if !roots_path(store, key).is_file() {
        return None;
    }
    let path = record_path(store, key);
    let bytes = std::fs::read(&path).ok()?;
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
    // Best effort: a record we cannot touch still serves this build; at
    // worst prune treats it as older than it is.
    let _ = touch(&path);
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
    store.write_file(
        &roots_dir.join(format!("step-{key}")),
        roots.as_bytes(),
        0o644,
    )?;
    store.write_file(
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

/// Sets `path`'s mtime to now: the last-use time of a record or a cache
/// mount dir (no rewrite, the content stays as it is).
pub fn touch(path: &Path) -> std::io::Result<()> {
    File::open(path)?.set_modified(SystemTime::now())
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Reads a step roots file (blob digest and diffID lines); unreadable or
/// malformed lines root nothing, which only makes the entry look smaller.
fn roots_in(path: &Path) -> Vec<Digest> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Digest::parse(l.trim()).ok())
        .collect()
}

/// Every build cache entry in the store, for `Store::prune_cache`: step
/// records (last use = the record's mtime), roots files left without a
/// record by an interrupted write or removal, and cache mount dirs (last
/// use = the dir's mtime).
pub fn entries(store: &Store) -> Result<Vec<CacheEntry>> {
    let mut out = Vec::new();
    let steps = store.cache_dir().join("steps");
    let mut keys = std::collections::HashSet::new();
    for e in read_dir_if_any(&steps)? {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(key) = name.strip_suffix(".json") else {
            continue;
        };
        let roots = roots_path(store, key);
        keys.insert(key.to_string());
        out.push(CacheEntry {
            kind: CacheKind::Step,
            id: key.to_string(),
            last_used: mtime(&e.path()),
            roots: roots_in(&roots),
            // The record goes first: without it the roots are inert.
            paths: vec![e.path(), roots],
        });
    }
    for e in read_dir_if_any(&store.cache_dir().join("roots"))? {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(key) = name.strip_prefix("step-") else {
            continue;
        };
        if keys.contains(key) || name.starts_with(".tmp-") {
            continue;
        }
        out.push(CacheEntry {
            kind: CacheKind::Step,
            id: key.to_string(),
            last_used: mtime(&e.path()),
            roots: roots_in(&e.path()),
            paths: vec![e.path()],
        });
    }
    for e in read_dir_if_any(&mounts_dir(store))? {
        let id = e.file_name().to_string_lossy().to_string();
        // The shared-cache chain of the mount (`cache_mounts`) goes with
        // it: the state first, then the roots of its blobs.
        let state = crate::engine::cache_mounts::state_path(store, &id);
        let roots = crate::engine::cache_mounts::roots_path(store, &id);
        let chain = roots_in(&roots);
        let mut paths = vec![e.path()];
        paths.extend([state, roots].into_iter().filter(|p| p.exists()));
        out.push(CacheEntry {
            kind: CacheKind::Mount,
            last_used: mtime(&e.path()),
            roots: chain,
            paths,
            id,
        });
    }
    Ok(out)
}

/// The entries of `dir`, none if it does not exist.
fn read_dir_if_any(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .collect::<std::io::Result<Vec<_>>>()
            .with_context(|| format!("listing {}", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("listing {}", dir.display())),
    }
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

    fn image(store: &Store) -> StageImage {
        let blob = store.put_blob_bytes(b"layer tar", None).unwrap();
        let mut config = ImageConfig::default();
        config.rootfs.diff_ids = vec![blob.to_string()];
        StageImage {
            config,
            layers: vec![LayerRef {
                diff_id: blob.clone(),
                blob: Descriptor::new("application/vnd.oci.image.layer.v1.tar", blob, 9),
            }],
            scope: Default::default(),
            base_history: 0,
            cache_key: String::new(),
        }
    }

    #[test]
    fn hits_mark_last_use_and_entries_list_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let img = image(&store);
        record(&store, "k1", &img).unwrap();
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let path = record_path(&store, "k1");
        File::open(&path).unwrap().set_modified(old).unwrap();
        assert_eq!(mtime(&path), old);
        let before = SystemTime::now() - std::time::Duration::from_secs(1);
        let (_, layers) = lookup(&store, "k1").expect("hit");
        assert_eq!(layers.len(), 1);
        assert!(mtime(&path) > before, "a hit refreshes last use");

        std::fs::create_dir_all(mounts_dir(&store).join("m1")).unwrap();
        std::fs::write(roots_path(&store, "orphan"), "").unwrap();
        let mut es = entries(&store).unwrap();
        es.sort_by(|a, b| a.id.cmp(&b.id));
        let summary: Vec<_> = es
            .iter()
            .map(|e| (e.kind, e.id.as_str(), e.roots.len(), e.paths.len()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (CacheKind::Step, "k1", 2, 2),
                (CacheKind::Mount, "m1", 0, 1),
                (CacheKind::Step, "orphan", 0, 1),
            ]
        );
        assert_eq!(es[0].paths[0], path, "the record goes before its roots");

        // Without its roots file a record is never used.
        std::fs::remove_file(roots_path(&store, "k1")).unwrap();
        assert!(lookup(&store, "k1").is_none());
    }
}
