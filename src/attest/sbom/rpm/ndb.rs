//! rpm's "ndb" backend (rpm >= 4.16, the default of openSUSE and SLE 15
//! SP3+): the package database `Packages.db`, read without librpm.
//!
//! No maintained crate reads it (the `rpmdb` crate has one release from
//! 2023), and it is small, so it is read here as rpm writes it
//! (`lib/backend/ndb/rpmpkg.c`); all integers are little-endian:
//!
//! - the file is made of 16-byte blocks; the first `slotnpages` 4 KiB
//!   pages hold 16-byte slots, the first two of which are the header:
//!   magic `RpmP`, version 0, generation, `slotnpages`, next package index;
//! - a slot is magic `Slot`, package index, block offset, block count; a
//!   block offset of 0 marks a free slot;
//! - a package's blocks hold its blob: head (magic `BlbS`, package index,
//!   generation, blob length), the header blob, zero padding, tail (Adler-32
//!   of head, blob and padding; blob length; magic `BlbE`).
//!
//! Like rpm, a bad slot magic makes the whole file unreadable; a blob whose
//! head, length or checksum disagrees is skipped with a warning. Blobs are
//! bounded by the file (and by [`super::bdb::MAX_BLOB`]) before any
//! allocation.

use super::Source;

const PAGE: u64 = 4096;
const SLOT: u64 = 16;
const BLOCK: u64 = 16;
const HEAD: u64 = 16;
const TAIL: u64 = 12;
const MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const TAIL_MAGIC: u32 = u32::from_le_bytes(*b"BlbE");

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// One used slot.
struct Slot {
    pkgidx: u32,
    blkoff: u32,
    blkcnt: u32,
}

/// The used slots of the database, by package index.
fn slots<S: Source + ?Sized>(src: &S) -> Result<Vec<Slot>, String> {
    let mut head = [0u8; 32];
    src.read_at(&mut head, 0)
        .map_err(|e| format!("no ndb header: {e}"))?;
    if le32(&head, 0) != MAGIC {
        return Err("not an rpm ndb database (bad magic)".into());
    }
    if le32(&head, 4) != 0 {
        return Err(format!("ndb version {} is not read", le32(&head, 4)));
    }
    let npages = u64::from(le32(&head, 12));
    if npages == 0 || npages * PAGE > src.len() {
        return Err(format!("{npages} slot pages do not fit in the file"));
    }
    let first_blob = npages * PAGE / BLOCK;
    let mut out = Vec::new();
    let mut page = vec![0u8; PAGE as usize];
    for p in 0..npages {
        src.read_at(&mut page, p * PAGE)
            .map_err(|e| format!("slot page {p}: {e}"))?;
        let skip = if p == 0 { 32 } else { 0 };
        for s in page[skip..].chunks_exact(SLOT as usize) {
            if le32(s, 0) != SLOT_MAGIC {
                return Err(format!("bad slot magic in slot page {p}"));
            }
            let slot = Slot {
                pkgidx: le32(s, 4),
                blkoff: le32(s, 8),
                blkcnt: le32(s, 12),
            };
            if slot.blkoff != 0 {
                if u64::from(slot.blkoff) < first_blob {
                    return Err(format!("package {} lies in the slot pages", slot.pkgidx));
                }
                out.push(slot);
            }
        }
    }
    out.sort_by_key(|s| (s.pkgidx, s.blkoff));
    Ok(out)
}

