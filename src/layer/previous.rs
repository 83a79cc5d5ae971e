//! The previous layer of the same COPY (its step family's last layer, see
//! `engine::incremental`), as a source of file contents for the next one: a one-file edit of a
//! 100,000-file context changes one file, and the other 99,999 are in that layer's tar
//! already. Taking their bytes from one mapped file instead of opening, reading and closing
//! 99,999 files is most of a COPY's time.
//!
//! A content is taken only when its sha256 equals the digest the build already knows for the
//! source file (the context's metadata index, the same knowledge the step's cache key rests
//! on), checked over the bytes taken: the layer is byte for byte what reading the file would
//! write. Headers are always written from the new entry, never copied.

use anyhow::{Context, Result};
use memmap2::Mmap;
use rustc_hash::FxHashMap;
use sha2::{Digest as _, Sha256};

use super::mapped_tar::{release_behind, MappedTar};

/// A layer tar mapped in memory, with where each regular file's content lies.
pub struct PreviousLayer {
    map: Mmap,
    /// Entry path as written in the tar → (content offset, size).
    contents: FxHashMap<Vec<u8>, (usize, u64)>,
    /// Pages before this offset were given back (contents are asked for in tar order).
    released: std::cell::Cell<usize>,
    /// Contents taken so far.
    taken: std::cell::Cell<usize>,
}

impl PreviousLayer {
    /// Indexes the regular files of the plain layer tar `map`. Errors on a tar that cannot be
    /// read (the caller then writes without it).
    pub fn open(map: Mmap) -> Result<PreviousLayer> {
        let mut contents = FxHashMap::default();
        {
            let mut archive = tar::Archive::new(MappedTar::new(&map));
            for entry in archive
                .entries_with_seek()
                .context("reading the previous layer")?
            {
                let entry = entry.context("reading the previous layer")?;
                if !matches!(
                    entry.header().entry_type(),
                    tar::EntryType::Regular | tar::EntryType::Continuous
                ) {
                    continue;
                }
                let at = usize::try_from(entry.raw_file_position())?;
                contents.insert(entry.path_bytes().into_owned(), (at, entry.size()));
            }
        }
        Ok(PreviousLayer {
            map,
            contents,
            released: std::cell::Cell::new(0),
            taken: std::cell::Cell::new(0),
        })
    }

    /// The content of the file `path` (as the new layer names it) when the previous layer
    /// holds `size` bytes there whose sha256 is `digest`.
    pub fn content(&self, path: &[u8], size: u64, digest: &[u8; 32]) -> Option<&[u8]> {
        let &(at, had) = self.contents.get(path)?;
        if had != size {
            return None;
        }
        let bytes = self
            .map
            .get(at..at.checked_add(usize::try_from(size).ok()?)?)?;
        let same = Sha256::digest(bytes).as_slice() == digest;
        let mut released = self.released.get();
        release_behind(&self.map, at, &mut released);
        self.released.set(released);
        self.taken.set(self.taken.get() + usize::from(same));
        same.then_some(bytes)
    }

    /// How many contents [`Self::content`] gave.
    pub fn taken(&self) -> usize {
        self.taken.get()
    }
}
