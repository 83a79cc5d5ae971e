//! Image IDs: finding images by ID as Docker does, and images kept without
//! a name (loaded from an archive that names none: Docker's dangling
//! `<none>:<none>` images).
//!
//! An image's ID is its config digest, as `docker images` (the classic
//! image store of Docker 26) and `builder build -q` show it; for an index
//! it is the index digest. IDs are accepted in full (`sha256:<64 hex>`,
//! `<64 hex>`) or as a unique hex prefix (`docker images` shows 12 digits);
//! manifest digests and their prefixes are accepted too.

use anyhow::{bail, Context, Result};

use super::descriptor::{is_index, Descriptor, REF_NAME_ANNOTATION};
use super::digest::Digest;
use super::index::{read_index, write_index, ImageEntry};
use super::Store;

impl Store {
    /// The image ID of a tagged manifest or index: its config digest, or
    /// the index's own digest. Errors if the manifest blob is unreadable.
    pub fn image_id(&self, desc: &Descriptor) -> Result<Digest> {
        if is_index(&desc.media_type) {
            return Ok(desc.digest.clone());
        }
        let doc: serde_json::Value = serde_json::from_slice(&self.read_blob(&desc.digest)?)
            .with_context(|| format!("manifest {} is not JSON", desc.digest))?;
        let config = doc
            .pointer("/config/digest")
            .and_then(|v| v.as_str())
            .with_context(|| format!("manifest {} has no config", desc.digest))?;
        Ok(Digest::parse(config)?)
    }

    /// The entries of the image `id` names: a full ID or unique ID prefix
    /// (with or without `sha256:`), or a manifest digest or its prefix.
    /// Empty when `id` is not hex or matches nothing; an error when the
    /// prefix matches several different images.
    pub fn find_by_id(&self, id: &str) -> Result<Vec<ImageEntry>> {
        let hex = id.strip_prefix("sha256:").unwrap_or(id);
        if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let hex = hex.to_ascii_lowercase();
        let mut found: Vec<(Digest, ImageEntry)> = Vec::new();
        for entry in self.list_images()? {
            let image_id = self.image_id(&entry.descriptor).ok();
            let by_id = image_id.as_ref().is_some_and(|d| d.hex().starts_with(&hex));
            if by_id || entry.descriptor.digest.hex().starts_with(&hex) {
                let key = image_id.unwrap_or_else(|| entry.descriptor.digest.clone());
                found.push((key, entry));
            }
        }
        if let Some((first, _)) = found.first() {
            if found.iter().any(|(k, _)| k != first) {
                bail!("{id} matches several images; give more digits");
            }
        }
        Ok(found.into_iter().map(|(_, e)| e).collect())
    }

    /// Keeps an image without a name (so `prune` keeps it and `images`
    /// lists it as `<none>`), unless an entry already points at it.
    pub fn add_untagged(&self, descriptor: &Descriptor) -> Result<()> {
        let _l = self.lock("index")?;
        let mut index = read_index(self)?;
        if index
            .manifests
            .iter()
            .any(|m| m.digest == descriptor.digest)
        {
            return Ok(());
        }
        let mut d = descriptor.clone();
        d.annotations.remove(REF_NAME_ANNOTATION);
        index.manifests.push(d);
        write_index(self, &index)
    }

    /// Removes the nameless entries pointing at `digest`; returns whether
    /// there were any.
    pub fn remove_untagged(&self, digest: &Digest) -> Result<bool> {
        let _l = self.lock("index")?;
        let mut index = read_index(self)?;
        let before = index.manifests.len();
        index
            .manifests
            .retain(|m| m.digest != *digest || m.annotations.contains_key(REF_NAME_ANNOTATION));
        if index.manifests.len() == before {
            return Ok(false);
        }
        write_index(self, &index)?;
        Ok(true)
    }
}
