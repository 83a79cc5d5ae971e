//! Sharing the step cache between machines (`--cache-to`, `--cache-from`).
//!
//! An export is an OCI image manifest whose config (media type
//! [`CACHE_CONFIG_TYPE`]) lists step records — cache key → the image config
//! after the step and its layer chain — and whose layers are every layer
//! blob those records name, compressed as a push would compress them. It is
//! pushed to a registry tag or written as an OCI image layout directory.
//!
//! An import reads the manifest and the config only. A layer blob is
//! fetched when something needs it — a step that misses and mounts the
//! snapshot, or the result that must hold its layers — so a fully cached
//! build downloads just the layers of its result.
//!
//! With `cache-mounts=true` the config also lists the build's
//! `RUN --mount=type=cache` contents (`mounts`, see
//! [`super::cache_mounts`]), whose layer and index blobs join the
//! manifest's layers; a cache without them reads as before.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};

use super::cache_mounts::ExportedMount;
use super::cache_spec::{CacheLocation, CacheSpec};
use super::state::LayerRef;
use crate::image::ImageConfig;
use crate::layer::Compression;
use crate::registry::artifact::{fetch_artifact, fetch_artifact_blob, Artifact};
use crate::registry::RegistryClient;
use crate::store::descriptor::{
    OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use crate::store::{fsutil, Descriptor, Digest, Store};

/// The config media type of an exported cache manifest.
pub const CACHE_CONFIG_TYPE: &str = "application/vnd.builder.cache.config.v1+json";

/// Bumped when the exported format changes; other versions are ignored.
const FORMAT_VERSION: u32 = 1;

/// Layer downloads at once when a cached result is materialised.
const CONCURRENT_FETCHES: usize = 4;

#[derive(Debug, Serialize, Deserialize)]
struct CacheConfig {
    version: u32,
    records: Vec<ExportedRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mounts: Vec<ExportedMount>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportedRecord {
    key: String,
    config: serde_json::Value,
    layers: Vec<ExportedLayer>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportedLayer {
    diff_id: String,
    blob: Descriptor,
}

/// What a layered step produced in this build: what an export writes.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// The stage's index in the plan.
    pub stage: usize,
    /// The step's cache key.
    pub key: String,
    /// The image config after the step.
    pub config: ImageConfig,
    /// The layer chain after the step.
    pub layers: Vec<LayerRef>,
}

enum Source {
    Registry(Box<Artifact>),
    Local(PathBuf),
}

/// Records imported with `--cache-from`, and where their blobs are.
#[derive(Default)]
pub struct ImportedCache {
    records: HashMap<String, (ImageConfig, Vec<LayerRef>)>,
    blob_sources: HashMap<Digest, usize>,
    sources: Vec<Source>,
    /// Cache mount records by store key (hex), when `cache-mounts` allows.
    mounts: HashMap<String, ExportedMount>,
}

impl ImportedCache {
    /// How many step records were imported.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing was imported.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The imported cache mount whose store key is `key_hex`.
    pub fn mount(&self, key_hex: &str) -> Option<&ExportedMount> {
        self.mounts.get(key_hex)
    }

    /// Every imported cache mount.
    pub fn mounts(&self) -> impl Iterator<Item = &ExportedMount> {
        self.mounts.values()
    }

    /// The record for `key`, if an imported cache has one. Its blobs may
    /// not be in the store yet: see [`ImportedCache::fetch_missing`].
    pub fn lookup(&self, key: &str) -> Option<(ImageConfig, Vec<LayerRef>)> {
        self.records.get(key).cloned()
    }

    /// Reads the cache at `spec` (manifest and config, no layers); returns
    /// the number of records it added. A cache that does not exist yet
    /// adds none (the first build of a pipeline has nothing to import).
    pub async fn import(
        &mut self,
        store: &Store,
        client: &RegistryClient,
        spec: &CacheSpec,
    ) -> Result<usize> {
        let (config, source) = match &spec.location {
            CacheLocation::Registry(r) => {
                let Some(artifact) = fetch_artifact(client, r).await? else {
                    return Ok(0);
                };
                let manifest = parse_manifest(&artifact.bytes)?;
                fetch_artifact_blob(client, store, &artifact, &manifest.config).await?;
                let config = store.read_blob(&manifest.config.digest)?;
                (config, Source::Registry(Box::new(artifact)))
            }
            CacheLocation::Local(dir) => {
                let Some(manifest) = read_local_manifest(dir)? else {
                    return Ok(0);
                };
                let config = read_local_blob(dir, &manifest.config.digest)?;
                (config, Source::Local(dir.clone()))
            }
        };
        let config: CacheConfig =
            serde_json::from_slice(&config).context("the cache config is not valid")?;
        if config.version != FORMAT_VERSION {
            bail!(
                "the cache was written in format {} (this builder reads {FORMAT_VERSION}); export it again",
                config.version
            );
        }
        // A bad mount record fails the whole import (a warning) before
        // anything of it is used.
        if spec.cache_mounts {
            for m in &config.mounts {
                m.validate()?;
            }
        }
        let source_index = self.sources.len();
        self.sources.push(source);
        let mut added = 0;
        for r in config.records {
            let image: ImageConfig = serde_json::from_value(r.config)
                .with_context(|| format!("cache record {} has a bad image config", r.key))?;
            let mut layers = Vec::with_capacity(r.layers.len());
            for l in r.layers {
                let diff_id = Digest::parse(&l.diff_id)
                    .with_context(|| format!("cache record {}: bad diffID", r.key))?;
                self.blob_sources
                    .entry(l.blob.digest.clone())
                    .or_insert(source_index);
                layers.push(LayerRef {
                    diff_id,
                    blob: l.blob,
                });
            }
            if image.rootfs.diff_ids.len() != layers.len() {
                bail!("cache record {} lists layers its config does not", r.key);
            }
            if self.records.insert(r.key, (image, layers)).is_none() {
                added += 1;
            }
        }
        if spec.cache_mounts {
            for m in config.mounts {
                for d in m.blobs() {
                    self.blob_sources
                        .entry(d.digest.clone())
                        .or_insert(source_index);
                }
                self.mounts.entry(m.key().hex().to_string()).or_insert(m);
            }
        }
        Ok(added)
    }

    /// Downloads (or copies from the cache directory) the blobs of
    /// `layers` that the store does not have.
    pub async fn fetch_missing(
        &self,
        store: &Store,
        client: &RegistryClient,
        layers: &[LayerRef],
    ) -> Result<()> {
        let blobs: Vec<&Descriptor> = layers.iter().map(|l| &l.blob).collect();
        self.fetch_blobs(store, client, &blobs).await
    }

    /// Downloads (or copies) the blobs of `wanted` the store lacks, each
    /// verified against its digest.
    pub async fn fetch_blobs(
        &self,
        store: &Store,
        client: &RegistryClient,
        wanted: &[&Descriptor],
    ) -> Result<()> {
        let mut todo: Vec<&Descriptor> = Vec::new();
        for &b in wanted {
            if !store.has_blob(&b.digest) && !todo.iter().any(|d| d.digest == b.digest) {
                todo.push(b);
            }
        }
        futures::stream::iter(todo.into_iter().map(|d| async move {
            let source = self
                .blob_sources
                .get(&d.digest)
                .and_then(|&i| self.sources.get(i))
                .ok_or_else(|| {
                    anyhow!(
                        "layer {} is neither in the store nor in an imported cache",
                        d.digest
                    )
                })?;
            match source {
                Source::Registry(a) => fetch_artifact_blob(client, store, a, d)
                    .await
                    .map(|_| ())
                    .with_context(|| {
                        format!("fetching cached layer {} from {}", d.digest, a.reference)
                    }),
                Source::Local(dir) => {
                    let path = local_blob_path(dir, &d.digest);
                    store
                        .put_blob_file(&path, Some(&d.digest))
                        .map(|_| ())
                        .with_context(|| format!("copying cached layer from {}", dir.display()))
                }
            }
        }))
        .buffer_unordered(CONCURRENT_FETCHES)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(())
    }
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    /// Step records exported.
    pub records: usize,
    /// Layer blobs the manifest names.
    pub layers: usize,
    /// The cache manifest's digest.
    pub digest: Digest,
    /// Cache mounts exported.
    pub mounts: usize,
}

/// Exports `steps` to `spec`'s location. Built layers (stored as plain
/// tars) are compressed as `spec.compression` says, once per variant.
/// `mounts` (their blobs in the store) are written beside the records.
pub async fn export(
    store: &Store,
    client: &RegistryClient,
    spec: &CacheSpec,
    steps: &[StepOutcome],
    mounts: &[ExportedMount],
) -> Result<ExportSummary> {
    let mut exported: BTreeMap<String, ExportedRecord> = BTreeMap::new();
    let mut blobs: Vec<Descriptor> = Vec::new();
    let mut converted: HashMap<Digest, Descriptor> = HashMap::new();
    for step in steps {
        if exported.contains_key(&step.key) {
            continue;
        }
        let mut layers = Vec::with_capacity(step.layers.len());
        for l in &step.layers {
            let blob = match converted.get(&l.blob.digest) {
                Some(d) => d.clone(),
                None => {
                    let d = export_blob(store, &l.blob, spec)?;
                    converted.insert(l.blob.digest.clone(), d.clone());
                    if !blobs.iter().any(|b| b.digest == d.digest) {
                        blobs.push(d.clone());
                    }
                    d
                }
            };
            layers.push(ExportedLayer {
                diff_id: l.diff_id.to_string(),
                blob,
            });
        }
        exported.insert(
            step.key.clone(),
            ExportedRecord {
                key: step.key.clone(),
                config: serde_json::to_value(&step.config)?,
                layers,
            },
        );
    }
    let records = exported.len();
    for d in mounts.iter().flat_map(ExportedMount::blobs) {
        if !blobs.iter().any(|b| b.digest == d.digest) {
            blobs.push(d.clone());
        }
    }
    let config = serde_json::to_vec(&CacheConfig {
        version: FORMAT_VERSION,
        records: exported.into_values().collect(),
        mounts: mounts.to_vec(),
    })?;
    let config_digest = store.put_blob_bytes(&config, None)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": Descriptor::new(CACHE_CONFIG_TYPE, config_digest.clone(), config.len() as u64),
        "layers": blobs,
    });
    let manifest = serde_json::to_vec(&manifest)?;
    let digest = Digest::of(&manifest);
    match &spec.location {
        CacheLocation::Registry(r) => {
            store.put_blob_bytes(&manifest, Some(&digest))?;
            crate::registry::push_manifest_bytes(
                client,
                store,
                manifest,
                OCI_MANIFEST.to_string(),
                std::slice::from_ref(r),
                &[],
            )
            .await
            .with_context(|| format!("exporting the build cache to {r}"))?;
        }
        CacheLocation::Local(dir) => {
            write_local(store, dir, &config_digest, &blobs, &manifest, &digest)
                .with_context(|| format!("exporting the build cache to {}", dir.display()))?;
        }
    }
    Ok(ExportSummary {
        records,
        layers: blobs.len(),
        digest,
        mounts: mounts.len(),
    })
}

