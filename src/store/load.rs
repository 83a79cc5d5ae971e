//! `builder load`: images from a docker-archive or OCI archive into the
//! store, as `docker load` reads them.
//!
//! Two layouts are read, streamed in one pass (stdin cannot be re-read):
//! - an OCI image layout in a tar (`index.json` + `blobs/sha256/…`), as
//!   `docker save` (Docker 25+), `builder save`, buildx `type=oci|docker`
//!   and skopeo `oci-archive:` write; names come from the index entries'
//!   `io.containerd.image.name` annotation, else a full reference in
//!   `org.opencontainers.image.ref.name`, else `manifest.json`'s `RepoTags`;
//! - the legacy docker-archive (`manifest.json` naming `Config` and
//!   `Layers` files, Docker < 25): an OCI manifest is written for it, its
//!   layers stored as they are (plain or gzip tars).
//!
//! The archive itself may be gzip- or zstd-compressed. Blobs under
//! `blobs/sha256/` are verified against their names.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::descriptor::{
    is_index, is_manifest, Descriptor, OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD,
    OCI_MANIFEST, REF_NAME_ANNOTATION,
};
use super::digest::Digest;
use super::Store;

/// Files other than blobs larger than this are layers (legacy archives),
/// streamed into the store; smaller ones are kept in memory too.
const SMALL_FILE: u64 = 1 << 20;

/// One image an archive held.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// Full reference names (`docker.io/library/ubuntu:16.04`) to tag; empty
    /// when the archive names none.
    pub names: Vec<String>,
    /// The manifest or index.
    pub descriptor: Descriptor,
    /// The image ID: the config digest (or the index digest).
    pub id: Digest,
}

/// A file of the archive: in memory (small) and/or stored as a blob.
#[derive(Default)]
struct Entry {
    bytes: Option<Vec<u8>>,
    blob: Option<(Digest, u64)>,
}

/// Reads an archive from `input` into `store`; `normalize` turns a name
/// from the archive into the store's full reference name (`None` skips it).
/// The caller tags the returned images.
pub fn load_archive(
    store: &Store,
    input: impl Read + Send,
    normalize: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<LoadedImage>> {
    let reader = super::snapshot::decompress(input)?;
    let mut tar = tar::Archive::new(reader);
    let mut files: BTreeMap<String, Entry> = BTreeMap::new();
    for entry in tar.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().context("an archive entry's path")?;
        let path = path.to_string_lossy().trim_start_matches("./").to_string();
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let want = Digest::from_hex(hex)
                .with_context(|| format!("archive entry {path} is not named by its digest"))?;
            let stored = store
                .put_blob_reader(&mut entry, Some(&want))
                .with_context(|| format!("storing {path}"))?;
            files.entry(path).or_default().blob = Some(stored);
        } else if entry.size() <= SMALL_FILE {
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {path}"))?;
            let blob = (Digest::of(&bytes), bytes.len() as u64);
            files.insert(
                path,
                Entry {
                    bytes: Some(bytes),
                    blob: Some(blob),
                },
            );
        } else {
            let stored = store
                .put_blob_reader(&mut entry, None)
                .with_context(|| format!("storing {path}"))?;
            files.entry(path).or_default().blob = Some(stored);
        }
    }
    let json_file = |name: &str| -> Result<Option<Value>> {
        match files.get(name).and_then(|e| e.bytes.as_ref()) {
            Some(b) => serde_json::from_slice(b)
                .map(Some)
                .with_context(|| format!("{name} in the archive is not JSON")),
            None => Ok(None),
        }
    };
    let docker_manifest = json_file("manifest.json")?;
    // RepoTags by config path, for archives whose index names nothing.
    let mut repo_tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(Value::Array(entries)) = &docker_manifest {
        for e in entries {
            let config = e["Config"].as_str().unwrap_or_default().to_string();
            let tags = e["RepoTags"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(String::from))
                .into_iter()
                .flatten();
            repo_tags.entry(config).or_default().extend(tags);
        }
    }
    if let Some(index) = json_file("index.json")? {
        return from_index(store, &index, &repo_tags, normalize);
    }
    let Some(Value::Array(entries)) = docker_manifest else {
        bail!("the archive has neither index.json (OCI layout) nor manifest.json (docker-archive)");
    };
    let mut out = Vec::new();
    for e in &entries {
        out.push(from_legacy(store, &files, e, normalize)?);
    }
    Ok(out)
}

