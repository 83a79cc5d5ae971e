//! A multi-platform build into the store: each platform's image as
//! [`store_image`] writes it (untagged), then an OCI image index over their
//! manifests, each entry with its platform, in the order the platforms were
//! asked for (as BuildKit lists them). The tags point at the index. Nothing
//! in it depends on time or on the order the builds finished, so the same
//! inputs give the same index digest.

use anyhow::{Context as _, Result};

use super::export::{store_image, StoredImage};
use super::state::StageImage;
use crate::image::{self, Index, MediaTypes};
use crate::plan::Platform;
use crate::store::{self, Descriptor, Store};

/// What a multi-platform build stored.
#[derive(Debug, Clone)]
pub struct StoredIndex {
    /// The index descriptor, as tagged.
    pub index: Descriptor,
    /// Each platform's image, in index order.
    pub images: Vec<(Platform, StoredImage)>,
}

/// The store's descriptor platform for a build platform.
pub fn store_platform(p: &Platform) -> store::Platform {
    store::Platform {
        architecture: p.architecture.clone(),
        os: p.os.clone(),
        variant: (!p.variant.is_empty()).then(|| p.variant.clone()),
        ..Default::default()
    }
}

/// Stores every platform's image and an index over them, tagged `tags`.
pub fn store_index(
    store: &Store,
    images: &[(Platform, StageImage)],
    epoch: Option<i64>,
    labels: &[(String, String)],
    tags: &[String],
) -> Result<StoredIndex> {
    let mut stored = Vec::new();
    let mut entries = Vec::new();
    for (platform, img) in images {
        let mut s = store_image(store, img, epoch, labels, &[])?;
        s.manifest.platform = Some(store_platform(platform));
        let mut d = image::Descriptor::new(
            &s.manifest.media_type,
            s.manifest.digest.to_string(),
            s.manifest.size,
        );
        d.platform = image::Platform::parse(&platform.to_string());
        entries.push(d);
        stored.push((platform.clone(), s));
    }
    let index = Index::new(MediaTypes::Oci, entries)
        .canonical()
        .context("encoding the image index")?;
    let digest = store.put_blob_bytes(&index.bytes, None)?;
    let desc = Descriptor::new(&index.media_type, digest, index.bytes.len() as u64);
    for tag in tags {
        store
            .set_tag(tag, &desc)
            .with_context(|| format!("tagging {tag}"))?;
    }
    Ok(StoredIndex {
        index: desc,
        images: stored,
    })
}