/// The descriptor a layer is exported as: plain tars built here are
/// compressed (memoised per variant); pulled layers go as they are.
fn export_blob(store: &Store, blob: &Descriptor, spec: &CacheSpec) -> Result<Descriptor> {
    let plain = blob.media_type == OCI_LAYER_TAR || blob.media_type.ends_with(".diff.tar");
    let algorithm = spec.compression.algorithm.unwrap_or_default();
    if !plain || algorithm == Compression::Uncompressed {
        return Ok(blob.clone());
    }
    let (digest, size) = crate::registry::convert::compress_layer_with(
        store,
        &blob.digest,
        algorithm,
        spec.compression.level,
    )?;
    let media_type = if algorithm == Compression::Zstd {
        OCI_LAYER_ZSTD
    } else {
        OCI_LAYER_GZIP
    };
    Ok(Descriptor::new(media_type, digest, size))
}

#[derive(Debug, Deserialize)]
struct CacheManifest {
    config: Descriptor,
}

fn parse_manifest(bytes: &[u8]) -> Result<CacheManifest> {
    let m: CacheManifest =
        serde_json::from_slice(bytes).context("the cache manifest is not an OCI manifest")?;
    if m.config.media_type != CACHE_CONFIG_TYPE {
        bail!(
            "the reference is not a builder cache (its config is a {}); export one with --cache-to",
            m.config.media_type
        );
    }
    Ok(m)
}

