//! Build info in both layouts. No Go older than 1.18 can be installed
//! offline, so the pointer layout is checked against executables written
//! here byte by byte with what Go 1.13..1.17's linker emits (its
//! `cmd/link/internal/ld/data.go` `buildinfo` and Go's
//! `debug/buildinfo` reader): an ELF file (32- or 64-bit, either byte
//! order) with one read-write `PT_LOAD` segment holding a `.go.buildinfo`
//! section (the 32-byte header: magic, pointer size, flags 0 or 1, then the
//! addresses of two Go string headers) and a `.noptrdata` section with the
//! string headers `{data, len}` and the strings: `go1.16.15` and the module
//! info framed by cmd/go's two 16-byte sentinels.

use super::*;

/// cmd/go's `modload.infoStart` / `infoEnd` sentinels.
const INFO_START: &[u8] = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
const INFO_END: &[u8] = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2";
pub(crate) const MODINFO: &str = "path\texample.com/old\nmod\texample.com/old\t(devel)\t\n\
                       dep\tgithub.com/pkg/errors\tv0.9.1\th1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=\n";
/// Where the fixture's loaded segment starts (file offset 0x1000).
const BASE: u64 = 0x0050_0000;

pub(crate) fn framed(text: &str) -> Vec<u8> {
    [INFO_START, text.as_bytes(), INFO_END].concat()
}

/// Little writer of ELF fields in one class (32/64-bit) and byte order.
struct W {
    out: Vec<u8>,
    wide: bool,
    big: bool,
}

