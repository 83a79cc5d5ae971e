//! Preparing a stored image to leave the machine: media-type conversion
//! (`--format oci|docker`) and compression of layers that are stored
//! uncompressed (built layers are kept as plain tars, see DESIGN.md).
//!
//! If nothing needs changing the manifest bytes are returned untouched, so
//! a pulled image is pushed with the digest it was pulled with.
//!
//! Compression is by `crate::layer::compress` (gzip at its default level
//! unless told otherwise), remembered per (layer blob, algorithm, level) in
//! `ROOT/cache/compressed/` (see [`variant_memo`]) so each variant is made
//! once. Pushes and archives (`save`, `build --output type=oci|docker`)
//! share this code; several layers are converted at once on every core.

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::store::descriptor::{
    Descriptor, DOCKER_CONFIG, DOCKER_LAYER_FOREIGN, DOCKER_LAYER_GZIP, DOCKER_MANIFEST,
    OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use crate::store::{Digest, Store};

/// The manifest format to push or save in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    /// OCI media types.
    Oci,
    /// Docker schema2 media types (gzip layers only).
    Docker,
}

const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
const OCI_NONDIST_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
    Foreign,
}

fn compression_of(mt: &str) -> Result<Compression> {
    Ok(match mt {
        OCI_LAYER_TAR | DOCKER_LAYER_TAR => Compression::None,
        OCI_LAYER_GZIP | DOCKER_LAYER_GZIP => Compression::Gzip,
        OCI_LAYER_ZSTD => Compression::Zstd,
        DOCKER_LAYER_FOREIGN | OCI_NONDIST_GZIP => Compression::Foreign,
        other => bail!("unsupported layer media type {other}"),
    })
}

/// How layers stored uncompressed are compressed when they leave the store
/// (`--compression`, `--compression-level`); gzip at its default level
/// unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportCompression {
    /// The algorithm (`Uncompressed` keeps plain tars).
    pub algorithm: Option<crate::layer::Compression>,
    /// The level (the algorithm's default when `None`).
    pub level: Option<i32>,
}

impl ExportCompression {
    /// `--compression ALGO` and `--compression-level N`, checked
    /// (`uncompressed`/`none`, `gzip`, `zstd`; gzip 0-9, zstd -7-22).
    pub fn parse(algorithm: &str, level: Option<i32>) -> Result<ExportCompression> {
        let algo: crate::layer::Compression = algorithm.parse()?;
        let level = level.map(|l| algo.check_level(l)).transpose()?;
        Ok(ExportCompression {
            algorithm: Some(algo),
            level,
        })
    }
}

/// Where the variant (`blob`, `algorithm`, `level`) of a layer is
/// remembered: `ROOT/cache/compressed/<blob-hex>.<algorithm>-<level>`
/// (just `.uncompressed` for plain tars), holding "<digest> <size>".
/// The level is resolved first, so "default" and its number share a file.
pub fn variant_memo(
    store: &Store,
    blob: &Digest,
    algorithm: crate::layer::Compression,
    level: Option<i32>,
) -> Result<std::path::PathBuf> {
    let suffix = match algorithm {
        crate::layer::Compression::Uncompressed => algorithm.to_string(),
        a => {
            let l = a.check_level(level.unwrap_or(a.default_level()))?;
            format!("{a}-{l}")
        }
    };
    Ok(store
        .cache_dir()
        .join("compressed")
        .join(format!("{}.{suffix}", blob.hex())))
}

/// Compresses the (possibly compressed) layer blob `blob` to gzip, storing
/// the result; memoised by the layer's uncompressed digest.
pub fn compress_layer(store: &Store, blob: &Digest) -> Result<(Digest, u64)> {
    compress_layer_with(store, blob, crate::layer::Compression::Gzip, None)
}

/// Like [`compress_layer`] with a chosen algorithm and level; each
/// (layer, algorithm, level) variant is made once and remembered.
pub fn compress_layer_with(
    store: &Store,
    blob: &Digest,
    algorithm: crate::layer::Compression,
    level: Option<i32>,
) -> Result<(Digest, u64)> {
    if let Some(done) = remembered_variant(store, blob, algorithm, level)? {
        return Ok(done);
    }
    compress_layer_tee(store, blob, algorithm, level, None)
}

/// The remembered variant (digest, size) of `blob`, if it was made and is still stored.
pub fn remembered_variant(
    store: &Store,
    blob: &Digest,
    algorithm: crate::layer::Compression,
    level: Option<i32>,
) -> Result<Option<(Digest, u64)>> {
    let memo = variant_memo(store, blob, algorithm, level)?;
    if let Ok(text) = std::fs::read_to_string(&memo) {
        if let Some((d, n)) = text.trim().split_once(' ') {
            if let (Ok(d), Ok(n)) = (Digest::parse(d), n.parse::<u64>()) {
                if store.has_blob(&d) {
                    return Ok(Some((d, n)));
                }
            }
        }
    }
    Ok(None)
}

