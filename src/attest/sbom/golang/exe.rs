//! Finding a Go binary's build info: the version of the Go toolchain and the
//! module info text, as Go's `debug/buildinfo.Read` finds them.
//!
//! The Go linker (Go 1.13+) writes a 32-byte header into the `.go.buildinfo`
//! ELF section (or, without section headers, the first writable,
//! non-executable `PT_LOAD` segment), 16-byte aligned:
//!
//! ```text
//! 0..14   "\xff Go buildinf:"
//! 14      pointer size in bytes (4 or 8)
//! 15      flags: bit 0 big-endian, bit 1 strings inline (Go >= 1.18)
//! 16..32  Go >= 1.18: padding; the two strings follow the header, each a
//!         uvarint length then the bytes.
//!         Go 1.13..1.17: two pointers (pointer size, byte order of bit 0):
//!         the virtual addresses of the Go string headers `{data *byte, len
//!         int}` of `runtime.buildVersion` and `runtime.modinfo`, which
//!         live in the data segment (`.noptrdata`).
//! ```
//!
//! Addresses are mapped to file offsets through the `PT_LOAD` program
//! headers (read with the `object` crate), as Go's `elfExe.ReadData` does.
//! Anything malformed (a pointer out of every segment, a length past the
//! file) gives `None`, never a panic.

use object::{Object as _, ObjectSection as _, ObjectSegment as _};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER_LEN: usize = 32;
const ALIGN: usize = 16;
const FLAG_BIG_ENDIAN: u8 = 0x1;
const FLAG_INLINE: u8 = 0x2;
/// A string longer than this is not build info (Go's reader caps the
/// data it reads the same way, so a hostile length cannot allocate much).
const MAX_STRING: u64 = 16 << 20;
/// The most of the build info section (or data segment) searched for the
/// header: the header is at its start in every Go binary.
const MAX_DATA: u64 = 64 << 20;

/// The raw build info: the Go version (`go1.21.0`) and the module info
/// text without its 16-byte sentinels (empty when the binary was not built
/// in module mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBuildInfo {
    /// `runtime.buildVersion`.
    pub version: String,
    /// `runtime/debug` module info text.
    pub modinfo: String,
}

/// The build info of the executable bytes `bin`, in either layout; `None`
/// for anything that is not a Go binary (or not one this reader can map).
/// Bytes that do not parse as an object file are searched as they are,
/// for the inline (Go >= 1.18) layout only: the pointer layout needs the
/// program headers.
pub fn read(bin: &[u8]) -> Option<RawBuildInfo> {
    match object::File::parse(bin) {
        Ok(file) => read_exe(&Exe { file, data: bin }),
        Err(_) => decode(find_header(bin)?, None::<&Exe<'_, &[u8]>>),
    }
}

/// The build info of the executable file `file`, reading only its headers,
/// the build info and the strings it points to (a Go binary can be far
/// bigger than what is worth reading whole: terraform is 90 MB).
pub fn read_file(file: &std::fs::File) -> Option<RawBuildInfo> {
    let cache = object::ReadCache::new(file);
    let exe = Exe {
        file: object::File::parse(&cache).ok()?,
        data: &cache,
    };
    read_exe(&exe)
}

/// A parsed object file and the bytes (or cached file reads) under it:
/// reads go by file offset so that only what is asked for is read.
struct Exe<'a, R: object::ReadRef<'a>> {
    file: object::File<'a, R>,
    data: R,
}

fn read_exe<'a, R: object::ReadRef<'a>>(exe: &Exe<'a, R>) -> Option<RawBuildInfo> {
    decode(find_header(data_start(exe)?)?, Some(exe))
}

/// The two strings of the header `hdr` (with what follows it), the pointer
/// layout's through `exe`'s segments.
fn decode<'a, R: object::ReadRef<'a>>(
    hdr: &[u8],
    exe: Option<&Exe<'a, R>>,
) -> Option<RawBuildInfo> {
    let flags = hdr[15];
    let (version, modinfo) = if flags & FLAG_INLINE != 0 {
        let (version, next) = varint_string(hdr, HEADER_LEN)?;
        let (modinfo, _) = varint_string(hdr, next)?;
        (version, modinfo)
    } else {
        let exe = exe?;
        let ptr = Pointers {
            size: usize::from(hdr[14]),
            big_endian: flags & FLAG_BIG_ENDIAN != 0,
        };
        if ptr.size != 4 && ptr.size != 8 {
            return None;
        }
        let version_at = ptr.read(&hdr[16..])?;
        let modinfo_at = ptr.read(&hdr[16 + ptr.size..])?;
        (
            go_string(exe, &ptr, version_at)?,
            go_string(exe, &ptr, modinfo_at).unwrap_or_default(),
        )
    };
    if version.is_empty() {
        return None;
    }
    // cmd/go frames the text with 16-byte sentinels; without them Go's
    // reader takes it as no module info at all.
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        &modinfo[16..modinfo.len() - 16]
    } else {
        &[][..]
    };
    Some(RawBuildInfo {
        version: String::from_utf8_lossy(version).into_owned(),
        modinfo: String::from_utf8_lossy(modinfo).into_owned(),
    })
}

