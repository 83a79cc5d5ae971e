//! Layer blobs mapped into memory: a delta snapshot is planned and made from the tars in
//! place (see `layer::plan_delta_mapped`), without streaming the layer through a pipe and
//! three buffers, while another core checks the blob's digest over the same map.
//!
//! Mapping is sound here because blobs are immutable: a blob is written under a temp name and
//! renamed to its digest (`BlobWriter`), never written again, and `prune` only unlinks it,
//! which leaves an existing map valid. Nothing in the store truncates a blob in place.

use std::path::Path;

use anyhow::{bail, Context, Result};
use memmap2::Mmap;

use super::digest::Digest;
use super::Store;

/// Extracts from an uncompressed layer tar held in memory into the directory.
pub type MappedExtractor<'a> = dyn FnMut(&Mmap, &Path) -> Result<()> + 'a;

/// A layer tar as handed to an extractor: a stream (decompressed, hashed by the store on
/// another core as it is read), or the whole uncompressed tar in memory (hashed meanwhile).
pub enum LayerTar<'a> {
    /// Read it in order, to its end.
    Stream(&'a mut dyn std::io::Read),
    /// The whole tar, to read in any order.
    Mapped(&'a Mmap),
}

impl Store {
    /// The blob `digest` mapped read-only (see the module docs for why that is sound).
    /// Errors when the blob is not in the store or cannot be mapped.
    pub fn map_blob(&self, digest: &Digest) -> Result<Mmap> {
        let file = self.open_blob(digest)?;
        // SAFETY: store blobs are immutable once at their name (module docs): no one
        // truncates or rewrites the file while it is mapped.
        let map = unsafe { Mmap::map(&file) }
            .with_context(|| format!("mapping blob {digest} into memory"))?;
        // One sequential pass each for the hash and the extraction.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(map)
    }

    /// Runs `extract` over `map`, the uncompressed layer tar `diff_id` (its blob is the plain
    /// tar) mapped in memory, while another thread hashes the map: an extraction of a blob that
    /// does not match its name is an error, as [`Store::extract_checked`]'s. A blob this
    /// process wrote and hashed itself moments ago (`adopt_blob`) is not hashed again: the
    /// store took it on that hash already.
    pub(super) fn extract_mapped(
        &self,
        diff_id: &Digest,
        dest: &Path,
        map: &Mmap,
        extract: &mut MappedExtractor<'_>,
    ) -> Result<()> {
        let adopted = self
            .adopted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(diff_id);
        if adopted {
            return extract(map, dest).with_context(|| format!("extracting layer {diff_id}"));
        }
        let got = std::thread::scope(|s| -> Result<Digest> {
            // Its own map: each reader gives back the pages behind it.
            let own = self.map_blob(diff_id)?;
            let hashing = s.spawn(move || {
                Digest::from_hex(&hex::encode(crate::layer::sha256_releasing(&own)))
            });
            let extracted =
                extract(map, dest).with_context(|| format!("extracting layer {diff_id}"));
            let hashed = hashing
                .join()
                .map_err(|_| anyhow::anyhow!("layer hashing thread panicked"))??;
            extracted?;
            Ok(hashed)
        })?;
        if got != *diff_id {
            bail!("layer {diff_id} does not match its diffID: got {got}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_blob_that_does_not_match_its_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let tar = vec![5u8; 3 << 20];
        let digest = s.put_blob_bytes(&tar, None).unwrap();
        let dest = dir.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        let seen = std::cell::Cell::new(0);
        let mut count = |m: &Mmap, _: &Path| {
            seen.set(m.len());
            Ok(())
        };
        let map = s.map_blob(&digest).unwrap();
        s.extract_mapped(&digest, &dest, &map, &mut count).unwrap();
        assert_eq!(seen.get(), tar.len());
        // The same length, one byte changed behind the store's back.
        let path = s.blob_path(&digest);
        let mut damaged = tar.clone();
        damaged[1 << 20] = 6;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        std::fs::write(&path, &damaged).unwrap();
        let map = s.map_blob(&digest).unwrap();
        let e = s
            .extract_mapped(&digest, &dest, &map, &mut count)
            .unwrap_err();
        assert!(
            format!("{e:#}").contains("does not match its diffID"),
            "{e:#}"
        );
    }
}
