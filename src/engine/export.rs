//! The finished image into the store: config with timestamps (clamped to
//! SOURCE_DATE_EPOCH when given), an OCI manifest over the layer chain, and
//! tags. Layers built here stay uncompressed in the store; they are
//! compressed when they leave it (push, save).

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use super::state::StageImage;
use crate::image::{self, Manifest, MediaTypes};
use crate::store::{Descriptor, Digest, Store};

/// What was stored.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// The image ID: the config's digest (what `docker images` shows).
    pub config_digest: Digest,
    /// The manifest descriptor, as tagged.
    pub manifest: Descriptor,
}

/// Finishes `image` (timestamps, labels) and writes its config and manifest.
pub fn store_image(
    store: &Store,
    image: &StageImage,
    epoch: Option<i64>,
    labels: &[(String, String)],
    tags: &[String],
) -> Result<StoredImage> {
    store_image_annotated(store, image, epoch, labels, tags, &BTreeMap::new())
}

/// [`store_image`] with `annotations` on the manifest (`--annotation`,
/// BuildKit's `annotation-manifest.*` exporter attributes).
pub fn store_image_annotated(
    store: &Store,
    image: &StageImage,
    epoch: Option<i64>,
    labels: &[(String, String)],
    tags: &[String],
    annotations: &BTreeMap<String, String>,
) -> Result<StoredImage> {
    let mut config = image.config.clone();
    // The image is as new as its last step (so an unchanged rebuild gives
    // the same ID), or SOURCE_DATE_EPOCH when given.
    let created = match epoch {
        Some(secs) => image::format_rfc3339_nano(secs, 0),
        None => config
            .history
            .iter()
            .skip(image.base_history)
            .rev()
            .find_map(|h| h.created.clone())
            .or_else(|| config.created.clone())
            .unwrap_or_else(image::now_rfc3339_nano),
    };
    config.created = Some(created.clone());
    for h in config.history.iter_mut().skip(image.base_history) {
        if epoch.is_some() || h.created.is_none() {
            h.created = Some(created.clone());
        }
    }
    for (k, v) in labels {
        config.config.labels.insert(k.clone(), v.clone());
    }
    let config_bytes = config
        .canonical(true)
        .context("encoding the image config")?;
    let config_digest = store.put_blob_bytes(&config_bytes.bytes, None)?;
    let layers: Vec<image::Descriptor> = image
        .layers
        .iter()
        .map(|l| image::Descriptor::new(&l.blob.media_type, l.blob.digest.to_string(), l.blob.size))
        .collect();
    let mut manifest = Manifest::new(MediaTypes::Oci, config_bytes.descriptor(), layers);
    manifest.annotations = annotations.clone();
    let manifest = manifest.canonical().context("encoding the manifest")?;
    let manifest_digest = store.put_blob_bytes(&manifest.bytes, None)?;
    let desc = Descriptor::new(
        &manifest.media_type,
        manifest_digest,
        manifest.bytes.len() as u64,
    );
    for tag in tags {
        store
            .set_tag(tag, &desc)
            .with_context(|| format!("tagging {tag}"))?;
    }
    Ok(StoredImage {
        config_digest,
        manifest: desc,
    })
}
