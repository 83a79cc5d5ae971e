//! The build's side of shared cache mounts: noting which mounts RUNs use,
//! restoring an imported one before its first RUN, and collecting the
//! records a `--cache-to …,cache-mounts=true` export writes.

use anyhow::Result;

use super::{ExportedMount, MountUse};
use crate::engine::Shared;
use crate::store::Digest;

impl Shared {
    /// Remembers that a RUN of this build (run or cached) mounts `used`.
    pub(crate) fn note_cache_mount(&self, used: MountUse) {
        let mut uses = self.mount_uses.lock().unwrap_or_else(|e| e.into_inner());
        if !uses.iter().any(|u| u.id == used.id) {
            uses.push(used);
        }
    }

    /// Called by a RUN about to mount the cache `used`: remembers it for
    /// the export, and restores it from an imported cache when the store
    /// has no such mount yet. A restore that fails (a blob missing or
    /// tampered with, an entry escaping the mount…) is a warning and the
    /// mount starts empty, as BuildKit treats a bad cache: the build runs,
    /// only colder.
    pub(crate) fn prepare_cache_mount(&self, used: &MountUse) {
        self.note_cache_mount(used.clone());
        let key = Digest::of(used.id.as_bytes());
        let Some(record) = self.imported.mount(key.hex()) else {
            return;
        };
        if super::mount_dir(&self.store, &key).exists() {
            return;
        }
        let id = self.progress.start(format!(
            "restoring cache mount {} from the shared cache",
            used.id
        ));
        let outcome = self
            .block_on(self.imported.fetch_blobs(
                &self.store,
                &self.client,
                &record.blobs().collect::<Vec<_>>(),
            ))
            .and_then(|()| super::restore(&self.store, record, used));
        match outcome {
            Ok(true) => {
                let bytes: u64 = record.layers.iter().map(|l| l.blob.size).sum();
                self.progress.log(
                    id,
                    format!(
                        "restored from {} layer(s), {bytes} bytes compressed",
                        record.layers.len()
                    ),
                );
            }
            Ok(false) => self.progress.log(id, "the store has this mount already"),
            Err(e) => self.progress.log(
                id,
                format!(
                    "warning: cache mount {} not restored, it starts empty: {e:#}",
                    used.id
                ),
            ),
        }
        self.progress.done(id, false);
    }

    /// The mount records for an export: each mount a RUN of this build
    /// used, as it is in the store now (a delta against its last chain),
    /// and each imported mount no RUN used (its RUNs were cached) as it
    /// was imported, its blobs fetched so they can be written.
    pub(crate) fn export_cache_mounts(&self) -> Result<Vec<ExportedMount>> {
        let uses = self
            .mount_uses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out: Vec<ExportedMount> = Vec::new();
        for used in &uses {
            let id = self
                .progress
                .start(format!("exporting cache mount {}", used.id));
            match super::export_mount(&self.store, used)? {
                Some(x) => {
                    let msg = if x.new_layer_bytes == 0 {
                        format!("unchanged ({} layer(s))", x.record.layers.len())
                    } else {
                        format!(
                            "new layer of {} bytes ({} layer(s) in the chain)",
                            x.new_layer_bytes,
                            x.record.layers.len()
                        )
                    };
                    self.progress.log(id, msg);
                    if x.skipped > 0 {
                        self.progress.log(
                            id,
                            format!(
                                "{} special file(s) (fifos, sockets, devices) left out",
                                x.skipped
                            ),
                        );
                    }
                    out.push(x.record);
                }
                None => self.progress.log(id, "not in the store: nothing to export"),
            }
            self.progress.done(id, false);
        }
        let mut carried: Vec<&ExportedMount> = self
            .imported
            .mounts()
            .filter(|m| !out.iter().any(|o| o.id == m.id))
            .collect();
        carried.sort_by(|a, b| a.id.cmp(&b.id));
        for m in carried {
            let blobs: Vec<_> = m.blobs().collect();
            self.block_on(self.imported.fetch_blobs(&self.store, &self.client, &blobs))?;
            out.push(m.clone());
        }
        Ok(out)
    }
}
