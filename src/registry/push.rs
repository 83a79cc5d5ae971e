//! `builder push`: blobs first (skipped when the registry has them,
//! mounted from another repository of the same registry when possible,
//! else streamed from the store file), then the manifest under each tag
//! with its media type.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::client::{RegistryClient, Repo};
use super::config::Endpoint;
use super::convert::ManifestFormat;
use super::manifest::config_and_layers;
use super::reference::Reference;
use crate::store::{Descriptor, Digest, Store};

/// How many blobs are uploaded at once.
pub const CONCURRENT_UPLOADS: usize = 3;

/// Options for [`push`].
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Convert media types (`None` keeps the stored format).
    pub format: Option<ManifestFormat>,
    /// Other references to this image on the same registry, tried as
    /// cross-repository mount sources.
    pub mount_from: Vec<Reference>,
    /// How plain (built) layers are compressed on the way out.
    pub compression: super::convert::ExportCompression,
}

/// What a push did.
#[derive(Debug, Clone, Default)]
pub struct PushedImage {
    /// The pushed manifest's digest.
    pub digest: Option<Digest>,
    /// Its size.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs the registry already had.
    pub skipped: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
}

enum BlobOutcome {
    Skipped,
    Mounted,
    Uploaded,
}

async fn push_blob(
    client: &RegistryClient,
    store: &Store,
    ep: &Endpoint,
    dest: &Reference,
    d: &Descriptor,
    mounts: &[String],
) -> Result<BlobOutcome> {
    let digest = d.digest.to_string();
    let target = Repo {
        ep,
        registry: dest.registry(),
        name: dest.repository(),
    };
    let what = format!("pushing blob {digest} to {}", dest.name());
    if client.blob_exists(&target, &digest, &what).await? {
        return Ok(BlobOutcome::Skipped);
    }
    for from in mounts {
        match client.mount_blob(&target, from, &digest, &what).await {
            // A mount the registry reports done must also be visible,
            // else the upload below makes sure of it.
            Ok(true) if client.blob_exists(&target, &digest, &what).await? => {
                return Ok(BlobOutcome::Mounted)
            }
            Ok(true) => {}
            Ok(false) => {}
            // A failed mount (e.g. no pull access to the source) is not
            // fatal: the upload below will say what is really wrong.
            Err(e) => client.note(&format!("mount from {from} failed: {e}")),
        }
    }
    let path = store.blob_path(&d.digest);
    let size = store.blob_size(&d.digest)?;
    if size != d.size {
        bail!(
            "blob {digest} in the store has {size} bytes, the manifest says {}",
            d.size
        );
    }
    client
        .upload_blob(&target, &digest, &path, size, &what)
        .await?;
    Ok(BlobOutcome::Uploaded)
}

/// Whether a manifest PUT failed on a blob another push was still linking.
fn is_blob_race(message: &str) -> bool {
    message.contains("BLOB_UNKNOWN") || message.contains("DIGEST_INVALID")
}

/// Uploads `d` to `target` unless a HEAD finds it there (no mount: a
/// mount is what may have answered too early).
async fn reupload_missing(
    client: &RegistryClient,
    store: &Store,
    target: &Repo<'_>,
    d: &Descriptor,
) -> Result<()> {
    let digest = d.digest.to_string();
    let what = format!("pushing blob {digest} again");
    if !client.blob_exists(target, &digest, &what).await? {
        let path = store.blob_path(&d.digest);
        client
            .upload_blob(target, &digest, &path, d.size, &what)
            .await?;
    }
    Ok(())
}

/// Pushes the image whose manifest is `manifest` to every reference in
/// `dests` (each a tag, or a digest that must match).
pub async fn push(
    client: &RegistryClient,
    store: &Store,
    manifest: &Descriptor,
    dests: &[Reference],
    opts: &PushOptions,
) -> Result<PushedImage> {
    if dests.is_empty() {
        bail!("no destination to push to");
    }
    // Plain layers not compressed yet are uploaded to the first repository
    // while they are compressed; the conversion below then finds them made.
    let streamed =
        super::push_stream::upload_while_compressing(client, store, manifest, &dests[0], opts)
            .await;
    // Conversion may compress layers; that happens before any upload
    // starts, so blocking this task does not stall other transfers.
    let (bytes, media_type) =
        super::convert::prepare_export_with(store, manifest, opts.format, opts.compression)?;
    let mut pushed =
        push_manifest_bytes(client, store, bytes, media_type, dests, &opts.mount_from).await?;
    // The streamed blobs were found by the HEAD checks: they were uploaded.
    let n = streamed.len().min(pushed.skipped);
    pushed.skipped -= n;
    pushed.uploaded += n;
    Ok(pushed)
}

