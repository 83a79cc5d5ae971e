//! Attestations stored as BuildKit 0.13 stores them
//! (`exporter/containerimage/writer.go`, `commitAttestationsManifest`):
//! per platform, an image manifest whose layers are the in-toto statements
//! (`application/vnd.in-toto+json`, annotated `in-toto.io/predicate-type`)
//! over a config with platform `unknown/unknown`, listed in the image index
//! after the platform's image manifest with platform `unknown/unknown` and
//! the annotations `vnd.docker.reference.type=attestation-manifest` and
//! `vnd.docker.reference.digest=<image manifest digest>`.
//!
//! Per platform, a caller makes the image manifest it will publish (the
//! store's, or the converted one a push or archive writes), then
//! [`attach`]es the predicates to it and lists both descriptors in
//! [`write_index`]. [`push_index`], [`save_oci_index`] take the index from
//! there; [`write_local_files`] is the `type=local` form.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use super::{
    statement, Predicate, ATTESTATION_MANIFEST, INTOTO_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION,
    REFERENCE_DIGEST_ANNOTATION, REFERENCE_TYPE_ANNOTATION,
};
use crate::registry::client::Repo;
use crate::registry::{push_manifest_bytes, Reference, RegistryClient};
use crate::store::descriptor::{OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, REF_NAME_ANNOTATION};
use crate::store::{Descriptor, Digest, Platform, Store};

/// The platform of attestation manifests (`unknown/unknown`).
pub fn unknown_platform() -> Platform {
    Platform {
        os: "unknown".into(),
        architecture: "unknown".into(),
        ..Default::default()
    }
}

/// BuildKit's `purl.RefToPURL(TypeDocker, …)`: `pkg:docker/NS/NAME@TAG`
/// (the familiar name split at its last `/`; `@sha256:…` with a `tag=`
/// qualifier for a pinned reference) with a `platform=` qualifier.
pub fn docker_purl(reference: &str, platform: &str) -> Option<String> {
    let r = Reference::parse(reference).ok()?;
    let familiar = r.familiar();
    let path = familiar.split('@').next().unwrap_or(&familiar);
    let path = match r.tag() {
        Some(t) => path.strip_suffix(&format!(":{t}")).unwrap_or(path),
        None => path,
    };
    let mut q = vec![("platform", platform.to_string())];
    let version = match (r.digest(), r.tag()) {
        (Some(d), t) => {
            if let Some(t) = t {
                q.push(("tag", t.to_string()));
            }
            d.to_string()
        }
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    };
    let (ns, name) = match path.rsplit_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, path),
    };
    Some(super::sbom::purl("docker", ns, name, &version, &q))
}

/// BuildKit's default subjects: one [`docker_purl`] per image name, each
/// with `digest` (the image manifest's). No names, no subjects (as
/// BuildKit for an unnamed `type=oci` export).
pub fn subjects(names: &[String], platform: &str, digest: &Digest) -> Vec<Value> {
    names
        .iter()
        .filter_map(|n| docker_purl(n, platform))
        .map(|uri| json!({"name": uri, "digest": {"sha256": digest.hex()}}))
        .collect()
}

/// Go's `json.MarshalIndent(v, "", "  ")` layout, which BuildKit uses for
/// manifests and indexes.
fn indented(v: &Value) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(v)?)
}

/// Writes the attestation manifest of the image manifest `target` (one
/// platform's, as it will be published) with one statement per predicate,
/// subjects from `names` (image names) and `platform` (`os/arch[/variant]`
/// of the image). Returns its index entry: OCI manifest media type,
/// platform `unknown/unknown`, BuildKit's reference annotations.
pub fn attach(
    store: &Store,
    target: &Descriptor,
    names: &[String],
    platform: &str,
    predicates: &[Predicate],
) -> Result<Descriptor> {
    if predicates.is_empty() {
        bail!("no attestations to attach to {}", target.digest);
    }
    let subj = subjects(names, platform, &target.digest);
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for p in predicates {
        let bytes = serde_json::to_vec(&statement(p, subj.clone()))?;
        let digest = store.put_blob_bytes(&bytes, None)?;
        diff_ids.push(digest.to_string());
        let mut d = Descriptor::new(INTOTO_MEDIA_TYPE, digest, bytes.len() as u64);
        d.annotations
            .insert(PREDICATE_TYPE_ANNOTATION.into(), p.predicate_type.clone());
        layers.push(d);
    }
    // ocispecs.Image with only the platform and rootfs set (`config` is a
    // struct without omitempty in Go, hence `{}`).
    let config = serde_json::to_vec(&json!({
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))?;
    let config_digest = store.put_blob_bytes(&config, None)?;
    let manifest = indented(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": Descriptor::new(OCI_CONFIG, config_digest, config.len() as u64),
        "layers": layers,
    }))?;
    let digest = store.put_blob_bytes(&manifest, None)?;
    let mut d = Descriptor::new(OCI_MANIFEST, digest, manifest.len() as u64);
    d.annotations.insert(
        REFERENCE_TYPE_ANNOTATION.into(),
        ATTESTATION_MANIFEST.into(),
    );
    d.annotations.insert(
        REFERENCE_DIGEST_ANNOTATION.into(),
        target.digest.to_string(),
    );
    d.platform = Some(unknown_platform());
    Ok(d)
}