/// Makes (always) and remembers the variant of `blob`, handing the compressed bytes to `tee` as
/// they are written too (see [`crate::layer::compress_tee`]): a push uploads them meanwhile.
pub fn compress_layer_tee(
    store: &Store,
    blob: &Digest,
    algorithm: crate::layer::Compression,
    level: Option<i32>,
    tee: Option<Box<dyn std::io::Write + Send + '_>>,
) -> Result<(Digest, u64)> {
    let memo = variant_memo(store, blob, algorithm, level)?;
    // The layer module's streaming compressor (digest computed in the same
    // pass); its temp file lands in the store's tmp dir and is adopted.
    let raw = std::io::BufReader::new(store.open_blob(blob)?);
    let (_, plain) =
        crate::layer::decompress(raw).with_context(|| format!("reading layer {blob}"))?;
    let c = crate::layer::compress_tee(plain, &store.temp_dir()?, algorithm, level, tee)
        .with_context(|| format!("compressing layer {blob}"))?;
    let d = Digest::parse(&c.digest.to_string())?;
    let n = c.size;
    store.adopt_blob(&c.path, &d, n)?;
    store.write_file(&memo, format!("{d} {n}\n").as_bytes(), 0o644)?;
    Ok((d, n))
}

/// Returns the manifest bytes and media type to export `manifest` as,
/// storing converted blobs (config, compressed layers, manifest).
pub fn prepare_export(
    store: &Store,
    manifest: &Descriptor,
    format: Option<ManifestFormat>,
) -> Result<(Vec<u8>, String)> {
    prepare_export_with(store, manifest, format, ExportCompression::default())
}

/// Like [`prepare_export`], compressing plain layers as `compression` says.
/// Layers that are already compressed keep their blobs (a push can then
/// skip or mount them); see [`ExportOptions::force`] to recompress them.
pub fn prepare_export_with(
    store: &Store,
    manifest: &Descriptor,
    format: Option<ManifestFormat>,
    compression: ExportCompression,
) -> Result<(Vec<u8>, String)> {
    prepare_export_opts(
        store,
        manifest,
        &ExportOptions {
            format,
            compression,
            force: false,
        },
    )
}

/// Everything an export may change about an image's manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Convert the manifest's media types (`None` keeps the stored format).
    pub format: Option<ManifestFormat>,
    /// The layer compression wanted.
    pub compression: ExportCompression,
    /// Recompress layers that are already compressed another way too
    /// (BuildKit's `force-compression=true`; `save` always forces, as
    /// `docker save` writes every layer the same way).
    pub force: bool,
}

/// The algorithm a layer blob must be converted to, if any.
fn conversion(
    comp: Compression,
    wanted: crate::layer::Compression,
    docker: bool,
    force: bool,
) -> Option<crate::layer::Compression> {
    use crate::layer::Compression as Algo;
    // Docker's schema2 has no zstd layers here: gzip there.
    let wanted = match wanted {
        Algo::Zstd if docker => Algo::Gzip,
        a => a,
    };
    let have = match comp {
        // Foreign (non-distributable) layers are referenced, never rewritten.
        Compression::Foreign => return None,
        Compression::None => Algo::Uncompressed,
        Compression::Gzip => Algo::Gzip,
        Compression::Zstd => Algo::Zstd,
    };
    if have == wanted {
        None
    } else if have == Algo::Uncompressed || force {
        Some(wanted)
    } else if have == Algo::Zstd && docker {
        Some(Algo::Gzip)
    } else {
        None
    }
}

/// Runs `jobs` (layer blob, target algorithm) on up to
/// `available_parallelism` threads, biggest blob first, so several large
/// layers use every core; results are in the order of `jobs`.
fn convert_layers(
    store: &Store,
    jobs: &[(Digest, crate::layer::Compression)],
    level: Option<i32>,
) -> Vec<Result<(Digest, u64)>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len());
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(std::fs::metadata(store.blob_path(&jobs[i].0)).map_or(0, |m| m.len()))
    });
    let next = AtomicUsize::new(0);
    type Slot = Mutex<Option<Result<(Digest, u64)>>>;
    let results: Vec<Slot> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let (blob, algo) = &jobs[i];
                    let r = compress_layer_with(store, blob, *algo, level);
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(anyhow::anyhow!("layer conversion worker did not run")))
        })
        .collect()
}

