//! Turning a step's overlay upper dir into a layer: deterministic tar into
//! the store (uncompressed, keyed by diffID, as Docker keeps built layers),
//! then the upper dir itself becomes the layer's snapshot (it already is in
//! overlay format), so the next step mounts it without extracting anything.

use std::path::Path;

use anyhow::{Context as _, Result};

use super::state::LayerRef;
use crate::layer::{write, write_planned, PlannedEntry, SourceKind, WriteOptions};
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
/// snapshot is made until a later step needs one.
pub fn commit_planned(
    store: &Store,
    entries: &[PlannedEntry],
    epoch: Option<i64>,
) -> Result<LayerRef> {
    let opts = WriteOptions {
        kind: SourceKind::Plain,
        source_date_epoch: epoch,
    };
    let written =
        write_planned(entries, &store.temp_dir()?, &opts).context("writing the layer tar")?;
    let diff_id = Digest::parse(&format!("sha256:{}", written.diff_id.hex()))
        .context("the layer writer returned a bad digest")?;
    store.adopt_blob(&written.path, &diff_id, written.size)?;
    Ok(LayerRef {
        blob: Descriptor::new(MEDIA_TYPE_LAYER_TAR, diff_id.clone(), written.size),
        diff_id,
    })
}