/// Pushes a manifest exactly as given (no conversion) after the blobs it
/// names, which must be in the store: the path for documents that are not
/// images, such as an exported build cache.
pub async fn push_manifest_bytes(
    client: &RegistryClient,
    store: &Store,
    bytes: Vec<u8>,
    media_type: String,
    dests: &[Reference],
    mount_from: &[Reference],
) -> Result<PushedImage> {
    if dests.is_empty() {
        bail!("no destination to push to");
    }
    let digest = Digest::of(&bytes);
    let doc: Value = serde_json::from_slice(&bytes)?;
    let (config, layers) = config_and_layers(&doc)?;
    let mut blobs: Vec<Descriptor> = Vec::new();
    for d in std::iter::once(&config).chain(layers.iter()) {
        if !blobs.iter().any(|b| b.digest == d.digest) {
            if !store.has_blob(&d.digest) {
                bail!(
                    "blob {} of the image is not in the store; pull or rebuild the image",
                    d.digest
                );
            }
            blobs.push(d.clone());
        }
    }
    let mut result = PushedImage {
        digest: Some(digest.clone()),
        size: bytes.len() as u64,
        media_type: media_type.clone(),
        ..Default::default()
    };
    // Group destinations by repository: blobs go once per repository.
    let mut by_repo: BTreeMap<String, Vec<&Reference>> = BTreeMap::new();
    for d in dests {
        if let Some(want) = d.digest() {
            if want != digest.to_string() {
                bail!("cannot push to {d}: the image's manifest digest is {digest}");
            }
        }
        by_repo.entry(d.name()).or_default().push(d);
    }
    let body = bytes::Bytes::from(bytes);
    for refs in by_repo.values() {
        let dest = refs[0];
        let ep = client.config().origin(dest);
        let mounts: Vec<String> = mount_from
            .iter()
            .filter(|m| m.registry() == dest.registry() && m.repository() != dest.repository())
            .map(|m| m.repository().to_string())
            .collect();
        let outcomes: Vec<BlobOutcome> = futures::stream::iter(
            blobs
                .iter()
                .map(|b| push_blob(client, store, &ep, dest, b, &mounts)),
        )
        .buffer_unordered(CONCURRENT_UPLOADS)
        .try_collect()
        .await?;
        for o in outcomes {
            match o {
                BlobOutcome::Skipped => result.skipped += 1,
                BlobOutcome::Mounted => result.mounted += 1,
                BlobOutcome::Uploaded => result.uploaded += 1,
            }
        }
        for r in refs {
            let at = r.tag().map_or_else(|| digest.to_string(), str::to_string);
            let what = format!("pushing manifest {r}");
            let repo = Repo {
                ep: &ep,
                registry: r.registry(),
                name: r.repository(),
            };
            let mut attempt = 0;
            loop {
                match client
                    .put_manifest(&repo, &at, body.clone(), &media_type, &what)
                    .await
                {
                    Ok(()) => break,
                    // Another process pushing the same blobs to this
                    // repository may have answered our HEAD or mount before
                    // its upload was linked here: the registry then refuses
                    // the manifest (MANIFEST_BLOB_UNKNOWN), or distribution
                    // reads a blob link being written by that other push
                    // (DIGEST_INVALID: our manifest's own digest is not
                    // sent for a tag). Upload what is missing now, retry.
                    Err(e) if is_blob_race(&e.to_string()) && attempt < 5 => {
                        attempt += 1;
                        client.note(&format!("{what}: {e}; checking the blobs again"));
                        for b in &blobs {
                            reupload_missing(client, store, &repo, b).await?;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(result)
}