/// Writes an OCI image index over `entries` (image manifests with their
/// platforms, then attestation manifests, as BuildKit orders them) and
/// returns its descriptor.
pub fn write_index(store: &Store, entries: &[Descriptor]) -> Result<Descriptor> {
    let bytes = indented(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries,
    }))?;
    let digest = store.put_blob_bytes(&bytes, None)?;
    Ok(Descriptor::new(OCI_INDEX, digest, bytes.len() as u64))
}

fn children(store: &Store, index: &Descriptor) -> Result<Vec<Descriptor>> {
    let doc: Value = serde_json::from_slice(&store.read_blob(&index.digest)?)
        .with_context(|| format!("parsing index {}", index.digest))?;
    serde_json::from_value(doc["manifests"].clone())
        .with_context(|| format!("index {} has bad entries", index.digest))
}

/// Pushes `index` (from [`write_index`], whose children are all in the
/// store as they are to be published) to every reference in `dests`: each
/// child manifest by digest after its blobs, then the index under each tag.
/// Returns the index digest.
pub async fn push_index(
    client: &RegistryClient,
    store: &Store,
    index: &Descriptor,
    dests: &[Reference],
) -> Result<Digest> {
    if dests.is_empty() {
        bail!("no destination to push to");
    }
    let names: BTreeSet<String> = dests.iter().map(Reference::name).collect();
    for child in children(store, index)? {
        let pinned: Vec<Reference> = names
            .iter()
            .map(|n| Reference::parse(&format!("{n}@{}", child.digest)))
            .collect::<Result<_, _>>()?;
        let bytes = store.read_blob(&child.digest)?;
        push_manifest_bytes(client, store, bytes, child.media_type.clone(), &pinned, &[])
            .await
            .with_context(|| format!("pushing manifest {}", child.digest))?;
    }
    let body = bytes::Bytes::from(store.read_blob(&index.digest)?);
    for d in dests {
        let ep = client.config().origin(d);
        let repo = Repo {
            ep: &ep,
            registry: d.registry(),
            name: d.repository(),
        };
        let at = d
            .tag()
            .map_or_else(|| index.digest.to_string(), str::to_string);
        client
            .put_manifest(
                &repo,
                &at,
                body.clone(),
                OCI_INDEX,
                &format!("pushing index {d}"),
            )
            .await?;
    }
    Ok(index.digest.clone())
}

/// Every blob `desc` reaches: itself, children of an index, config and
/// layers of a manifest.
fn reachable(store: &Store, desc: &Descriptor, out: &mut BTreeSet<Digest>) -> Result<()> {
    out.insert(desc.digest.clone());
    let doc: Value = serde_json::from_slice(&store.read_blob(&desc.digest)?)
        .with_context(|| format!("parsing {}", desc.digest))?;
    if let Some(m) = doc.get("manifests") {
        let kids: Vec<Descriptor> = serde_json::from_value(m.clone())?;
        for k in &kids {
            reachable(store, k, out)?;
        }
    } else {
        let config: Descriptor =
            serde_json::from_value(doc["config"].clone()).context("manifest without a config")?;
        out.insert(config.digest);
        let layers: Vec<Descriptor> =
            serde_json::from_value(doc["layers"].clone()).context("manifest with bad layers")?;
        out.extend(layers.into_iter().map(|l| l.digest));
    }
    Ok(())
}

