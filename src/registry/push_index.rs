//! Multi-platform images leaving the store: an image index converted
//! child by child (media types, layer compression) as single images are
//! (`convert::export_manifest`), then re-composed; and pushed as a
//! registry expects it: each platform's blobs and manifest (by digest),
//! then the index under every tag.

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use super::client::{RegistryClient, Repo};
use super::convert::{export_manifest, ExportOptions, ManifestFormat};
use super::push::{push_manifest_bytes, PushOptions, PushedImage};
use super::reference::Reference;
use crate::image::{self, Index, MediaTypes};
use crate::store::{Descriptor, Store};

/// The platform manifests an index in the store lists.
pub fn index_children(store: &Store, index: &Descriptor) -> Result<Vec<Descriptor>> {
    let doc: Value = serde_json::from_slice(&store.read_blob(&index.digest)?)
        .with_context(|| format!("parsing index {}", index.digest))?;
    serde_json::from_value(doc["manifests"].clone())
        .with_context(|| format!("index {} has bad entries", index.digest))
}

/// Converts every image of `index` as `opts` says and stores the resulting
/// index (a Docker manifest list when the format is Docker, else OCI),
/// keeping each entry's platform and the order. Returns its descriptor.
pub fn export_index(store: &Store, index: &Descriptor, opts: &ExportOptions) -> Result<Descriptor> {
    let types = match opts.format {
        Some(ManifestFormat::Docker) => MediaTypes::Docker,
        _ => MediaTypes::Oci,
    };
    let mut entries = Vec::new();
    for child in index_children(store, index)? {
        let d = export_manifest(store, &child, opts)
            .with_context(|| format!("preparing manifest {}", child.digest))?;
        let mut e = image::Descriptor::new(&d.media_type, d.digest.to_string(), d.size);
        e.platform = d.platform.as_ref().and_then(|p| {
            let mut s = format!("{}/{}", p.os, p.architecture);
            if let Some(v) = &p.variant {
                s.push('/');
                s.push_str(v);
            }
            image::Platform::parse(&s)
        });
        entries.push(e);
    }
    let c = Index::new(types, entries)
        .canonical()
        .context("encoding the image index")?;
    let digest = store.put_blob_bytes(&c.bytes, None)?;
    Ok(Descriptor::new(&c.media_type, digest, c.bytes.len() as u64))
}

/// Pushes the multi-platform image `index` to every reference in `dests`:
/// each platform's image by digest (blobs skipped or mounted as for one
/// image), then the index under each tag. Returns what was pushed, with
/// the index's digest.
pub async fn push_index(
    client: &RegistryClient,
    store: &Store,
    index: &Descriptor,
    dests: &[Reference],
    opts: &PushOptions,
) -> Result<PushedImage> {
    if dests.is_empty() {
        bail!("no destination to push to");
    }
    let exported = export_index(
        store,
        index,
        &ExportOptions {
            format: opts.format,
            compression: opts.compression,
            force: false,
        },
    )?;
    let bytes = store.read_blob(&exported.digest)?;
    let mut result = PushedImage {
        digest: Some(exported.digest.clone()),
        size: bytes.len() as u64,
        media_type: exported.media_type.clone(),
        ..Default::default()
    };
    for d in dests {
        if let Some(want) = d.digest() {
            if want != exported.digest.to_string() {
                bail!(
                    "cannot push to {d}: the image index digest is {}",
                    exported.digest
                );
            }
        }
    }
    for child in index_children(store, &exported)? {
        // By digest only: a tag would make the registry point it here.
        let by_digest: Vec<Reference> = dests
            .iter()
            .map(|d| Reference::parse(&format!("{}@{}", d.name(), child.digest)))
            .collect::<Result<_, _>>()?;
        let m = store.read_blob(&child.digest)?;
        let pushed = push_manifest_bytes(
            client,
            store,
            m,
            child.media_type.clone(),
            &by_digest,
            &opts.mount_from,
        )
        .await?;
        result.uploaded += pushed.uploaded;
        result.skipped += pushed.skipped;
        result.mounted += pushed.mounted;
    }
    let body = bytes::Bytes::from(bytes);
    for r in dests {
        let ep = client.config().origin(r);
        let at = r
            .tag()
            .map_or_else(|| exported.digest.to_string(), str::to_string);
        client
            .put_manifest(
                &Repo {
                    ep: &ep,
                    registry: r.registry(),
                    name: r.repository(),
                },
                &at,
                body.clone(),
                &exported.media_type,
                &format!("pushing index {r}"),
            )
            .await?;
    }
    Ok(result)
}
