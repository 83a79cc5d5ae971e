//! rpm's Berkeley DB backend: the `Packages` hash database (one record per
//! installed package, the value its header blob), read without libdb.
//!
//! No maintained crate reads Berkeley DB files (the `rpmdb` crate, a port
//! of go-rpmdb, has one release from 2023 and pins an old rusqlite), and
//! only a read of every value is needed, so the on-disk format is read
//! here, as libdb 4.x–6.x writes it (`dbinc/db_page.h`; go-rpmdb's
//! `pkg/bdb` reads it the same way):
//!
//! - page 0 is the hash meta page: magic `0x061561` at byte 12 (in the
//!   database's byte order: libdb writes host order, so both little- and
//!   big-endian files exist), page size at 20, encryption algorithm at 24,
//!   page type 8 at 25, flags at 26, last page number at 32;
//! - every page starts with a 26-byte header: page number at 8, next page
//!   at 16, entry count (u16) at 20, free-area offset (u16) at 22, type at
//!   25; a hash page (type 13, or 2 for libdb < 4.6's unsorted pages) holds
//!   key/value pairs whose u16 offsets follow the header; an item runs from
//!   its offset to the previous item's (the page end for the first), its
//!   first byte its kind: 1 the bytes themselves, 3 "off page": page number
//!   at 4 and total length at 8 of an overflow chain;
//! - an overflow page (type 7) carries its free-area offset bytes of data
//!   after the header, then continues at its next page (0 ends the chain).
//!
//! The hash pages are visited in page order instead of by bucket: every
//! record lives on exactly one hash page, and freed pages lose their type.
//! A hostile file can only produce errors or skipped records: every offset
//! is checked, a chain may visit at most as many pages as the file has and
//! may not deliver more than its stated length, and no value may be larger
//! than [`MAX_BLOB`] nor all values together larger than the file.

use super::Source;

/// The largest header blob accepted (bytes); rpm's own limit is 256 MiB
/// (`HEADER_DATA_MAX`), real headers are under a few MiB.
pub const MAX_BLOB: u64 = 64 << 20;

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
/// `DBMETA_CHKSUM`: pages carry a checksum, which moves their contents.
const META_CHKSUM: u8 = 0x01;

/// The database's byte order and page geometry.
struct Db<'a, S: Source + ?Sized> {
    src: &'a S,
    big_endian: bool,
    page_size: usize,
    pages: u32,
}

impl<S: Source + ?Sized> Db<'_, S> {
    /// The `n`-byte unsigned integer at `at` in the database's byte order.
    fn uint(&self, b: &[u8], at: usize, n: usize) -> Option<u32> {
        let bytes = b.get(at..at.checked_add(n)?)?;
        let fold = |v: u32, x: &u8| (v << 8) | u32::from(*x);
        Some(if self.big_endian {
            bytes.iter().fold(0, fold)
        } else {
            bytes.iter().rev().fold(0, fold)
        })
    }

    fn u16(&self, b: &[u8], at: usize) -> Option<u16> {
        self.uint(b, at, 2).map(|v| v as u16)
    }

    fn u32(&self, b: &[u8], at: usize) -> Option<u32> {
        self.uint(b, at, 4)
    }

    fn page(&self, pgno: u32, buf: &mut [u8]) -> Result<(), String> {
        if pgno >= self.pages {
            return Err(format!("page {pgno} is past the end of the file"));
        }
        self.src
            .read_at(buf, u64::from(pgno) * self.page_size as u64)
            .map_err(|e| format!("page {pgno}: {e}"))
    }

    /// The value of an off-page item: `len` bytes from the chain at `pgno`.
    fn overflow(&self, mut pgno: u32, len: u64, buf: &mut [u8]) -> Result<Vec<u8>, String> {
        if len > MAX_BLOB {
            return Err(format!("a {len}-byte record (limit {MAX_BLOB})"));
        }
        // Reserve no more than the file could hold: `len` is untrusted.
        let mut out = Vec::with_capacity(len.min(self.src.len()) as usize);
        for _ in 0..self.pages {
            self.page(pgno, buf)?;
            if buf[25] != P_OVERFLOW {
                return Err(format!(
                    "page {pgno} of an overflow chain has type {}",
                    buf[25]
                ));
            }
            let n = usize::from(self.u16(buf, 22).unwrap_or(0));
            let data = buf
                .get(PAGE_HEADER..PAGE_HEADER + n)
                .ok_or_else(|| format!("overflow page {pgno} claims {n} bytes"))?;
            if out.len() as u64 + n as u64 > len {
                return Err(format!(
                    "overflow chain at page {pgno} is longer than {len} bytes"
                ));
            }
            out.extend_from_slice(data);
            pgno = self.u32(buf, 16).unwrap_or(0);
            if pgno == 0 {
                return if out.len() as u64 == len {
                    Ok(out)
                } else {
                    Err(format!(
                        "overflow chain ends after {} of {len} bytes",
                        out.len()
                    ))
                };
            }
        }
        Err("overflow chain loops".into())
    }
}

