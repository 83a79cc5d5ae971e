//! Turning a step's overlay upper dir into a layer: deterministic tar into
//! the store (uncompressed, keyed by diffID, as Docker keeps built layers),
//! then the upper dir itself becomes the layer's snapshot (it already is in
//! overlay format), so the next step mounts it without extracting anything.

use std::path::Path;

use anyhow::{Context as _, Result};

use super::state::LayerRef;
use crate::layer::{
    write, write_planned, PlannedEntry, PlannedKind, PreviousLayer, SourceKind, WriteOptions,
};
use crate::store::{Descriptor, Digest, Store};

/// OCI media type of an uncompressed layer.
pub const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// Commits `upper` as a layer; `upper` is moved into the store's snapshots
/// (or removed when an identical snapshot is already there).
pub fn commit_upper(store: &Store, upper: &Path, epoch: Option<i64>) -> Result<LayerRef> {
    let opts = WriteOptions {
        kind: SourceKind::OverlayUpper,
        source_date_epoch: epoch,
    };
    let written = write(upper, &store.temp_dir()?, &opts).context("writing the layer tar")?;
    let diff_id = Digest::parse(&format!("sha256:{}", written.diff_id.hex()))
        .context("the layer writer returned a bad digest")?;
    // The writer fsynced the tar in the store's tmp dir and hashed it as it
    // wrote: it is moved in, not copied and hashed again.
    let (digest, size) = (diff_id.clone(), written.size);
    store.adopt_blob(&written.path, &digest, size)?;
    let snapshot = store.snapshot_path(&diff_id);
    if !snapshot.exists() {
        // Same filesystem (both under the store root): an atomic rename.
        if std::fs::rename(upper, &snapshot).is_err() && !snapshot.exists() {
            // Not fatal: the snapshot is extracted from the blob when needed.
        }
    }
    Ok(LayerRef {
        diff_id,
        blob: Descriptor::new(MEDIA_TYPE_LAYER_TAR, digest, size),
    })
}

/// Commits a layer described entry by entry (see `engine::direct_copy`):
/// the tar is written from the sources and moved into the store; no
/// snapshot is made until a later step needs one. `previous`: the diffID of
/// the step's previous layer (its family's), whose unchanged contents are
/// taken from its plain tar in the store instead of the sources when it is
/// there (see `layer::PreviousLayer`).
pub fn commit_planned(
    store: &Store,
    entries: &[PlannedEntry],
    epoch: Option<i64>,
    previous: Option<&Digest>,
) -> Result<(LayerRef, Option<TakenFrom>)> {
    let opts = WriteOptions {
        kind: SourceKind::Plain,
        source_date_epoch: epoch,
    };
    // Without it (pruned, or pulled compressed) the sources are read, as in a cold build.
    let known = |e: &PlannedEntry| {
        matches!(
            e.kind,
            PlannedKind::File {
                digest: Some(_),
                ..
            }
        )
    };
    let from = previous.filter(|d| store.has_blob(d) && entries.iter().any(known));
    let previous = from
        .and_then(|d| store.map_blob(d).ok())
        .and_then(|map| PreviousLayer::open(map).ok());
    let written = write_planned(entries, &store.temp_dir()?, &opts, previous.as_ref())
        .context("writing the layer tar")?;
    let diff_id = Digest::parse(&format!("sha256:{}", written.diff_id.hex()))
        .context("the layer writer returned a bad digest")?;
    store.adopt_blob(&written.path, &diff_id, written.size)?;
    let taken = previous.zip(from).map(|(p, from)| TakenFrom {
        layer: from.clone(),
        files: entries
            .iter()
            .filter(|e| matches!(e.kind, PlannedKind::File { .. }))
            .count(),
        taken: p.taken(),
    });
    let layer = LayerRef {
        blob: Descriptor::new(MEDIA_TYPE_LAYER_TAR, diff_id.clone(), written.size),
        diff_id,
    };
    Ok((layer, taken))
}

/// What [`commit_planned`] took from the previous layer.
#[derive(Debug)]
pub struct TakenFrom {
    /// The previous layer's diffID.
    pub layer: Digest,
    /// Regular files in the new layer.
    pub files: usize,
    /// Of those, how many contents came from the previous layer.
    pub taken: usize,
}

impl std::fmt::Display for TakenFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short: String = self.layer.to_string().chars().take(19).collect();
        write!(
            f,
            "layer: {} of {} files' contents taken from the previous layer {short}",
            self.taken, self.files
        )
    }
}
