//! A stage's image as it is being built: config, history and the layer
//! chain, with the snapshot dirs that back it.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::image::ImageConfig;
use crate::plan::StageState;
use crate::store::{Descriptor, Digest, Store};

/// One layer of a stage's chain.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// The uncompressed tar's digest.
    pub diff_id: Digest,
    /// The blob in the store: the registry's (compressed) blob for pulled
    /// layers, the uncompressed tar for layers built here.
    pub blob: Descriptor,
}

/// A stage's image so far.
#[derive(Debug, Clone)]
pub struct StageImage {
    /// Image config, history included; `rootfs.diff_ids` matches `layers`.
    pub config: ImageConfig,
    /// The layer chain, base first.
    pub layers: Vec<LayerRef>,
    /// The ARG/ENV scope to hand to a stage built `FROM` this one.
    pub scope: StageState,
    /// History entries that came with the base image.
    pub base_history: usize,
    /// The step cache key of the last step (or of the base).
    pub cache_key: String,
}

impl StageImage {
    /// The snapshot dirs of the chain, top layer first (overlay's lowerdir
    /// order), extracting any that are not in the store yet.
    pub fn lowers(&self, store: &Store) -> Result<Vec<PathBuf>> {
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in self.layers.iter().rev() {
            out.push(ensure_snapshot(store, layer)?);
        }
        Ok(out)
    }

    /// Appends a layer (and its diffID to the config).
    pub fn push_layer(&mut self, layer: LayerRef) {
        self.config.rootfs.diff_ids.push(layer.diff_id.to_string());
        self.layers.push(layer);
    }
}

/// The snapshot dir of a layer, extracted from its blob if missing.
pub fn ensure_snapshot(store: &Store, layer: &LayerRef) -> Result<PathBuf> {
    let mut extract = |input: &mut dyn std::io::Read, dest: &std::path::Path| -> Result<()> {
        // The store hashes the stream on another core (`extract_checked`).
        let opts = crate::layer::ExtractOptions {
            unhashed: true,
            ..Default::default()
        };
        crate::layer::extract(input, dest, &opts).map(|_| ())
    };
    store
        .ensure_snapshot(&layer.diff_id, &layer.blob.digest, &mut extract)
        .with_context(|| format!("preparing the snapshot of layer {}", layer.diff_id))
}
