//! A layer tar mapped in memory, read as a seekable stream that gives its pages back behind
//! it: a 200 MB layer walked through a map would otherwise count 200 MB in the process's
//! resident set (the page cache keeps the pages; only this process's mapping of them goes).

use std::io::{self, Read, Seek, SeekFrom};

use memmap2::{Mmap, UncheckedAdvice};

/// Pages this far behind the read position stay mapped (an entry's header and content are
/// read at or after it), and are released in steps of this size.
const WINDOW: usize = 8 << 20;

/// Reads `map` from its start; `Seek` moves freely, releasing happens behind the furthest
/// position read.
pub struct MappedTar<'a> {
    map: &'a Mmap,
    pos: usize,
    released: usize,
}

impl<'a> MappedTar<'a> {
    /// A reader at the start of `map`.
    pub fn new(map: &'a Mmap) -> Self {
        MappedTar {
            map,
            pos: 0,
            released: 0,
        }
    }

    /// A reader at `pos` of `map` that gives back only pages it reads past (none before `pos`).
    pub fn new_at(map: &'a Mmap, pos: usize) -> Self {
        MappedTar {
            map,
            pos,
            released: pos & !(page_size() - 1),
        }
    }

    /// The whole tar (for contents compared or copied where they lie, at or after the
    /// read position).
    pub fn bytes(&self) -> &'a [u8] {
        self.map
    }

    fn release_behind(&mut self) {
        release_behind(self.map, self.pos, &mut self.released);
    }
}

/// Gives back the pages of `map` more than [`WINDOW`] before `pos` (from `released` on, which
/// it advances), in steps of at least [`WINDOW`].
pub(super) fn release_behind(map: &Mmap, pos: usize, released: &mut usize) {
    let upto = pos.saturating_sub(WINDOW) & !(page_size() - 1);
    if upto >= *released + WINDOW {
        // SAFETY: the map is a read-only shared file map (`Mmap`); dropped pages are read
        // again from the file if touched (a correct read, only slower).
        let _ = unsafe {
            map.unchecked_advise_range(UncheckedAdvice::DontNeed, *released, upto - *released)
        };
        *released = upto;
    }
}

/// Hashes `map` with sha256, releasing its pages behind as [`MappedTar`] does.
pub fn sha256_releasing(map: &Mmap) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut r = MappedTar::new(map);
    let mut h = Sha256::new();
    while r.pos < map.len() {
        let end = map.len().min(r.pos + WINDOW);
        h.update(&map[r.pos..end]);
        r.pos = end;
        r.release_behind();
    }
    h.finalize().into()
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .ok()
        .filter(|p| p.is_power_of_two())
        .unwrap_or(4096)
}

impl Read for MappedTar<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.map.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        self.release_behind();
        Ok(n)
    }
}

impl Seek for MappedTar<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let base = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => (self.pos as u64).checked_add_signed(d),
            SeekFrom::End(d) => (self.map.len() as u64).checked_add_signed(d),
        };
        let at = base
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        self.pos = at;
        self.release_behind();
        Ok(at as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_seeks_and_hashes_like_the_file() {
        let data: Vec<u8> = (0..(3 * WINDOW + 12345)).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        let map = unsafe { Mmap::map(&f) }.unwrap();
        let mut r = MappedTar::new(&map);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, data);
        assert!(r.released > 0, "pages behind were released");
        r.seek(SeekFrom::Start(5)).unwrap();
        let mut b = [0u8; 3];
        r.read_exact(&mut b).unwrap();
        assert_eq!(b, data[5..8]);
        assert!(r.seek(SeekFrom::Current(-100)).is_err());
        use sha2::Digest;
        assert_eq!(
            sha256_releasing(&map),
            <[u8; 32]>::from(sha2::Sha256::digest(&data))
        );
    }
}
