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
//! [`write_index`]. [`push_index`] and `export::save_oci_index` take the index
//! from there; `export::write_local_files` is the `type=local` form.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use super::{
    statement, Predicate, ATTESTATION_MANIFEST, INTOTO_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION,
    REFERENCE_DIGEST_ANNOTATION, REFERENCE_TYPE_ANNOTATION,
};
use crate::registry::client::Repo;
use crate::registry::{push_manifest_bytes, Reference, RegistryClient};
use crate::store::descriptor::{OCI_CONFIG, OCI_INDEX, OCI_MANIFEST};
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
pub(super) fn indented(v: &Value) -> Result<Vec<u8>> {
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
    attach_subjects(
        store,
        target,
        subjects(names, platform, &target.digest),
        predicates,
    )
}

fn attach_subjects(
    store: &Store,
    target: &Descriptor,
    subj: Vec<Value>,
    predicates: &[Predicate],
) -> Result<Descriptor> {
    if predicates.is_empty() {
        bail!("no attestations to attach to {}", target.digest);
    }
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

pub(super) fn children(store: &Store, index: &Descriptor) -> Result<Vec<Descriptor>> {
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

/// One attestation manifest of an index and its statements as
/// `(predicate type, statement)`.
pub type StoredAttestations = (Descriptor, Vec<(String, Value)>);

/// The attestation manifests of a stored index with the statements in
/// them. For `builder inspect`.
pub fn read_attestations(store: &Store, index: &Descriptor) -> Result<Vec<StoredAttestations>> {
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

/// True when `desc` is an index in the store with attestation manifests.
pub fn has_attestations(store: &Store, desc: &Descriptor) -> bool {
    crate::store::descriptor::is_index(&desc.media_type)
        && read_attestations(store, desc).is_ok_and(|a| !a.is_empty())
}

/// The index `index` (images and their attestation manifests, as a build
/// stores it) made again for publishing: each image manifest replaced by
/// `export(manifest)` (e.g. its layers compressed for a push), and each
/// attestation manifest re-attached to the exported manifest, its
/// statements' subjects pointing at the new digest (names kept). Returns
/// the new index (written to the store), ready for [`push_index`] or
/// `export::save_oci_index`.
pub fn republish(
    store: &Store,
    index: &Descriptor,
    export: impl Fn(&Descriptor) -> Result<Descriptor>,
) -> Result<Descriptor> {
    let kids = children(store, index)?;
    let mut images = Vec::new();
    let mut renamed: BTreeMap<Digest, Descriptor> = BTreeMap::new();
    for k in kids.iter().filter(|k| {
        k.annotations
            .get(REFERENCE_TYPE_ANNOTATION)
            .map(String::as_str)
            != Some(ATTESTATION_MANIFEST)
    }) {
        let mut e = export(k)?;
        e.platform = k.platform.clone();
        e.annotations = k.annotations.clone();
        renamed.insert(k.digest.clone(), e.clone());
        images.push(e);
    }
    let mut atts = Vec::new();
    for (att, stmts) in read_attestations(store, index)? {
        let Some(target) = att
            .annotations
            .get(REFERENCE_DIGEST_ANNOTATION)
            .and_then(|d| Digest::parse(d).ok())
            .and_then(|d| renamed.get(&d))
        else {
            bail!(
                "attestation manifest {} names no image of the index",
                att.digest
            );
        };
        let mut preds = Vec::new();
        let mut names = Vec::new();
        for (ptype, s) in stmts {
            for subj in s["subject"].as_array().into_iter().flatten() {
                if let Some(n) = subj["name"].as_str() {
                    names.push(n.to_string());
                }
            }
            let st = if s["_type"] == super::STATEMENT_V1 {
                super::STATEMENT_V1
            } else {
                super::STATEMENT_V01
            };
            // The manifest keeps no file names: a re-published SBOM
            // or provenance gets its kind's name.
            let name = if ptype == super::sbom::SPDX_PREDICATE {
                "sbom"
            } else {
                "provenance"
            };
            preds.push(Predicate {
                predicate_type: ptype,
                statement_type: st,
                body: s["predicate"].clone(),
                name: name.into(),
            });
        }
        names.sort();
        names.dedup();
        atts.push(attach_named(store, target, &names, &preds)?);
    }
    images.extend(atts);
    write_index(store, &images)
}

/// [`attach`] with subject names given as they are (already purls).
fn attach_named(
    store: &Store,
    target: &Descriptor,
    purls: &[String],
    predicates: &[Predicate],
) -> Result<Descriptor> {
    let subj: Vec<Value> = purls
        .iter()
        .map(|n| json!({"name": n, "digest": {"sha256": target.digest.hex()}}))
        .collect();
    attach_subjects(store, target, subj, predicates)
}
