//! Tests of export preparation: untouched manifests, compression memoised
//! per layer, the media-type conversion rules and forced conversion.

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

#[test]
fn conversion_rules() {
    use crate::layer::Compression as A;
    // Plain layers always take the wanted compression.
    assert_eq!(
        conversion(Compression::None, A::Zstd, false, false),
        Some(A::Zstd)
    );
    assert_eq!(
        conversion(Compression::None, A::Uncompressed, false, false),
        None
    );
    // Compressed layers are kept unless forced.
    assert_eq!(conversion(Compression::Gzip, A::Zstd, false, false), None);
    assert_eq!(
        conversion(Compression::Gzip, A::Zstd, false, true),
        Some(A::Zstd)
    );
    assert_eq!(
        conversion(Compression::Gzip, A::Uncompressed, false, true),
        Some(A::Uncompressed)
    );
    // Docker media types have no zstd here.
    assert_eq!(
        conversion(Compression::None, A::Zstd, true, false),
        Some(A::Gzip)
    );
    assert_eq!(
        conversion(Compression::Zstd, A::Zstd, true, false),
        Some(A::Gzip)
    );
    // Foreign layers are never rewritten.
    assert_eq!(conversion(Compression::Foreign, A::Zstd, false, true), None);
}

#[test]
fn forced_export_converts_every_layer_and_keeps_platform() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&[5u8; 4096]).unwrap();
    let mut m = image(&s, OCI_LAYER_GZIP, &gz.finish().unwrap());
    m.platform = Some(crate::store::Platform::host());
    let opts = ExportOptions {
        format: Some(ManifestFormat::Oci),
        compression: ExportCompression::parse("zstd", Some(19)).unwrap(),
        force: true,
    };
    let d = export_manifest(&s, &m, &opts).unwrap();
    assert_ne!(d.digest, m.digest);
    assert_eq!(d.platform, m.platform);
    let v: Value = serde_json::from_slice(&s.read_blob(&d.digest).unwrap()).unwrap();
    assert_eq!(v["layers"][0]["mediaType"], OCI_LAYER_ZSTD);
    let l = Digest::parse(v["layers"][0]["digest"].as_str().unwrap()).unwrap();
    let back = zstd::decode_all(s.open_blob(&l).unwrap()).unwrap();
    assert_eq!(back, vec![5u8; 4096]);
    let memo = variant_memo(
        &s,
        &m_layer(&s, &m),
        crate::layer::Compression::Zstd,
        Some(19),
    );
    assert!(memo.unwrap().is_file());
    // Unforced, the gzip layer is kept and nothing changes.
    let keep = ExportOptions {
        force: false,
        ..opts
    };
    assert_eq!(export_manifest(&s, &m, &keep).unwrap().digest, m.digest);
    assert!(ExportCompression::parse("gzip", Some(10)).is_err());
}

fn m_layer(s: &Store, m: &Descriptor) -> Digest {
    let v: Value = serde_json::from_slice(&s.read_blob(&m.digest).unwrap()).unwrap();
    Digest::parse(v["layers"][0]["digest"].as_str().unwrap()).unwrap()
}
