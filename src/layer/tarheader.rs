//! Encoding of normalised ustar headers, with PAX extended headers only where ustar cannot hold
//! a value (long names, xattrs, large ids/sizes/times). Hand-written rather than `tar::Builder`
//! because every byte of a layer feeds its digest: field formats are pinned here.

use std::io::{self, Write};

/// Size of one tar block.
pub(crate) const BLOCK: usize = 512;

/// The tar entry types a layer may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    Link,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

impl Kind {
    fn flag(self) -> u8 {
        match self {
            Kind::Regular => b'0',
            Kind::Link => b'1',
            Kind::Symlink => b'2',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
        }
    }
}

/// Everything written for one entry. Names are raw bytes (Linux paths need not be UTF-8).
#[derive(Debug, Clone)]
pub(crate) struct EntryHeader {
    /// Path inside the layer, relative, `/`-separated; directories end with `/`.
    pub name: Vec<u8>,
    pub kind: Kind,
    /// Permission bits plus setuid/setgid/sticky (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Content length; zero for everything but regular files.
    pub size: u64,
    /// Seconds since the epoch (already clamped by the caller).
    pub mtime: i64,
    /// Symlink target or hardlink target path.
    pub link: Vec<u8>,
    pub dev_major: u64,
    pub dev_minor: u64,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

const NAME_LEN: usize = 100;
const PREFIX_LEN: usize = 155;

/// Writes the (optional) PAX header and the ustar header of `h`, choosing as Go's archive/tar
/// `Writer` does for the headers moby's `pkg/archive` hands it (the reference for layer bytes):
/// plain ustar when every field fits it (an ASCII name split into prefix and name); otherwise a
/// PAX header (mode 0, named `<dir>/PaxHeaders.0/<base>`) whose records are every field ustar
/// cannot hold, a name or link target over 100 bytes or not ASCII among them, followed by a
/// ustar header whose name and link fields hold the ASCII bytes of the values cut to 100
/// bytes and no prefix.
pub(crate) fn write_header<W: Write>(w: &mut W, h: &EntryHeader) -> io::Result<()> {
    let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();

    let name_is_ustar = h.name.is_ascii() && split_ustar_path(&h.name).is_some();
    let long_name = h.name.len() > NAME_LEN || !h.name.is_ascii();
    if !name_is_ustar {
        pax.push((b"path".to_vec(), h.name.clone()));
    }
    let long_link = h.link.len() > NAME_LEN || !h.link.is_ascii();
    if long_link {
        pax.push((b"linkpath".to_vec(), h.link.clone()));
    }
    // ustar numeric fields hold (width - 1) octal digits; anything larger goes to PAX.
    let uid = pax_if_too_big(&mut pax, "uid", h.uid, 8);
    let gid = pax_if_too_big(&mut pax, "gid", h.gid, 8);
    let size = pax_if_too_big(&mut pax, "size", h.size, 12);
    let mtime = if h.mtime < 0 {
        pax.push((b"mtime".to_vec(), h.mtime.to_string().into_bytes()));
        0
    } else {
        pax_if_too_big(&mut pax, "mtime", h.mtime as u64, 12)
    };
    for (k, v) in &h.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(k);
        pax.push((key, v.clone()));
    }

    let (name_field, prefix_field, link_field);
    if pax.is_empty() {
        let (n, p) = split_ustar_path(&h.name).unwrap_or((&h.name, &h.name[..0]));
        (name_field, prefix_field, link_field) = (n.to_vec(), p.to_vec(), h.link.clone());
    } else {
        // In PAX form Go writes the long or non-ASCII name in full as a record even when
        // another field forced the PAX header (a 150-byte name with an xattr).
        if long_name && name_is_ustar {
            pax.push((b"path".to_vec(), h.name.clone()));
        }
        name_field = ascii_cut(&h.name);
        prefix_field = Vec::new();
        link_field = ascii_cut(&h.link);
        pax.sort_by(|a, b| a.0.cmp(&b.0));
        let mut body = Vec::new();
        for (k, v) in &pax {
            body.extend_from_slice(&pax_record(k, v));
        }
        let pax_name = pax_header_name(&h.name);
        let mut block = [0u8; BLOCK];
        put_bytes(&mut block[0..100], &pax_name);
        put_octal(&mut block[100..108], 0);
        put_octal(&mut block[108..116], 0);
        put_octal(&mut block[116..124], 0);
        put_octal(&mut block[124..136], body.len() as u64);
        put_octal(&mut block[136..148], 0);
        block[156] = b'x';
        finish_ustar(&mut block);
        w.write_all(&block)?;
        w.write_all(&body)?;
        write_padding(w, body.len() as u64)?;
    }