/// Calls `each` with every value of the Berkeley DB hash database in `src`
/// (for rpm's `Packages`: the header blobs, and the 4-byte record 0 some
/// rpm versions keep, which the header parser refuses). A record that
/// cannot be read is reported to `warn` and skipped; an error when the
/// file is not a readable hash database.
pub fn read<S: Source + ?Sized>(
    src: &S,
    each: &mut dyn FnMut(&[u8]),
    warn: &mut dyn FnMut(String),
) -> Result<(), String> {
    let mut meta = [0u8; 72];
    src.read_at(&mut meta, 0)
        .map_err(|e| format!("no Berkeley DB meta page: {e}"))?;
    let magic = |be: bool| {
        let b: [u8; 4] = meta[12..16].try_into().unwrap_or_default();
        if be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let big_endian = match (magic(false), magic(true)) {
        (HASH_MAGIC, _) => false,
        (_, HASH_MAGIC) => true,
        _ => return Err("not a Berkeley DB hash database (bad magic)".into()),
    };
    let mut db = Db {
        src,
        big_endian,
        page_size: 0,
        pages: 0,
    };
    let page_size = db.u32(&meta, 20).unwrap_or(0);
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("bad page size {page_size}"));
    }
    if meta[25] != P_HASHMETA {
        return Err(format!(
            "page 0 has type {}, not a hash meta page",
            meta[25]
        ));
    }
    if meta[24] != 0 || meta[26] & META_CHKSUM != 0 {
        return Err("encrypted or checksummed Berkeley DB databases are not read".into());
    }
    db.page_size = page_size as usize;
    let last = db.u32(&meta, 32).unwrap_or(0);
    let in_file = src.len() / u64::from(page_size);
    db.pages = u32::try_from(in_file.min(u64::from(last) + 1)).unwrap_or(u32::MAX);
    let mut page = vec![0u8; db.page_size];
    let mut chain = vec![0u8; db.page_size];
    let mut total = 0u64;
    for pgno in 1..db.pages {
        db.page(pgno, &mut page)?;
        if page[25] != P_HASH && page[25] != P_HASH_UNSORTED {
            continue;
        }
        let entries = usize::from(db.u16(&page, 20).unwrap_or(0));
        if PAGE_HEADER + entries * 2 > db.page_size {
            warn(format!("hash page {pgno} claims {entries} entries"));
            continue;
        }
        let offset = |i: usize| usize::from(db.u16(&page, PAGE_HEADER + 2 * i).unwrap_or(0));
        // Values are the odd entries; each ends where the previous item starts.
        for i in (1..entries).step_by(2) {
            let (start, end) = (offset(i), offset(i - 1));
            let Some(item) = page.get(start..end).filter(|it| !it.is_empty()) else {
                warn(format!("hash page {pgno}: item {i} at {start}..{end}"));
                continue;
            };
            let value = match item[0] {
                H_KEYDATA => item[1..].to_vec(),
                H_OFFPAGE => {
                    let (Some(next), Some(len)) = (db.u32(item, 4), db.u32(item, 8)) else {
                        warn(format!("hash page {pgno}: short off-page item {i}"));
                        continue;
                    };
                    match db.overflow(next, u64::from(len), &mut chain) {
                        Ok(v) => v,
                        Err(e) => {
                            warn(format!("hash page {pgno}, item {i}: {e}"));
                            continue;
                        }
                    }
                }
                // Duplicates (kinds 2 and 4) are not used by rpm's Packages.
                _ => continue,
            };
            total += value.len() as u64;
            if total > src.len() {
                return Err("the records hold more bytes than the file".into());
            }
            each(&value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database of 512-byte pages in the given byte order: a hash page
    /// (1) with an on-page value `v1` and an off-page one whose chain is
    /// pages 2 -> 3 (`next` of page 3 as given).
    fn db(big_endian: bool, last_next: u32) -> Vec<u8> {
        let ps = 512usize;
        // Writes the low `n` bytes of `v` in the database's byte order.
        let w = |b: &mut [u8], at: usize, v: u32, n: usize| {
            let x = if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            let x = if big_endian { &x[4 - n..] } else { &x[..n] };
            b[at..at + n].copy_from_slice(x);
        };
        let w16 = |b: &mut [u8], at: usize, v: u16| w(b, at, u32::from(v), 2);
        let w32 = |b: &mut [u8], at: usize, v: u32| w(b, at, v, 4);
        let mut d = vec![0u8; ps * 4];
        w32(&mut d, 12, HASH_MAGIC);
        w32(&mut d, 20, ps as u32);
        d[25] = P_HASHMETA;
        w32(&mut d, 32, 3);
        // Hash page: items from the page end down: key1, v1, key2, off-page.
        let p = &mut d[ps..2 * ps];
        p[25] = P_HASH;
        w16(p, 20, 4);
        let items: [&[u8]; 4] = [
            &[H_KEYDATA, 1],
            &[H_KEYDATA, b'v', b'1'],
            &[H_KEYDATA, 2],
            &[H_OFFPAGE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ];
        let mut end = ps;
        for (i, it) in items.iter().enumerate() {
            let start = end - it.len();
            p[start..end].copy_from_slice(it);
            w16(p, PAGE_HEADER + 2 * i, start as u16);
            end = start;
        }
        w32(p, end + 4, 2);
        w32(p, end + 8, 600);
        for (pg, next, n) in [(2usize, 3u32, 400u16), (3, last_next, 200)] {
            let o = &mut d[pg * ps..(pg + 1) * ps];
            o[25] = P_OVERFLOW;
            w32(o, 16, next);
            w16(o, 22, n);
            o[PAGE_HEADER..PAGE_HEADER + usize::from(n)].fill(pg as u8);
        }
        d
    }

    fn values(d: &[u8]) -> (Result<Vec<Vec<u8>>, String>, Vec<String>) {
        super::super::collect(read::<[u8]>, d)
    }

    #[test]
    fn both_byte_orders_on_page_and_overflow_values() {
        for be in [false, true] {
            let (v, warnings) = values(&db(be, 0));
            let v = v.unwrap();
            assert!(warnings.is_empty(), "{warnings:?}");
            assert_eq!(v[0], b"v1");
            assert_eq!(v[1].len(), 600);
            assert!(v[1][..400].iter().all(|b| *b == 2) && v[1][400..].iter().all(|b| *b == 3));
        }
    }

    #[test]
    fn loops_truncation_and_garbage_are_errors_or_warnings() {
        // The chain's last page points back to its first: a loop.
        let (v, warnings) = values(&db(true, 2));
        assert_eq!(v.unwrap().len(), 1);
        assert!(warnings[0].contains("longer than 600"), "{warnings:?}");
        // Cut inside the chain: the value is skipped, the rest is read.
        let d = db(false, 0);
        let (v, warnings) = values(&d[..512 * 3 + 10]);
        assert_eq!(v.unwrap().len(), 1);
        assert!(warnings[0].contains("past the end"), "{warnings:?}");
        // An entry count past the page; a huge off-page length.
        let mut bad = db(false, 0);
        bad[512 + 20..512 + 22].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(values(&bad).1[0].contains("entries"));
        let mut bad = db(false, 0);
        let off = u16::from_le_bytes([bad[512 + 32], bad[512 + 33]]) as usize;
        bad[512 + off + 8..512 + off + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(values(&bad).1[0].contains("limit"));
        for garbage in [&[][..], &[0x61, 0x15, 6, 0][..], &[0xff; 1000][..]] {
            assert!(values(garbage).0.is_err());
        }
    }
}