/// The header blob of `slot`, checked against its head and tail.
fn blob<S: Source + ?Sized>(src: &S, slot: &Slot) -> Result<Vec<u8>, String> {
    let start = u64::from(slot.blkoff) * BLOCK;
    let size = u64::from(slot.blkcnt) * BLOCK;
    if size < HEAD + TAIL || start + size > src.len() {
        return Err(format!(
            "{} blocks at block {} do not fit",
            slot.blkcnt, slot.blkoff
        ));
    }
    if size > super::bdb::MAX_BLOB + HEAD + TAIL + BLOCK {
        return Err(format!(
            "a {size}-byte blob (limit {})",
            super::bdb::MAX_BLOB
        ));
    }
    let mut all = vec![0u8; size as usize];
    src.read_at(&mut all, start).map_err(|e| e.to_string())?;
    let len = u64::from(le32(&all, 12));
    if le32(&all, 0) != BLOB_MAGIC || le32(&all, 4) != slot.pkgidx {
        return Err("the blob's head does not match its slot".into());
    }
    if (HEAD + len + TAIL).div_ceil(BLOCK) != u64::from(slot.blkcnt) {
        return Err(format!("a {len}-byte blob in {} blocks", slot.blkcnt));
    }
    let tail = &all[(size - TAIL) as usize..];
    if u64::from(le32(tail, 4)) != len || le32(tail, 8) != TAIL_MAGIC {
        return Err("bad blob tail".into());
    }
    let mut adler = adler2::Adler32::new();
    adler.write_slice(&all[..(size - TAIL) as usize]);
    if adler.checksum() != le32(tail, 0) {
        return Err("blob checksum mismatch".into());
    }
    all.truncate((HEAD + len) as usize);
    all.drain(..HEAD as usize);
    Ok(all)
}

/// Calls `each` with every package header blob of the ndb database in
/// `src`, by package index; a blob that cannot be read is reported to
/// `warn` and skipped; an error when the file is not a readable ndb
/// database.
pub fn read<S: Source + ?Sized>(
    src: &S,
    each: &mut dyn FnMut(&[u8]),
    warn: &mut dyn FnMut(String),
) -> Result<(), String> {
    // Blobs do not overlap: more than the file in all is a hostile file
    // pointing many slots at one large blob.
    let mut total = 0u64;
    for slot in slots(src)? {
        total += u64::from(slot.blkcnt) * BLOCK;
        if total > src.len() {
            return Err("the slots claim more blocks than the file has".into());
        }
        match blob(src, &slot) {
            Ok(b) => each(&b),
            Err(e) => warn(format!("package {}: {e}", slot.pkgidx)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-page database holding `blob` as package 7.
    fn db(blob: &[u8]) -> Vec<u8> {
        let mut d = vec![0u8; PAGE as usize];
        for s in d.chunks_exact_mut(SLOT as usize).skip(2) {
            s[..4].copy_from_slice(&SLOT_MAGIC.to_le_bytes());
        }
        let w = |d: &mut [u8], at: usize, v: u32| d[at..at + 4].copy_from_slice(&v.to_le_bytes());
        w(&mut d, 0, MAGIC);
        w(&mut d, 12, 1);
        let blkcnt = (HEAD + blob.len() as u64 + TAIL).div_ceil(BLOCK) as u32;
        w(&mut d, 32 + 4, 7);
        w(&mut d, 32 + 8, (PAGE / BLOCK) as u32);
        w(&mut d, 32 + 12, blkcnt);
        let mut b = vec![0u8; (u64::from(blkcnt) * BLOCK) as usize];
        w(&mut b, 0, BLOB_MAGIC);
        w(&mut b, 4, 7);
        w(&mut b, 12, blob.len() as u32);
        b[16..16 + blob.len()].copy_from_slice(blob);
        let n = b.len();
        let mut adler = adler2::Adler32::new();
        adler.write_slice(&b[..n - 12]);
        w(&mut b, n - 12, adler.checksum());
        w(&mut b, n - 8, blob.len() as u32);
        w(&mut b, n - 4, TAIL_MAGIC);
        d.extend(b);
        d
    }

    fn blobs(d: &[u8]) -> (Result<Vec<Vec<u8>>, String>, Vec<String>) {
        super::super::collect(read::<[u8]>, d)
    }

    #[test]
    fn blob_read_and_damage_detected() {
        let d = db(b"a header blob");
        assert_eq!(blobs(&d).0.unwrap(), vec![b"a header blob".to_vec()]);
        // A flipped byte of the blob: checksum; a cut file: the slot no longer fits.
        let mut bad = d.clone();
        bad[4096 + 20] ^= 1;
        assert!(blobs(&bad).1[0].contains("checksum"));
        assert!(blobs(&d[..d.len() - 1]).1[0].contains("do not fit"));
        // Huge counts: slot pages, blocks.
        let mut bad = d.clone();
        bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(blobs(&bad).0.is_err());
        let mut bad = d.clone();
        bad[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(blobs(&bad).0.is_err());
        for garbage in [&[][..], &b"RpmP"[..], &[0xff; 5000][..]] {
            assert!(blobs(garbage).0.is_err());
        }
    }
}