    let mut block = [0u8; BLOCK];
    put_bytes(&mut block[0..100], &name_field);
    put_octal(&mut block[100..108], u64::from(h.mode & 0o7777));
    put_octal(&mut block[108..116], uid);
    put_octal(&mut block[116..124], gid);
    put_octal(&mut block[124..136], size);
    put_octal(&mut block[136..148], mtime);
    block[156] = h.kind.flag();
    put_bytes(&mut block[157..257], &link_field);
    put_numeric(&mut block[329..337], h.dev_major);
    put_numeric(&mut block[337..345], h.dev_minor);
    put_bytes(&mut block[345..500], &prefix_field);
    finish_ustar(&mut block);
    w.write_all(&block)
}

/// Writes zeros up to the next block boundary after `size` content bytes.
pub(crate) fn write_padding<W: Write>(w: &mut W, size: u64) -> io::Result<()> {
    let rem = (size % BLOCK as u64) as usize;
    if rem != 0 {
        w.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

/// Writes the end-of-archive marker (two zero blocks), as Go's archive/tar does.
pub(crate) fn write_end<W: Write>(w: &mut W) -> io::Result<()> {
    w.write_all(&[0u8; BLOCK * 2])
}

fn pax_if_too_big(pax: &mut Vec<(Vec<u8>, Vec<u8>)>, key: &str, v: u64, width: usize) -> u64 {
    if fits_octal(v, width) {
        v
    } else {
        pax.push((key.as_bytes().to_vec(), v.to_string().into_bytes()));
        0
    }
}

fn fits_octal(v: u64, width: usize) -> bool {
    let digits = (width - 1) as u32;
    v < 8u64.pow(digits)
}

/// Splits a name into ustar (name, prefix) fields, or `None` when it needs a PAX `path`.
fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.len() <= NAME_LEN {
        return Some((name, &name[..0]));
    }
    if name.len() > NAME_LEN + PREFIX_LEN + 1 {
        return None;
    }
    // Split at a '/' so that the prefix fits 155 bytes and the rest fits 100 and is not empty.
    let last = name.len().saturating_sub(2).min(PREFIX_LEN);
    (1..=last)
        .rev()
        .find(|&i| name[i] == b'/' && name.len() - i - 1 <= NAME_LEN)
        .map(|i| (&name[i + 1..], &name[..i]))
}

/// Go's `toASCII` (bytes of 0x80 and up dropped), cut to a 100-byte ustar field.
fn ascii_cut(v: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = v.iter().copied().filter(|&b| b != 0 && b < 0x80).collect();
    out.truncate(NAME_LEN);
    out
}

/// Name of the PAX header entry as Go makes it: `path.Join(dir, "PaxHeaders.0", base)` of
/// the entry's name split after its last `/` (a directory `a/b/` gives `a/b/PaxHeaders.0`),
/// non-ASCII bytes dropped, cut to 100 bytes, trailing `/` trimmed.
fn pax_header_name(name: &[u8]) -> Vec<u8> {
    let (dir, base) = match name.iter().rposition(|&b| b == b'/') {
        Some(i) => (&name[..=i], &name[i + 1..]),
        None => (&name[..0], name),
    };
    let mut out = dir.to_vec();
    out.extend_from_slice(b"PaxHeaders.0");
    if !base.is_empty() {
        out.push(b'/');
        out.extend_from_slice(base);
    }
    let mut out = ascii_cut(&out);
    while out.last() == Some(&b'/') {
        out.pop();
    }
    out
}

/// One PAX record: "<len> <key>=<value>\n" where <len> counts the whole record.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut rec = Vec::with_capacity(len);
    rec.extend_from_slice(len.to_string().as_bytes());
    rec.push(b' ');
    rec.extend_from_slice(key);
    rec.push(b'=');
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

fn put_bytes(field: &mut [u8], v: &[u8]) {
    let n = v.len().min(field.len());
    field[..n].copy_from_slice(&v[..n]);
}

/// Zero-padded octal with a trailing NUL; callers guarantee the value fits.
fn put_octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

/// Octal when it fits, else GNU base-256 (high bit set), which every common reader accepts.
fn put_numeric(field: &mut [u8], v: u64) {
    if fits_octal(v, field.len()) {
        put_octal(field, v);
    } else {
        field.fill(0);
        let bytes = v.to_be_bytes();
        let n = field.len();
        field[n - 8..].copy_from_slice(&bytes);
        field[0] |= 0x80;
    }
}

/// Sets magic/version and the checksum (computed with the checksum field as spaces).
fn finish_ustar(block: &mut [u8; BLOCK]) {
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[148..156].fill(b' ');
    let sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}");
    block[148..154].copy_from_slice(s.as_bytes());
    block[154] = 0;
    block[155] = b' ';
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        assert_eq!(pax_record(b"path", b"a"), b"9 path=a\n");
        assert_eq!(pax_record(b"path", b"abcdef"), b"15 path=abcdef\n");
        // 99 + digits crosses from 2 to 3 digits.
        let v = vec![b'x'; 92];
        let rec = pax_record(b"path", &v);
        let len: usize = std::str::from_utf8(&rec[..3]).unwrap().parse().unwrap();
        assert_eq!(len, rec.len());
    }

    #[test]
    fn ustar_split() {
        let short = b"a/b";
        assert_eq!(split_ustar_path(short), Some((&short[..], &b""[..])));
        let mut long = vec![b'd'; 120];
        long.push(b'/');
        long.extend_from_slice(b"file");
        let (n, p) = split_ustar_path(&long).unwrap();
        assert_eq!(n, b"file");
        assert_eq!(p.len(), 120);
        // One component longer than 100 bytes cannot be split.
        assert_eq!(split_ustar_path(&[b'x'; 130]), None);
    }

    #[test]
    fn header_checksum_is_valid_for_tar_crate() {
        let h = EntryHeader {
            name: b"etc/passwd".to_vec(),
            kind: Kind::Regular,
            mode: 0o4755,
            uid: 3_000_000,
            gid: 5,
            size: 3,
            mtime: 1_700_000_000,
            link: Vec::new(),
            dev_major: 0,
            dev_minor: 0,
            xattrs: vec![(b"user.k".to_vec(), b"v".to_vec())],
        };
        let mut out = Vec::new();
        write_header(&mut out, &h).unwrap();
        out.extend_from_slice(b"abc");
        write_padding(&mut out, 3).unwrap();
        write_end(&mut out).unwrap();
        let mut ar = tar::Archive::new(&out[..]);
        let mut entries = ar.entries().unwrap();
        let mut e = entries.next().unwrap().unwrap();
        assert_eq!(&*e.path_bytes(), b"etc/passwd");
        assert_eq!(e.header().mode().unwrap(), 0o4755);
        let pax: Vec<(String, Vec<u8>)> = e
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|x| {
                let x = x.unwrap();
                (x.key().unwrap().to_string(), x.value_bytes().to_vec())
            })
            .collect();
        assert!(pax.contains(&("uid".to_string(), b"3000000".to_vec())));
        assert!(pax.contains(&("SCHILY.xattr.user.k".to_string(), b"v".to_vec())));
        assert!(entries.next().is_none());
    }

    fn header(name: &[u8], link: &[u8], xattrs: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<u8> {
        let h = EntryHeader {
            name: name.to_vec(),
            kind: if link.is_empty() {
                Kind::Regular
            } else {
                Kind::Symlink
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 1_500_000_000,
            link: link.to_vec(),
            dev_major: 0,
            dev_minor: 0,
            xattrs,
        };
        let mut out = Vec::new();
        write_header(&mut out, &h).unwrap();
        out
    }

    /// The bytes Go's archive/tar writes for moby's headers (recorded with Docker 26.1 in
    /// tests/parity case 151-layers-pax-names).
    #[test]
    fn pax_form_follows_go() {
        // Non-ASCII: a PAX path; both headers' names hold the ASCII bytes only; PAX mode 0.
        let out = header("d/caf\u{e9}".as_bytes(), b"", Vec::new());
        assert_eq!(out.len(), 3 * BLOCK);
        assert_eq!(&out[..18], b"d/PaxHeaders.0/caf");
        assert_eq!(out[18], 0);
        assert_eq!(&out[100..108], b"0000000\0");
        assert_eq!(&out[BLOCK..BLOCK + 16], "16 path=d/caf\u{e9}\n".as_bytes());
        assert_eq!(&out[2 * BLOCK..2 * BLOCK + 6], b"d/caf\0");
        // A non-ASCII link target: a PAX linkpath.
        let out = header(b"l", "caf\u{e9}".as_bytes(), Vec::new());
        assert_eq!(
            &out[BLOCK..BLOCK + 18],
            "18 linkpath=caf\u{e9}\n".as_bytes()
        );
        // A directory's PAX header is named `<dir>/PaxHeaders.0`.
        let long_dir = [vec![b'g'; 120], b"/".to_vec()].concat();
        assert_eq!(
            pax_header_name(&long_dir),
            [vec![b'g'; 100]].concat(),
            "cut to 100 bytes"
        );
        assert_eq!(pax_header_name(b"a/b/"), b"a/b/PaxHeaders.0");
        assert_eq!(pax_header_name(b"a/b"), b"a/PaxHeaders.0/b");
        // A name ustar could split, in a header that needs PAX for an xattr: the full name is a
        // record and the ustar name field holds its first 100 bytes, no prefix.
        let name = [vec![b'p'; 120], b"/file".to_vec()].concat();
        let out = header(&name, b"", vec![(b"user.k".to_vec(), b"v".to_vec())]);
        let body = String::from_utf8_lossy(&out[BLOCK..2 * BLOCK]);
        assert!(body.contains(" path=pppp"), "{body}");
        assert_eq!(&out[2 * BLOCK..2 * BLOCK + 100], &name[..100]);
        assert!(out[2 * BLOCK + 345..2 * BLOCK + 500]
            .iter()
            .all(|&b| b == 0));
        // Without another reason, the same name is split into ustar prefix and name.
        let out = header(&name, b"", Vec::new());
        assert_eq!(out.len(), BLOCK);
        assert_eq!(&out[..5], b"file\0");
    }
}
