//! Preparing a stored image to leave the machine: media-type conversion
//! (`--format oci|docker`) and compression of layers that are stored
//! uncompressed (built layers are kept as plain tars, see DESIGN.md).
//!
//! If nothing needs changing the manifest bytes are returned untouched, so
//! a pulled image is pushed with the digest it was pulled with.
//!
//! Compression here is gzip via flate2 at the default level, remembered in
//! `ROOT/cache/compressed/<diffid-hex>.gzip` so each layer is compressed
//! once. When the `layer` module's `compress` (zstd, levels, both cores)
//! lands, [`compress_layer`] is the one place to call it from.

use std::io::{Read, Write};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::store::descriptor::{
    Descriptor, DOCKER_CONFIG, DOCKER_LAYER_FOREIGN, DOCKER_LAYER_GZIP, DOCKER_MANIFEST,
    OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use crate::store::{decompress, fsutil, Digest, Store};

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

/// Compresses the (possibly compressed) layer blob `blob` to gzip, storing
/// the result; memoised by the layer's uncompressed digest.
pub fn compress_layer(store: &Store, blob: &Digest) -> Result<(Digest, u64)> {
    let memo_dir = store.cache_dir().join("compressed");
    let memo = memo_dir.join(format!("{}.gzip", blob.hex()));
    if let Ok(text) = std::fs::read_to_string(&memo) {
        if let Some((d, n)) = text.trim().split_once(' ') {
            if let (Ok(d), Ok(n)) = (Digest::parse(d), n.parse::<u64>()) {
                if store.has_blob(&d) {
                    return Ok((d, n));
                }
            }
        }
    }
    let mut input = decompress(store.open_blob(blob)?)?;
    let writer = store.blob_writer()?;
    let mut gz = flate2::write::GzEncoder::new(writer, flate2::Compression::default());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input
            .read(&mut buf)
            .with_context(|| format!("reading layer {blob}"))?;
        if n == 0 {
            break;
        }
        gz.write_all(&buf[..n]).context("compressing layer")?;
    }
    let (d, n) = gz
        .finish()
        .context("finishing gzip stream")?
        .commit(None, None)?;
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
        let recompress = comp == Compression::None || (docker && comp == Compression::Zstd);
        if recompress {
            let (d, n) = compress_layer(store, &digest)?;
            l["digest"] = Value::String(d.to_string());
            l["size"] = Value::from(n);
        }
        let new_mt = match (comp, docker) {
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