/// Writes `index` as an OCI layout tar at `out` (temp file + fsync +
/// rename), as BuildKit's `type=oci` exporter: `index.json` lists the image
/// index, named `name` (`io.containerd.image.name` and
/// `org.opencontainers.image.ref.name`) when given.
pub fn save_oci_index(
    store: &Store,
    index: &Descriptor,
    name: Option<&str>,
    out: &Path,
) -> Result<()> {
    let mut blobs = BTreeSet::new();
    reachable(store, index, &mut blobs)?;
    let mut entry = index.clone();
    if let Some(n) = name {
        entry
            .annotations
            .insert("io.containerd.image.name".into(), n.to_string());
        let tag = Reference::parse(n)
            .ok()
            .and_then(|r| r.tag().map(str::to_string))
            .unwrap_or_else(|| "latest".into());
        entry.annotations.insert(REF_NAME_ANNOTATION.into(), tag);
    }
    let top = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry],
    }))?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".builder-oci-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    {
        let mut tar = tar::Builder::new(std::io::BufWriter::new(tmp.as_file()));
        let mut add = |path: &str, bytes: &[u8]| -> Result<()> {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_path(path)?;
            h.set_cksum();
            tar.append(&h, bytes)
                .with_context(|| format!("writing {path}"))
        };
        for b in &blobs {
            add(&format!("blobs/sha256/{}", b.hex()), &store.read_blob(b)?)?;
        }
        add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        add("index.json", &top)?;
        tar.into_inner()
            .context("finishing the archive")?
            .flush()
            .context("writing the archive")?;
    }
    tmp.as_file().sync_all().context("fsync archive")?;
    tmp.persist(out)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming the archive into {}", out.display()))?;
    Ok(())
}

/// The file name BuildKit's local exporter gives a predicate's statement.
pub fn local_file_name(predicate_type: &str) -> &'static str {
    if predicate_type == super::sbom::SPDX_PREDICATE {
        "sbom.spdx.json"
    } else {
        "provenance.json"
    }
}

/// `type=local`: each statement as a file in `dest` (`provenance.json`,
/// `sbom.spdx.json`), its subjects the exported files (path relative to
/// `dest`, sha256), as BuildKit's local exporter writes them.
pub fn write_local_files(dest: &Path, predicates: &[Predicate]) -> Result<()> {
    let mut subj = BTreeMap::new();
    for e in walkdir::WalkDir::new(dest).sort_by_file_name() {
        let e = e?;
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dest)?.to_string_lossy().to_string();
            let mut h = crate::store::digest::Hasher::new();
            let mut f = std::fs::File::open(e.path())?;
            std::io::copy(&mut f, &mut HasherWrite(&mut h))?;
            subj.insert(rel, h.finish());
        }
    }
    let subjects: Vec<Value> = subj
        .iter()
        .map(|(n, d)| json!({"name": n, "digest": {"sha256": d.hex()}}))
        .collect();
    for p in predicates {
        let bytes = indented(&statement(p, subjects.clone()))?;
        crate::store::fsutil::write_atomic(
            &dest.join(local_file_name(&p.predicate_type)),
            &bytes,
            0o644,
        )?;
    }
    Ok(())
}

struct HasherWrite<'a>(&'a mut crate::store::digest::Hasher);

impl std::io::Write for HasherWrite<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The attestation manifests of a stored index with the statements in
/// them: `(attestation manifest descriptor, [(predicate type, statement)])`.
/// For `builder inspect`.
pub fn read_attestations(
    store: &Store,
    index: &Descriptor,
) -> Result<Vec<(Descriptor, Vec<(String, Value)>)>> {
    let mut out = Vec::new();
    for c in children(store, index)? {
        if c.annotations
            .get(REFERENCE_TYPE_ANNOTATION)
            .map(String::as_str)
            != Some(ATTESTATION_MANIFEST)
        {
            continue;
        }
        let doc: Value = serde_json::from_slice(&store.read_blob(&c.digest)?)?;
        let layers: Vec<Descriptor> = serde_json::from_value(doc["layers"].clone())?;
        let mut stmts = Vec::new();
        for l in layers {
            let v: Value = serde_json::from_slice(&store.read_blob(&l.digest)?)
                .with_context(|| format!("attestation {} is not JSON", l.digest))?;
            let t = l
                .annotations
                .get(PREDICATE_TYPE_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            stmts.push((t, v));
        }
        out.push((c, stmts));
    }
    Ok(out)
}