/// Like [`prepare_export`] with every option: returns the manifest bytes
/// and media type, storing converted blobs (layers, manifest).
pub fn prepare_export_opts(
    store: &Store,
    manifest: &Descriptor,
    opts: &ExportOptions,
) -> Result<(Vec<u8>, String)> {
    let original = store.read_blob(&manifest.digest)?;
    let mut doc: Value = serde_json::from_slice(&original)
        .with_context(|| format!("parsing manifest {}", manifest.digest))?;
    let current = doc
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or(&manifest.media_type)
        .to_string();
    if current != OCI_MANIFEST && current != DOCKER_MANIFEST {
        bail!(
            "{} is a {current}; only image manifests can be exported",
            manifest.digest
        );
    }
    let target = match opts.format {
        Some(ManifestFormat::Oci) => OCI_MANIFEST,
        Some(ManifestFormat::Docker) => DOCKER_MANIFEST,
        None => current.as_str(),
    }
    .to_string();
    let docker = target == DOCKER_MANIFEST;
    let mut changed = target != current;
    let wanted = opts
        .compression
        .algorithm
        .unwrap_or(crate::layer::Compression::Gzip);
    let layers = doc
        .get_mut("layers")
        .and_then(Value::as_array_mut)
        .context("manifest has no layers array")?;
    // First decide every layer's conversion, then run them together.
    let mut plan = Vec::with_capacity(layers.len());
    let mut jobs: Vec<(Digest, crate::layer::Compression)> = Vec::new();
    for l in layers.iter() {
        let mt = l
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let digest = Digest::parse(l.get("digest").and_then(Value::as_str).unwrap_or_default())
            .context("manifest layer without a valid digest")?;
        let comp = compression_of(&mt)?;
        let job = conversion(comp, wanted, docker, opts.force).map(|algo| {
            let key = (digest.clone(), algo);
            // A layer listed twice is converted once.
            jobs.iter().position(|j| *j == key).unwrap_or_else(|| {
                jobs.push(key);
                jobs.len() - 1
            })
        });
        plan.push((mt, comp, job));
    }
    let converted = convert_layers(store, &jobs, opts.compression.level);
    let converted: Vec<(Digest, u64)> = converted
        .into_iter()
        .zip(&jobs)
        .map(|(r, (blob, algo))| r.with_context(|| format!("converting layer {blob} to {algo}")))
        .collect::<Result<_>>()?;
    for (l, (mt, comp, job)) in layers.iter_mut().zip(plan) {
        let mut comp = comp;
        if let Some(j) = job {
            let (d, n) = &converted[j];
            l["digest"] = Value::String(d.to_string());
            l["size"] = Value::from(*n);
            comp = match jobs[j].1 {
                crate::layer::Compression::Gzip => Compression::Gzip,
                crate::layer::Compression::Zstd => Compression::Zstd,
                crate::layer::Compression::Uncompressed => Compression::None,
            };
        }
        let new_mt = match (comp, docker) {
            (Compression::None, true) => DOCKER_LAYER_TAR,
            (Compression::None, false) => OCI_LAYER_TAR,
            (Compression::Foreign, true) => DOCKER_LAYER_FOREIGN,
            (Compression::Foreign, false) => OCI_NONDIST_GZIP,
            (Compression::Zstd, false) => OCI_LAYER_ZSTD,
            (_, true) => DOCKER_LAYER_GZIP,
            (_, false) => OCI_LAYER_GZIP,
        };
        if job.is_some() || new_mt != mt {
            l["mediaType"] = Value::String(new_mt.to_string());
            changed = true;
        }
    }
    let cfg_mt = if docker { DOCKER_CONFIG } else { OCI_CONFIG };
    if doc.pointer("/config/mediaType").and_then(Value::as_str) != Some(cfg_mt) {
        doc["config"]["mediaType"] = Value::String(cfg_mt.to_string());
        changed = true;
    }
    if !changed {
        return Ok((original, current));
    }
    doc["mediaType"] = Value::String(target.clone());
    if docker {
        // Docker schema2 has no annotations or subject.
        if let Some(o) = doc.as_object_mut() {
            o.remove("annotations");
            o.remove("subject");
            o.remove("artifactType");
        }
    }
    // Written as BuildKit writes manifests (and as the store keeps built
    // ones): an image whose layers were already compressed keeps its stored
    // bytes above, one converted here gets the same shape, so both push the
    // same digest (e.g. a build served by `--cache-from` and a cold one).
    let bytes = crate::image::Manifest::from_slice(&serde_json::to_vec(&doc)?)
        .context("re-reading the converted manifest")?
        .canonical()
        .context("encoding the converted manifest")?
        .bytes;
    store.put_blob_bytes(&bytes, None)?;
    Ok((bytes, target))
}

/// Prepares `manifest` for an archive or other export (see
/// [`prepare_export_opts`]) and returns the descriptor of the manifest to
/// write, stored in the store, keeping `manifest`'s platform and
/// annotations. The config is never rewritten (only its media type when
/// the format changes), so the image ID stays the same.
pub fn export_manifest(
    store: &Store,
    manifest: &Descriptor,
    opts: &ExportOptions,
) -> Result<Descriptor> {
    let (bytes, media_type) = prepare_export_opts(store, manifest, opts)?;
    let mut d = manifest.clone();
    d.digest = Digest::of(&bytes);
    d.size = bytes.len() as u64;
    d.media_type = media_type;
    Ok(d)
}

#[cfg(test)]
mod tests;