/// Where the header is searched (Go's `DataStart`): the `.go.buildinfo`
/// section, else the first writable, non-executable loaded segment; at
/// most [`MAX_DATA`] bytes of it.
fn data_start<'a, R: object::ReadRef<'a>>(exe: &Exe<'a, R>) -> Option<&'a [u8]> {
    let (off, size) = match exe.file.section_by_name(".go.buildinfo") {
        Some(s) => s.file_range()?,
        None => exe
            .file
            .segments()
            .find(|s| s.permissions().writable() && !s.permissions().executable())?
            .file_range(),
    };
    exe.data.read_bytes_at(off, size.min(MAX_DATA)).ok()
}

/// The bytes from the first 16-byte-aligned header on, with at least the
/// header's 32 bytes.
fn find_header(data: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    loop {
        let at = from + memchr::memmem::find(data.get(from..)?, MAGIC)?;
        if at % ALIGN == 0 && data.len() - at >= HEADER_LEN {
            return Some(&data[at..]);
        }
        from = at + 1;
    }
}

/// Reads a uvarint-length-prefixed string at `at`; returns it and the
/// offset after it.
fn varint_string(b: &[u8], mut at: usize) -> Option<(&[u8], usize)> {
    let (mut n, mut shift) = (0u64, 0u32);
    loop {
        let byte = *b.get(at)?;
        at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = at.checked_add(usize::try_from(n).ok()?)?;
    Some((b.get(at..end)?, end))
}

/// The pointer size and byte order the header declares.
struct Pointers {
    size: usize,
    big_endian: bool,
}

impl Pointers {
    fn read(&self, b: &[u8]) -> Option<u64> {
        let b = b.get(..self.size)?;
        Some(match (self.size, self.big_endian) {
            (4, false) => u64::from(u32::from_le_bytes(b.try_into().ok()?)),
            (4, true) => u64::from(u32::from_be_bytes(b.try_into().ok()?)),
            (_, false) => u64::from_le_bytes(b.try_into().ok()?),
            (_, true) => u64::from_be_bytes(b.try_into().ok()?),
        })
    }
}

/// `size` bytes at the virtual address `addr`, from the loaded segment
/// holding it (fewer when the segment's file data ends first), as Go's
/// `elfExe.ReadData`.
fn read_at<'a, R: object::ReadRef<'a>>(exe: &Exe<'a, R>, addr: u64, size: u64) -> Option<&'a [u8]> {
    exe.file.segments().find_map(|s| {
        let (off, file_size) = s.file_range();
        let rel = addr.checked_sub(s.address()).filter(|r| *r < file_size)?;
        let n = size.min(file_size - rel);
        exe.data.read_bytes_at(off.checked_add(rel)?, n).ok()
    })
}

/// The Go string whose header `{data, len}` is at `addr` (Go's `readString`).
fn go_string<'a, R: object::ReadRef<'a>>(
    exe: &Exe<'a, R>,
    ptr: &Pointers,
    addr: u64,
) -> Option<&'a [u8]> {
    let hdr = read_at(exe, addr, 2 * ptr.size as u64)?;
    if hdr.len() < 2 * ptr.size {
        return None;
    }
    let data_at = ptr.read(hdr)?;
    let len = ptr.read(&hdr[ptr.size..])?;
    if len > MAX_STRING {
        return None;
    }
    let data = read_at(exe, data_at, len)?;
    (data.len() as u64 == len).then_some(data)
}

#[cfg(test)]
#[path = "exe_tests.rs"]
pub(super) mod tests;
