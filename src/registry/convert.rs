//! Preparing a stored image to leave the machine: media-type conversion
//! (`--format oci|docker`) and compression of layers that are stored
//! uncompressed (built layers are kept as plain tars, see DESIGN.md).
//!
//! If nothing needs changing the manifest bytes are returned untouched, so
//! a pulled image is pushed with the digest it was pulled with.
//!
//! Compression is gzip by `crate::layer::compress` at its default level,
//! remembered in `ROOT/cache/compressed/<blob-hex>.gzip` so each layer is
//! compressed once.

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::store::descriptor::{
    Descriptor, DOCKER_CONFIG, DOCKER_LAYER_FOREIGN, DOCKER_LAYER_GZIP, DOCKER_MANIFEST,
    OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use crate::store::{fsutil, Digest, Store};

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
    let memo_dir = store.cache_dir().join("compressed");
    let suffix = match (algorithm, level) {
        (crate::layer::Compression::Gzip, None) => "gzip".to_string(),
        (a, None) => format!("{a:?}").to_lowercase(),
        (a, Some(l)) => format!("{}-{l}", format!("{a:?}").to_lowercase()),
    };
    let memo = memo_dir.join(format!("{}.{suffix}", blob.hex()));
    if let Ok(text) = std::fs::read_to_string(&memo) {
        if let Some((d, n)) = text.trim().split_once(' ') {
            if let (Ok(d), Ok(n)) = (Digest::parse(d), n.parse::<u64>()) {
                if store.has_blob(&d) {
                    return Ok((d, n));
                }
            }
        }
    }
    // The layer module's streaming compressor (digest computed in the same
    // pass); its temp file lands in the store's tmp dir and is adopted.
    let raw = std::io::BufReader::new(store.open_blob(blob)?);
    let (_, plain) =
        crate::layer::decompress(raw).with_context(|| format!("reading layer {blob}"))?;
    let c = crate::layer::compress(plain, &store.tmp_dir(), algorithm, level)
        .with_context(|| format!("compressing layer {blob}"))?;
    let d = Digest::parse(&c.digest.to_string())?;
    let n = c.size;
    store.adopt_blob(&c.path, &d, n)?;
    fsutil::write_atomic(&memo, format!("{d} {n}\n").as_bytes(), 0o644)?;
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
pub fn prepare_export_with(
    store: &Store,
    manifest: &Descriptor,
    format: Option<ManifestFormat>,
    compression: ExportCompression,
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
    let target = match format {
        Some(ManifestFormat::Oci) => OCI_MANIFEST,
        Some(ManifestFormat::Docker) => DOCKER_MANIFEST,
        None => current.as_str(),
    }
    .to_string();
    let docker = target == DOCKER_MANIFEST;
    let mut changed = target != current;
    let layers = doc
        .get_mut("layers")
        .and_then(Value::as_array_mut)
        .context("manifest has no layers array")?;
    for l in layers.iter_mut() {
        let mt = l
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let digest = Digest::parse(l.get("digest").and_then(Value::as_str).unwrap_or_default())
            .context("manifest layer without a valid digest")?;
        let comp = compression_of(&mt)?;
        use crate::layer::Compression as Algo;
        // Docker's schema2 has no zstd layers: gzip there.
        let wanted = match compression.algorithm.unwrap_or(Algo::Gzip) {
            Algo::Zstd if docker => Algo::Gzip,
            a => a,
        };
        let keep_plain = comp == Compression::None && wanted == Algo::Uncompressed;
        let recompress =
            (comp == Compression::None && !keep_plain) || (docker && comp == Compression::Zstd);
        let mut comp = comp;
        if recompress {
            let algo = if comp == Compression::None {
                wanted
            } else {
                Algo::Gzip
            };
            let (d, n) = compress_layer_with(store, &digest, algo, compression.level)?;
            l["digest"] = Value::String(d.to_string());
            l["size"] = Value::from(n);
            comp = if algo == Algo::Zstd {
                Compression::Zstd
            } else {
                Compression::Gzip
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
        if recompress || new_mt != mt {
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
    let bytes = serde_json::to_vec(&doc)?;
    store.put_blob_bytes(&bytes, None)?;
    Ok((bytes, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn image(store: &Store, layer_mt: &str, layer: &[u8]) -> Descriptor {
        let l = store.put_blob_bytes(layer, None).unwrap();
        let c = store.put_blob_bytes(b"{}", None).unwrap();
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": c.to_string(), "size": 2},
            "layers": [{"mediaType": layer_mt, "digest": l.to_string(), "size": layer.len()}],
            "annotations": {"a": "b"}
        });
        let b = serde_json::to_vec(&m).unwrap();
        let d = store.put_blob_bytes(&b, None).unwrap();
        Descriptor::new(OCI_MANIFEST, d, b.len() as u64)
    }

    #[test]
    fn keeps_bytes_when_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"tar").unwrap();
        let m = image(&s, OCI_LAYER_GZIP, &gz.finish().unwrap());
        let (b, mt) = prepare_export(&s, &m, None).unwrap();
        assert_eq!(Digest::of(&b), m.digest);
        assert_eq!(mt, OCI_MANIFEST);
        let (b, mt) = prepare_export(&s, &m, Some(ManifestFormat::Oci)).unwrap();
        assert_eq!(Digest::of(&b), m.digest);
        let (b, mt2) = prepare_export(&s, &m, Some(ManifestFormat::Docker)).unwrap();
        assert_eq!(mt2, DOCKER_MANIFEST);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["layers"][0]["mediaType"], DOCKER_LAYER_GZIP);
        assert_eq!(v["config"]["mediaType"], DOCKER_CONFIG);
        assert!(v.get("annotations").is_none());
        assert_eq!(mt, OCI_MANIFEST);
    }

    #[test]
    fn compresses_plain_layers_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let m = image(&s, OCI_LAYER_TAR, &[7u8; 10000]);
        let (b, _) = prepare_export(&s, &m, None).unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["layers"][0]["mediaType"], OCI_LAYER_GZIP);
        let d = Digest::parse(v["layers"][0]["digest"].as_str().unwrap()).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(s.open_blob(&d).unwrap())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, vec![7u8; 10000]);
        let (b2, _) = prepare_export(&s, &m, None).unwrap();
        assert_eq!(b, b2, "compression must be deterministic / memoised");
    }
}