fn local_blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs").join("sha256").join(digest.hex())
}

fn read_local_blob(dir: &Path, digest: &Digest) -> Result<Vec<u8>> {
    let path = local_blob_path(dir, digest);
    let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if Digest::of(&bytes) != *digest {
        bail!("{} does not match its digest", path.display());
    }
    Ok(bytes)
}

/// The cache manifest of the layout at `dir`; `None` when there is no
/// layout there yet.
fn read_local_manifest(dir: &Path) -> Result<Option<CacheManifest>> {
    let index_path = dir.join("index.json");
    let index = match fs::read(&index_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", index_path.display())),
    };
    let index: serde_json::Value = serde_json::from_slice(&index)
        .with_context(|| format!("{} is not JSON", index_path.display()))?;
    let entries: Vec<Descriptor> =
        serde_json::from_value(index.get("manifests").cloned().unwrap_or_default())
            .with_context(|| format!("{} has bad entries", index_path.display()))?;
    let entry = entries
        .iter()
        .rev()
        .find(|d| d.media_type == OCI_MANIFEST)
        .ok_or_else(|| anyhow!("{} names no manifest", index_path.display()))?;
    Ok(Some(parse_manifest(&read_local_blob(dir, &entry.digest)?)?))
}

/// Writes an OCI layout at `dir`: blobs first, `index.json` last, each
/// through a temp file and a rename, so a reader never sees a manifest
/// whose blobs are missing.
fn write_local(
    store: &Store,
    dir: &Path,
    config: &Digest,
    layers: &[Descriptor],
    manifest: &[u8],
    digest: &Digest,
) -> Result<()> {
    let blob_dir = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blob_dir).with_context(|| format!("creating {}", blob_dir.display()))?;
    for d in std::iter::once(config).chain(layers.iter().map(|l| &l.digest)) {
        let target = local_blob_path(dir, d);
        if target.exists() {
            continue;
        }
        copy_atomic(&store.blob_path(d), &target)?;
    }
    fsutil::write_atomic(&local_blob_path(dir, digest), manifest, 0o644)?;
    fsutil::write_atomic(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        0o644,
    )?;
    let mut entry = Descriptor::new(OCI_MANIFEST, digest.clone(), manifest.len() as u64);
    entry.annotations.insert(
        crate::store::descriptor::REF_NAME_ANNOTATION.to_string(),
        "latest".to_string(),
    );
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry],
    });
    fsutil::write_atomic(&dir.join("index.json"), &serde_json::to_vec(&index)?, 0o644)
}

fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let parent = to.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("creating a temp file in {}", parent.display()))?;
    let mut src = fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    std::io::copy(&mut src, tmp.as_file_mut())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    tmp.persist(to)
        .map_err(|e| anyhow!("renaming into {}: {}", to.display(), e.error))?;
    Ok(())
}