impl W {
    /// A field, given in both byte orders: the file's is kept.
    fn put<const N: usize>(&mut self, le: [u8; N], be: [u8; N]) {
        self.out.extend_from_slice(if self.big { &be } else { &le });
    }
    fn u16(&mut self, v: u16) {
        self.put(v.to_le_bytes(), v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.put(v.to_le_bytes(), v.to_be_bytes());
    }
    /// An address, offset or size: 8 bytes in ELF64, 4 in ELF32.
    fn word(&mut self, v: u64) {
        if self.wide {
            self.put(v.to_le_bytes(), v.to_be_bytes());
        } else {
            self.u32(v as u32);
        }
    }
}

/// A pointer of the header's size and order.
fn ptr(wide: bool, big: bool, v: u64) -> Vec<u8> {
    let mut w = W {
        out: Vec::new(),
        wide,
        big,
    };
    w.word(v);
    w.out
}

/// The `.go.buildinfo` and `.noptrdata` contents of a pointer-layout
/// binary (`.noptrdata` at `BASE + 0x100`).
pub(crate) fn pointer_sections(
    wide: bool,
    big: bool,
    version: &[u8],
    modinfo: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let ps: u64 = if wide { 8 } else { 4 };
    let nd = BASE + 0x100;
    let (v_at, m_at) = (nd + 0x40, nd + 0x40 + version.len() as u64);
    let mut hdr = MAGIC.to_vec();
    hdr.push(ps as u8);
    hdr.push(if big { FLAG_BIG_ENDIAN } else { 0 });
    hdr.extend(ptr(wide, big, nd));
    hdr.extend(ptr(wide, big, nd + 2 * ps));
    hdr.resize(HEADER_LEN, 0);
    let mut data = Vec::new();
    for (at, len) in [(v_at, version.len()), (m_at, modinfo.len())] {
        data.extend(ptr(wide, big, at));
        data.extend(ptr(wide, big, len as u64));
    }
    data.resize(0x40, 0);
    data.extend_from_slice(version);
    data.extend_from_slice(modinfo);
    (hdr, data)
}

/// An ELF executable whose one RW `PT_LOAD` (file offset 0x1000, at
/// `BASE`) holds `buildinfo` at `BASE` and `noptrdata` at `BASE + 0x100`;
/// `sections: false` leaves out the section headers (a stripped binary).
pub(crate) fn elf(
    wide: bool,
    big: bool,
    buildinfo: &[u8],
    noptrdata: &[u8],
    sections: bool,
) -> Vec<u8> {
    assert!(
        buildinfo.len() <= 0x100,
        "the fixture's .go.buildinfo is 256 bytes at most"
    );
    let mut load = buildinfo.to_vec();
    load.resize(0x100, 0);
    load.extend_from_slice(noptrdata);
    let (ehsize, phsize, shsize) = if wide { (64, 56, 64) } else { (52, 32, 40) };
    let shstrtab = b"\0.go.buildinfo\0.noptrdata\0.shstrtab\0";
    // Section headers 8-byte aligned, as a linker writes them (and as the
    // reader's in-place header structs need).
    let shoff = (0x1000 + load.len() as u64 + shstrtab.len() as u64 + 7) & !7;
    let mut w = W {
        out: Vec::new(),
        wide,
        big,
    };
    w.out.extend_from_slice(b"\x7fELF");
    w.out
        .extend_from_slice(&[if wide { 2 } else { 1 }, if big { 2 } else { 1 }, 1]);
    w.out.resize(16, 0);
    w.u16(2); // ET_EXEC
    w.u16(if big { 8 } else { 62 }); // EM_MIPS / EM_X86_64
    w.u32(1);
    w.word(BASE); // entry
    w.word(ehsize as u64); // phoff
    w.word(if sections { shoff } else { 0 });
    w.u32(0);
    w.u16(ehsize);
    w.u16(phsize);
    w.u16(1);
    w.u16(shsize);
    w.u16(if sections { 4 } else { 0 });
    w.u16(if sections { 3 } else { 0 });
    // PT_LOAD, PF_R|PF_W.
    let (off, size) = (0x1000u64, load.len() as u64);
    w.u32(1);
    if wide {
        w.u32(6);
    }
    w.word(off);
    w.word(BASE);
    w.word(BASE);
    w.word(size);
    w.word(size);
    if !wide {
        w.u32(6);
    }
    w.word(0x1000);
    w.out.resize(0x1000, 0);
    w.out.extend_from_slice(&load);
    w.out.extend_from_slice(shstrtab);
    w.out.resize(shoff as usize, 0);
    if sections {
        let sh = |w: &mut W, name: u32, ty: u32, flags: u64, addr: u64, off: u64, size: u64| {
            w.u32(name);
            w.u32(ty);
            w.word(flags);
            w.word(addr);
            w.word(off);
            w.word(size);
            w.u32(0);
            w.u32(0);
            w.word(if ty == 3 { 1 } else { 16 });
            w.word(0);
        };
        sh(&mut w, 0, 0, 0, 0, 0, 0);
        let bi = buildinfo.len() as u64;
        sh(&mut w, 1, 1, 3, BASE, 0x1000, bi);
        let nd = noptrdata.len() as u64;
        sh(&mut w, 15, 1, 3, BASE + 0x100, 0x1100, nd);
        sh(&mut w, 26, 3, 0, 0, 0x1000 + size, shstrtab.len() as u64);
    }
    w.out
}

#[test]
fn pointer_layout_of_go_before_1_18_in_every_class_and_order() {
    for (wide, big, sections) in [
        (true, false, true),
        (true, false, false),
        (false, true, true),
        (false, false, true),
        (true, true, false),
    ] {
        let (bi, nd) = pointer_sections(wide, big, b"go1.16.15", &framed(MODINFO));
        let bin = elf(wide, big, &bi, &nd, sections);
        let info = read(&bin).unwrap_or_else(|| panic!("{wide} {big} {sections}: not read"));
        assert_eq!(info.version, "go1.16.15");
        assert_eq!(info.modinfo, MODINFO);
    }
}

#[test]
fn pointer_layout_refuses_bad_pointers_and_lengths() {
    // The version header points outside every segment: not a Go binary.
    let (mut bi, nd) = pointer_sections(true, false, b"go1.16.15", &framed(MODINFO));
    bi[16..24].copy_from_slice(&0xdead_0000u64.to_le_bytes());
    assert!(read(&elf(true, false, &bi, &nd, true)).is_none());
    // String lengths past the segment's end or absurdly long: refused, not a panic.
    for len in [0x1000, u64::MAX / 2] {
        let (bi, mut nd) = pointer_sections(true, false, b"go1.16.15", &framed(MODINFO));
        nd[8..16].copy_from_slice(&len.to_le_bytes());
        assert!(read(&elf(true, false, &bi, &nd, true)).is_none(), "{len}");
    }
    // A pointer size that is neither 4 nor 8.
    let (mut bi, nd) = pointer_sections(true, false, b"go1.16.15", &framed(MODINFO));
    bi[14] = 3;
    assert!(read(&elf(true, false, &bi, &nd, true)).is_none());
    // Module info without its sentinels counts as none (Go's reader).
    let (bi, nd) = pointer_sections(true, false, b"go1.16.15", MODINFO.as_bytes());
    let info = read(&elf(true, false, &bi, &nd, true)).unwrap();
    assert_eq!(info.modinfo, "");
    // The pointer layout in bytes that are no object file: nothing to map.
    let (bi, _) = pointer_sections(true, false, b"go1.16.15", &framed(MODINFO));
    assert!(read(&bi).is_none());
}

fn vstr(s: &[u8]) -> Vec<u8> {
    let mut out = vec![s.len() as u8 | 0x80, (s.len() >> 7) as u8];
    out.extend_from_slice(s);
    out
}

#[test]
fn inline_layout_of_go_1_18_and_later() {
    let mut hdr = MAGIC.to_vec();
    hdr.extend_from_slice(&[8, FLAG_INLINE]);
    hdr.resize(HEADER_LEN, 0);
    hdr.extend(vstr(b"go1.19.8"));
    hdr.extend(vstr(&framed(MODINFO)));
    // Raw bytes (the header 16-byte aligned in them) and inside an ELF file.
    let mut raw = vec![0u8; 48];
    raw.extend_from_slice(&hdr);
    for bin in [raw.clone(), elf(true, false, &hdr, b"", true)] {
        let info = read(&bin).unwrap();
        assert_eq!(info.version, "go1.19.8");
        assert_eq!(info.modinfo, MODINFO);
    }
    // A length running past the end is refused, not a panic.
    let n = raw.len();
    assert!(read(&raw[..n - 20]).is_none());
    // A header that is not 16-byte aligned is not one.
    let mut off = vec![0u8; 8];
    off.extend_from_slice(&hdr);
    assert!(read(&off).is_none());
}
