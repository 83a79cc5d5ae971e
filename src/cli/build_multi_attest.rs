//! Attestations of a multi-platform `builder build` (`--platform a,b,…`
//! with `--push`, `--output type=oci|registry|local`, and the store), laid
//! out as BuildKit 0.13 lays them out: one attestation manifest per
//! platform, each naming its platform's image manifest
//! (`vnd.docker.reference.digest`), all image entries first, then all
//! attestation entries in the same platform order
//! (`exporter/containerimage/writer.go`).

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use super::build_attest::{self, Inputs};
use crate::attest::{AttestOptions, Predicate};
use crate::engine::StoredIndex;
use crate::plan::{Plan, Platform};
use crate::registry::convert::ExportCompression;
use crate::store::descriptor::OCI_INDEX;
use crate::store::{Descriptor, Store};

/// Each platform's predicates, in the stored index's platform order.
pub struct MultiAttested {
    pub per_platform: Vec<(Platform, Vec<Predicate>)>,
}

/// The predicates of every platform's image of `stored` (each with its own
/// plan from `plans`, matched by platform), or `None` when `opts` asks for
/// none. The store's tags then name an index with the attestation entries
/// (BuildKit's image store keeps them so); returns its descriptor too.
pub fn store_attested(
    opts: &AttestOptions,
    inputs: &Inputs<'_>,
    plans: &[Plan],
    store: &Store,
    stored: &StoredIndex,
    tags: &[String],
) -> Result<Option<(MultiAttested, Descriptor)>> {
    if !opts.any() {
        return Ok(None);
    }
    let mut per_platform = Vec::new();
    for (platform, image) in &stored.images {
        let plan = plans
            .iter()
            .find(|p| &p.platform == platform)
            .with_context(|| format!("no plan for platform {platform}"))?;
        let preds = build_attest::predicates(opts, inputs, plan, store, image, tags)?;
        per_platform.push((platform.clone(), preds));
    }
    let attested = MultiAttested { per_platform };
    let published: Vec<Descriptor> = stored
        .images
        .iter()
        .map(|(_, s)| s.manifest.clone())
        .collect();
    let index = attested_index(store, stored, &published, tags, &attested)?;
    for tag in tags {
        store.set_tag(tag, &index)?;
    }
    Ok(Some((attested, index)))
}

/// The index of `stored` with its images converted as a push or archive
/// converts them (`compression`, `force`; OCI media types, as BuildKit
/// turns them on for attestations) and their attestation manifests, whose
/// subjects are `names`.
pub fn published_index(
    store: &Store,
    stored: &StoredIndex,
    compression: ExportCompression,
    force: bool,
    names: &[String],
    attested: &MultiAttested,
) -> Result<Descriptor> {
    let published: Vec<Descriptor> = stored
        .images
        .iter()
        .map(|(_, s)| build_attest::exported(store, s, compression, force))
        .collect::<Result<_>>()?;
    attested_index(store, stored, &published, names, attested)
}

/// Writes the index over `published` (one manifest per platform of
/// `stored`, in its order) and their attestation manifests. The image
/// entries keep the stored index's descriptor annotations
/// (`--annotation manifest-descriptor:…`) and the index its own.
fn attested_index(
    store: &Store,
    stored: &StoredIndex,
    published: &[Descriptor],
    names: &[String],
    attested: &MultiAttested,
) -> Result<Descriptor> {
    let doc: Value = serde_json::from_slice(&store.read_blob(&stored.index.digest)?)
        .with_context(|| format!("parsing index {}", stored.index.digest))?;
    let stored_entries: Vec<Descriptor> = serde_json::from_value(doc["manifests"].clone())
        .with_context(|| format!("index {} has bad entries", stored.index.digest))?;
    let mut images = Vec::new();
    let mut atts = Vec::new();
    for (i, ((platform, preds), manifest)) in
        attested.per_platform.iter().zip(published).enumerate()
    {
        let (mut image, att) =
            build_attest::publish_entries(store, manifest, names, platform, preds)?;
        if let Some(e) = stored_entries.get(i) {
            image.annotations = e.annotations.clone();
        }
        images.push(image);
        atts.push(att);
    }
    images.extend(atts);
    let mut index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": images,
    });
    if let Some(a) = doc.get("annotations").filter(|a| a.is_object()) {
        index["annotations"] = a.clone();
    }
    // Go's json.MarshalIndent layout, as BuildKit writes indexes.
    let bytes = serde_json::to_vec_pretty(&index)?;
    let digest = store.put_blob_bytes(&bytes, None)?;
    Ok(Descriptor::new(OCI_INDEX, digest, bytes.len() as u64))
}