/// Images of an archive holding an OCI layout.
fn from_index(
    store: &Store,
    index: &Value,
    repo_tags: &BTreeMap<String, Vec<String>>,
    normalize: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<LoadedImage>> {
    let manifests: Vec<Descriptor> = serde_json::from_value(index["manifests"].clone())
        .context("index.json in the archive: bad manifests list")?;
    let mut out: Vec<LoadedImage> = Vec::new();
    for d in manifests {
        let id = check_complete(store, &d)?;
        let mut names = Vec::new();
        if let Some(n) = d.annotations.get("io.containerd.image.name") {
            names.extend(normalize(n));
        } else if let Some(n) = d.annotations.get(REF_NAME_ANNOTATION) {
            // A bare tag ("latest") names nothing by itself.
            if n.contains(':') || n.contains('/') {
                names.extend(normalize(n));
            }
        }
        if names.is_empty() {
            let config_path = format!("blobs/sha256/{}", id.hex());
            for t in repo_tags.get(&config_path).into_iter().flatten() {
                names.extend(normalize(t));
            }
        }
        // docker save lists an image once per tag: merge them.
        match out.iter_mut().find(|i| i.descriptor.digest == d.digest) {
            Some(prev) => prev.names.extend(names),
            None => {
                let mut desc = d.clone();
                desc.annotations.clear();
                out.push(LoadedImage {
                    names,
                    descriptor: desc,
                    id,
                })
            }
        }
    }
    for i in &mut out {
        i.names.sort();
        i.names.dedup();
    }
    Ok(out)
}

/// Checks that a manifest (or every manifest of an index) and its config
/// and layers are in the store; returns the image ID.
fn check_complete(store: &Store, d: &Descriptor) -> Result<Digest> {
    let missing =
        |what: &str, digest: &Digest| anyhow::anyhow!("the archive lacks the {what} blob {digest}");
    if !store.has_blob(&d.digest) {
        return Err(missing("manifest", &d.digest));
    }
    let doc: Value = serde_json::from_slice(&store.read_blob(&d.digest)?)
        .with_context(|| format!("manifest {} is not JSON", d.digest))?;
    if is_index(&d.media_type) {
        let children: Vec<Descriptor> = serde_json::from_value(doc["manifests"].clone())
            .with_context(|| format!("index {}: bad manifests list", d.digest))?;
        for c in children.iter().filter(|c| is_manifest(&c.media_type)) {
            check_complete(store, c)?;
        }
        return Ok(d.digest.clone());
    }
    if !is_manifest(&d.media_type) {
        bail!("index.json names {} of type {}", d.digest, d.media_type);
    }
    let digest_at = |v: &Value| {
        Digest::parse(v["digest"].as_str().unwrap_or_default())
            .with_context(|| format!("manifest {}: a descriptor without a digest", d.digest))
    };
    let config = digest_at(&doc["config"])?;
    if !store.has_blob(&config) {
        return Err(missing("config", &config));
    }
    for l in doc["layers"].as_array().into_iter().flatten() {
        let l = digest_at(l)?;
        if !store.has_blob(&l) {
            return Err(missing("layer", &l));
        }
    }
    Ok(config)
}

/// An image of a legacy docker-archive: an OCI manifest over its files.
fn from_legacy(
    store: &Store,
    files: &BTreeMap<String, Entry>,
    e: &Value,
    normalize: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedImage> {
    let blob_of = |path: &str| -> Result<(Digest, u64)> {
        let f = files
            .get(path.trim_start_matches("./"))
            .with_context(|| format!("manifest.json names {path}, which the archive lacks"))?;
        match (&f.blob, &f.bytes) {
            (Some(b), _) if store.has_blob(&b.0) => Ok(b.clone()),
            (_, Some(bytes)) => Ok((store.put_blob_bytes(bytes, None)?, bytes.len() as u64)),
            _ => bail!("{path} is not in the store"),
        }
    };
    let config_path = e["Config"]
        .as_str()
        .context("manifest.json: an entry without Config")?;
    let (config, config_size) = blob_of(config_path)?;
    let mut layers = Vec::new();
    for l in e["Layers"].as_array().into_iter().flatten() {
        let path = l
            .as_str()
            .context("manifest.json: a layer that is not a path")?;
        let (digest, size) = blob_of(path)?;
        let mut head = [0u8; 4];
        let n = store.open_blob(&digest)?.read(&mut head)?;
        let media_type = match &head[..n] {
            [0x1f, 0x8b, ..] => OCI_LAYER_GZIP,
            [0x28, 0xb5, 0x2f, 0xfd] => OCI_LAYER_ZSTD,
            _ => OCI_LAYER_TAR,
        };
        layers.push(json!({"mediaType": media_type, "digest": digest.to_string(), "size": size}));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.to_string(), "size": config_size},
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&manifest)?;
    let digest = store.put_blob_bytes(&bytes, None)?;
    let names = e["RepoTags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(normalize)
        .collect();
    Ok(LoadedImage {
        names,
        descriptor: Descriptor::new(OCI_MANIFEST, digest, bytes.len() as u64),
        id: config,
    })
}
