//! `builder pull`: manifest (resolving an index for the platform), then
//! config and layers downloaded concurrently and streamed into the store,
//! each verified against its digest and size before it becomes visible.
//! Mirrors are tried in order before the origin.

use std::io::Write;

use anyhow::{anyhow, bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::client::{RegistryClient, Repo};
use super::config::Endpoint;
use super::error::{ErrorKind, RegistryError};
use super::manifest::{
    config_and_layers, config_platform, is_image_index, is_image_manifest, media_type_of,
    select_platform,
};
use super::reference::Reference;
use crate::store::{Descriptor, Digest, Platform, Store};

/// How many blobs are downloaded at once.
pub const CONCURRENT_DOWNLOADS: usize = 3;

/// Options for [`pull`].
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from an index.
    pub platform: Platform,
    /// Tag the index (stored as the registry has it, with the platforms
    /// pulled so far) rather than the one platform's manifest, so that
    /// several platforms of one tag can be in the store at once
    /// (multi-platform builds, `pull --platform a,b`).
    pub keep_index: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            keep_index: false,
        }
    }
}

/// What a pull stored.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// The tag (or `name@digest`) it was stored under.
    pub name: String,
    /// The image manifest.
    pub manifest: Descriptor,
    /// The config descriptor.
    pub config: Descriptor,
    /// The layer descriptors, base first.
    pub layers: Vec<Descriptor>,
    /// The index digest, if the reference pointed at one.
    pub index: Option<Digest>,
    /// Blobs downloaded (the rest were already in the store).
    pub downloaded: usize,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Where it came from (mirror or origin base URL).
    pub source: String,
}

pub(crate) struct FetchedManifest {
    pub(crate) bytes: bytes::Bytes,
    pub(crate) media_type: String,
    pub(crate) digest: Digest,
}

fn bad(what: &str, ep: &Endpoint, detail: impl Into<String>) -> RegistryError {
    RegistryError::new(ErrorKind::BadContent, what, ep.base.as_str(), detail)
}

pub(crate) async fn fetch_manifest(
    client: &RegistryClient,
    ep: &Endpoint,
    r: &Reference,
    at: &str,
    what: &str,
) -> Result<FetchedManifest> {
    let (bytes, ct, header_digest) = client
        .get_manifest(
            &Repo {
                ep,
                registry: r.registry(),
                name: r.repository(),
            },
            at,
            what,
        )
        .await?;
    let digest = Digest::of(&bytes);
    if at.starts_with("sha256:") && at != digest.to_string() {
        return Err(bad(
            what,
            ep,
            format!("manifest digest mismatch: asked for {at}, got {digest}"),
        )
        .into());
    }
    if let Some(h) = header_digest.filter(|h| h.starts_with("sha256:")) {
        if h != digest.to_string() {
            return Err(bad(
                what,
                ep,
                format!(
                    "manifest digest mismatch: Docker-Content-Digest says {h}, content is {digest}"
                ),
            )
            .into());
        }
    }
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(what, ep, format!("manifest is not JSON: {e}")))?;
    let media_type = media_type_of(&doc, ct.as_deref()).with_context(|| what.to_string())?;
    Ok(FetchedManifest {
        bytes,
        media_type,
        digest,
    })
}

/// Fetches the image manifest for the platform: (manifest, index).
async fn resolve(
    client: &RegistryClient,
    ep: &Endpoint,
    r: &Reference,
    opts: &PullOptions,
    what: &str,
) -> Result<(FetchedManifest, Option<FetchedManifest>)> {
    let top = fetch_manifest(client, ep, r, r.manifest_ref(), what).await?;
    if is_image_manifest(&top.media_type) {
        return Ok((top, None));
    }
    if !is_image_index(&top.media_type) {
        bail!("{what}: unsupported manifest media type {}", top.media_type);
    }
    let doc: Value = serde_json::from_slice(&top.bytes)?;
    let entry = select_platform(&doc, &opts.platform).with_context(|| what.to_string())?;
    let m = fetch_manifest(client, ep, r, &entry.digest.to_string(), what).await?;
    if !is_image_manifest(&m.media_type) {
        bail!(
            "{what}: index entry {} is a {}, not an image manifest",
            entry.digest,
            m.media_type
        );
    }
    Ok((m, Some(top)))
}

