//! Documents in a registry that are not images — an exported build cache:
//! a manifest fetched and pushed as it is, and its blobs fetched one by
//! one when they are needed, with the mirrors, credentials, retries and
//! digest checks image pulls have.

use anyhow::Result;

use super::client::RegistryClient;
use super::config::Endpoint;
use super::error::{ErrorKind, RegistryError};
use super::pull::{fetch_blob, fetch_manifest};
use super::reference::Reference;
use crate::store::{Descriptor, Digest, Store};

/// A manifest as the registry returned it, and where it came from.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The reference it was fetched by.
    pub reference: Reference,
    /// The manifest bytes (digest-checked).
    pub bytes: bytes::Bytes,
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    endpoint: Endpoint,
}

/// Fetches the manifest `r` names; `None` when no source has it.
pub async fn fetch_artifact(client: &RegistryClient, r: &Reference) -> Result<Option<Artifact>> {
    let what = format!("fetching {r}");
    let mut last_err = None;
    for ep in client.config().pull_endpoints(r) {
        match fetch_manifest(client, &ep, r, r.manifest_ref(), &what).await {
            Ok(m) => {
                return Ok(Some(Artifact {
                    reference: r.clone(),
                    bytes: m.bytes,
                    media_type: m.media_type,
                    digest: m.digest,
                    endpoint: ep,
                }))
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) if ep.mirror => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    match last_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// Downloads blob `d` of the artifact's repository into the store (from the
/// source the manifest came from); returns its size.
pub async fn fetch_artifact_blob(
    client: &RegistryClient,
    store: &Store,
    artifact: &Artifact,
    d: &Descriptor,
) -> Result<u64> {
    if store.has_blob(&d.digest) {
        return Ok(d.size);
    }
    fetch_blob(client, store, &artifact.endpoint, &artifact.reference, d).await
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<RegistryError>()
        .is_some_and(|re| re.kind == ErrorKind::NotFound)
}