/// The platforms an image index lists (empty for a single-platform image),
/// read from the first source that answers (mirrors, then the origin).
pub async fn list_platforms(client: &RegistryClient, r: &Reference) -> Result<Vec<Platform>> {
    let what = format!("reading the platforms of {r}");
    let mut last = None;
    for ep in client.config().pull_endpoints(r) {
        match fetch_manifest(client, &ep, r, r.manifest_ref(), &what).await {
            Ok(top) if is_image_index(&top.media_type) => {
                let doc: Value = serde_json::from_slice(&top.bytes)?;
                let list: Vec<Descriptor> =
                    serde_json::from_value(doc["manifests"].clone()).unwrap_or_default();
                let mut out: Vec<Platform> = Vec::new();
                // Attestation manifests (`unknown/unknown`) are not images.
                for p in list.into_iter().filter_map(|d| d.platform) {
                    if p.os != "unknown" && !out.contains(&p) {
                        out.push(p);
                    }
                }
                return Ok(out);
            }
            Ok(_) => return Ok(Vec::new()),
            Err(e) if ep.mirror => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("{what}: no endpoints")))
}

/// Downloads one blob into the store, restarting on a broken stream.
pub(crate) async fn fetch_blob(
    client: &RegistryClient,
    store: &Store,
    ep: &Endpoint,
    r: &Reference,
    d: &Descriptor,
) -> Result<u64> {
    let what = format!("pulling blob {} of {}", d.digest, r);
    let attempts = client.retry_policy().attempts.max(1);
    let mut n = 0;
    let mut timeouts = 0;
    loop {
        n += 1;
        let result: Result<u64> = async {
            let resp = client
                .get_blob(
                    &Repo {
                        ep,
                        registry: r.registry(),
                        name: r.repository(),
                    },
                    &d.digest.to_string(),
                    &what,
                )
                .await?;
            let mut writer = store.blob_writer()?;
            let meter = client.transfer(
                &d.digest.to_string(),
                &super::client::host_of(ep.base.as_str()),
                d.size,
            );
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| {
                    let detail = if e.is_timeout() {
                        super::client::timeout_detail(ep.base.as_str())
                    } else {
                        e.to_string()
                    };
                    RegistryError::new(ErrorKind::Network, &what, ep.base.as_str(), detail)
                })?;
                writer.write_all(&chunk).context("writing to the store")?;
                meter.advance(chunk.len() as u64);
                if writer.written() > d.size {
                    return Err(bad(
                        &what,
                        ep,
                        format!(
                            "blob is larger than the {} bytes its descriptor says",
                            d.size
                        ),
                    )
                    .into());
                }
            }
            let (digest, size) = (d.digest.clone(), d.size);
            tokio::task::spawn_blocking(move || writer.commit(Some(&digest), Some(size)))
                .await
                .map_err(|e| anyhow!("blob commit task failed: {e}"))?
                .with_context(|| what.clone())?;
            meter.finish();
            Ok(d.size)
        }
        .await;
        if result
            .as_ref()
            .is_err_and(|e| format!("{e:#}").contains("timed out after"))
        {
            timeouts += 1;
        }
        match result {
            // A registry that stalled twice is not retried a third time.
            Err(e)
                if n < attempts
                    && timeouts < 2
                    && e.downcast_ref::<RegistryError>()
                        .is_some_and(|re| re.kind == ErrorKind::Network) =>
            {
                let delay = client.retry_policy().delay(n - 1);
                client.note(&format!("{e:#}; retrying in {delay:?}"));
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

/// Pulls `r` into `store` and tags it (as `r` without digest if it has a
/// tag, else as `name@digest`).
pub async fn pull(
    client: &RegistryClient,
    store: &Store,
    r: &Reference,
    opts: &PullOptions,
) -> Result<PulledImage> {
    let what = format!("pulling {r}");
    let endpoints = client.config().pull_endpoints(r);
    let mut last_err = None;
    let mut mirror_errs = Vec::new();
    let mut found = None;
    for ep in &endpoints {
        match resolve(client, ep, r, opts, &what).await {
            Ok(m) => {
                found = Some((ep.clone(), m));
                break;
            }
            Err(e) if ep.mirror => {
                client.note(&format!(
                    "mirror {} failed ({e:#}); trying the next source",
                    ep.base
                ));
                mirror_errs.push(format!("mirror {}: {e:#}", ep.base));
                last_err = Some(e);
            }
            // The origin's answer, after what the mirrors said (each was
            // only a warning until now).
            Err(e) if !mirror_errs.is_empty() => {
                return Err(anyhow!("{e:#} (tried first: {})", mirror_errs.join("; ")))
            }
            Err(e) => return Err(e),
        }
    }
    let Some((ep, (manifest, index))) = found else {
        return Err(last_err.unwrap_or_else(|| anyhow!("{what}: no endpoints")));
    };
    let doc: Value = serde_json::from_slice(&manifest.bytes)?;
    let (config, layers) =
        config_and_layers(&doc).with_context(|| format!("{what}: manifest {}", manifest.digest))?;
    if config.size > super::client::MAX_SMALL_BODY as u64 {
        anyhow::bail!(
            "{what}: config {} is {} bytes, over the {} MiB limit for manifests, configs and tokens",
            config.digest,
            config.size,
            super::client::MAX_SMALL_BODY >> 20
        );
    }
    let mut todo: Vec<Descriptor> = Vec::new();
    for d in std::iter::once(&config).chain(layers.iter()) {
        if !store.has_blob(&d.digest) && !todo.iter().any(|t| t.digest == d.digest) {
            todo.push(d.clone());
        }
    }
    let downloaded = todo.len();
    let bytes: u64 =
        futures::stream::iter(todo.iter().map(|d| fetch_blob(client, store, &ep, r, d)))
            .buffer_unordered(CONCURRENT_DOWNLOADS)
            .try_fold(0u64, |acc, n| async move { Ok(acc + n) })
            .await?;
    // The manifest goes in last: a manifest in the store implies its blobs.
    store.put_blob_bytes(&manifest.bytes, Some(&manifest.digest))?;
    let cfg: Value = serde_json::from_slice(&store.read_blob(&config.digest)?)
        .with_context(|| format!("{what}: config {} is not JSON", config.digest))?;
    let mut desc = Descriptor::new(
        &manifest.media_type,
        manifest.digest.clone(),
        manifest.bytes.len() as u64,
    );
    desc.platform = config_platform(&cfg);
    let index_digest = index.as_ref().map(|i| i.digest.clone());
    let tagged = match index.filter(|_| opts.keep_index) {
        Some(top) => {
            store.put_blob_bytes(&top.bytes, Some(&top.digest))?;
            Descriptor::new(&top.media_type, top.digest, top.bytes.len() as u64)
        }
        None => desc.clone(),
    };
    let name = match r.tag() {
        Some(t) => format!("{}:{t}", r.name()),
        // Tagged by the digest the user asked for (maybe an index's), so
        // the same reference finds it again.
        None => format!(
            "{}@{}",
            r.name(),
            r.digest()
                .map_or_else(|| manifest.digest.to_string(), str::to_string)
        ),
    };
    store.set_tag(&name, &tagged)?;
    Ok(PulledImage {
        name,
        manifest: desc,
        config,
        layers,
        index: index_digest,
        downloaded,
        bytes,
        source: ep.base.to_string(),
    })
}
