//! Compression when a layer leaves the store, and detection/decompression when one arrives.
//!
//! One streaming pass: uncompressed tar → encoder → sha256 (blob digest) → temp file.
//! The encoders are `crate::compress`'s: all cores, bytes independent of the core count.
//! gzip output is deterministic: no file name, mtime 0, OS byte 255 ("unknown", as Go writes).

use super::digest::{Digest, HashingWriter};
use super::write::IO_BUF;
use anyhow::{bail, Context, Result};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// How a layer blob is compressed for export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// gzip (blocks deflated in parallel by flate2 on zlib-rs); the registry default.
    #[default]
    Gzip,
    /// zstd.
    Zstd,
    /// The tar as is (blob digest = diffID).
    Uncompressed,
}

impl Compression {
    /// Suffix of the OCI layer media type: `+gzip`, `+zstd` or nothing.
    pub fn media_type_suffix(self) -> &'static str {
        match self {
            Compression::Gzip => "+gzip",
            Compression::Zstd => "+zstd",
            Compression::Uncompressed => "",
        }
    }

    /// OCI layer media type for this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::Uncompressed => "application/vnd.oci.image.layer.v1.tar",
        }
    }

    /// Docker schema2 layer media type (zstd uses the `.zstd` type BuildKit writes).
    pub fn docker_media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Compression::Zstd => "application/vnd.docker.image.rootfs.diff.tar.zstd",
            Compression::Uncompressed => "application/vnd.docker.image.rootfs.diff.tar",
        }
    }

    /// The compression a layer media type declares, if it is a known layer type.
    pub fn from_media_type(mt: &str) -> Option<Compression> {
        match mt {
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                Some(Compression::Gzip)
            }
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
            | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Some(Compression::Zstd),
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::Uncompressed),
            _ => None,
        }
    }

    /// Level used when none is given (gzip 6 = Go's DefaultCompression, zstd 3).
    pub fn default_level(self) -> i32 {
        match self {
            Compression::Gzip => 6,
            Compression::Zstd => 3,
            Compression::Uncompressed => 0,
        }
    }

    /// Checks a user-supplied level: gzip 0..=9, zstd -7..=22; ignored for uncompressed.
    pub fn check_level(self, level: i32) -> Result<i32> {
        let ok = match self {
            Compression::Gzip => (0..=9).contains(&level),
            Compression::Zstd => (-7..=22).contains(&level),
            Compression::Uncompressed => true,
        };
        if !ok {
            bail!("compression level {level} is out of range for {self} (gzip: 0-9, zstd: -7-22)");
        }
        Ok(level)
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Uncompressed => "uncompressed",
        })
    }
}

impl FromStr for Compression {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "uncompressed" | "none" => Ok(Compression::Uncompressed),
            _ => bail!("unknown compression {s:?} (expected gzip, zstd or uncompressed)"),
        }
    }
}

/// A compressed blob in a temp file (fsynced; the caller renames it into the store).
#[derive(Debug, Clone)]
pub struct CompressedBlob {
    /// The temp file.
    pub path: PathBuf,
    /// sha256 of the compressed bytes (the blob digest in a manifest).
    pub digest: Digest,
    /// Compressed size in bytes.
    pub size: u64,
}

/// Compresses the stream `input` into a new temp file in `tmp_dir`.
/// `level` of `None` uses [`Compression::default_level`].
pub fn compress<R: Read>(
    input: R,
    tmp_dir: &Path,
    compression: Compression,
    level: Option<i32>,
) -> Result<CompressedBlob> {
    compress_tee(input, tmp_dir, compression, level, None)
}

/// [`compress`], also handing every compressed byte, in order, to `tee` as it is written (e.g. to
/// upload the blob while it is made). `tee` is dropped once the last byte is written, before the
/// temp file is fsynced; a `tee` write error only stops the copy to `tee` (the blob is still
/// written whole), so the caller must check that its copy is complete.
pub fn compress_tee<R: Read>(
    mut input: R,
    tmp_dir: &Path,
    compression: Compression,
    level: Option<i32>,
    tee: Option<Box<dyn Write + Send + '_>>,
) -> Result<CompressedBlob> {
    let level = compression.check_level(level.unwrap_or(compression.default_level()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".blob-")
        .suffix(".tmp")
        .tempfile_in(tmp_dir)
        .with_context(|| format!("creating temp file in {}", tmp_dir.display()))?;
    let out = Tee {
        file: tmp.as_file(),
        tee,
    };
    let (digest, size) = compress_to(&mut input, out, compression, level)?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("fsync of {}", tmp.path().display()))?;
    let (_f, path) = tmp
        .keep()
        .with_context(|| format!("keeping temp file in {}", tmp_dir.display()))?;
    Ok(CompressedBlob { path, digest, size })
}

/// Writes to `file`, and the same bytes to `tee` while `tee` accepts them.
struct Tee<'a, F> {
    file: F,
    tee: Option<Box<dyn Write + Send + 'a>>,
}

impl<F: Write> Write for Tee<'_, F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if let Some(t) = &mut self.tee {
            if t.write_all(&buf[..n]).is_err() {
                self.tee = None;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(t) = &mut self.tee {
            if t.flush().is_err() {
                self.tee = None;
            }
        }
        self.file.flush()
    }
}

/// Compresses `input` into `out`, returning the blob digest and size (level already checked).
pub fn compress_to<R: Read, W: Write>(
    input: &mut R,
    out: W,
    compression: Compression,
    level: i32,
) -> Result<(Digest, u64)> {
    let sink = BufWriter::with_capacity(IO_BUF, HashingWriter::new(out));
    let sink = match compression {
        // On all cores, one compression per process at a time (see `crate::compress`).
        Compression::Gzip => {
            let _slot = crate::compress::exclusive();
            let mut sink = sink;
            let threads = crate::compress::threads();
            crate::compress::gzip(input, &mut sink, level as u32, threads)
                .context("gzip compression")?;
            sink
        }
        Compression::Zstd => {
            let _slot = crate::compress::exclusive();
            crate::compress::zstd(input, sink, level, crate::compress::threads())
                .context("zstd compression")?
        }
        Compression::Uncompressed => {
            let mut sink = sink;
            io::copy(input, &mut sink).context("copying layer")?;
            sink
        }
    };
    let hw = sink
        .into_inner()
        .map_err(|e| e.into_error())
        .context("flushing blob")?;
    let (_out, digest, size) = hw.finish();
    Ok((digest, size))
}

/// Compresses the tar file at `src` (see [`compress`]).
pub fn compress_file(
    src: &Path,
    tmp_dir: &Path,
    compression: Compression,
    level: Option<i32>,
) -> Result<CompressedBlob> {
    let f = File::open(src).with_context(|| format!("opening layer {}", src.display()))?;
    compress(f, tmp_dir, compression, level)
        .with_context(|| format!("compressing {} with {compression}", src.display()))
}

/// Compresses several tar files at once on up to `available_parallelism` threads (biggest
/// first, so one large layer does not start last). Results are in the order of `srcs`.
pub fn compress_many(
    srcs: &[PathBuf],
    tmp_dir: &Path,
    compression: Compression,
    level: Option<i32>,
) -> Vec<Result<CompressedBlob>> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(srcs.len());
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(std::fs::metadata(&srcs[i]).map_or(0, |m| m.len())));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<CompressedBlob>>>> =
        srcs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let r = compress_file(&srcs[i], tmp_dir, compression, level);
                *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(anyhow::anyhow!("compression worker did not run")))
        })
        .collect()
}

/// The container format of a stream, recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// No known compression magic: taken as a plain tar.
    Plain,
    /// `1f 8b`.
    Gzip,
    /// `28 b5 2f fd`.
    Zstd,
    /// `BZh`.
    Bzip2,
    /// `fd 37 7a 58 5a 00`.
    Xz,
}

/// Recognises the compression of a stream from its first bytes.
pub fn detect(magic: &[u8]) -> StreamFormat {
    if magic.starts_with(&[0x1f, 0x8b]) {
        StreamFormat::Gzip
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        StreamFormat::Zstd
    } else if magic.starts_with(b"BZh") {
        StreamFormat::Bzip2
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        StreamFormat::Xz
    } else {
        StreamFormat::Plain
    }
}

/// Peeks at `input`'s magic and returns a reader of the decompressed stream.
pub fn decompress<'a, R: BufRead + 'a>(mut input: R) -> Result<(StreamFormat, Box<dyn Read + 'a>)> {
    // fill_buf may return fewer than 6 bytes at a time; gather them without consuming.
    let mut magic = Vec::with_capacity(6);
    {
        let buf = input.fill_buf().context("reading layer header")?;
        magic.extend_from_slice(&buf[..buf.len().min(6)]);
    }
    let fmt = detect(&magic);
    let r: Box<dyn Read + 'a> = match fmt {
        StreamFormat::Plain => Box::new(input),
        StreamFormat::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        StreamFormat::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(input).context("zstd setup")?)
        }
        StreamFormat::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        StreamFormat::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(input)),
    };
    Ok((fmt, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_deterministic_and_roundtrips() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut a = Vec::new();
        let (da, sa) = compress_to(&mut &data[..], &mut a, Compression::Gzip, 6).unwrap();
        let mut b = Vec::new();
        let (db, _) = compress_to(&mut &data[..], &mut b, Compression::Gzip, 6).unwrap();
        assert_eq!(a, b);
        assert_eq!(da, db);
        assert_eq!(sa, a.len() as u64);
        assert_eq!(da, Digest::of(&a));
        // Header: magic, CM=8, FLG=0 (no name), MTIME=0, XFL, OS=255.
        assert_eq!(&a[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&a[4..8], &[0, 0, 0, 0]);
        assert_eq!(a[9], 255);
        let (fmt, mut r) = decompress(&a[..]).unwrap();
        assert_eq!(fmt, StreamFormat::Gzip);
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn zstd_and_plain_roundtrip() {
        let data = b"hello layer".repeat(1000);
        for c in [Compression::Zstd, Compression::Uncompressed] {
            let mut out = Vec::new();
            compress_to(&mut &data[..], &mut out, c, c.default_level()).unwrap();
            let (_, mut r) = decompress(&out[..]).unwrap();
            let mut back = Vec::new();
            r.read_to_end(&mut back).unwrap();
            assert_eq!(back, data, "{c}");
        }
    }

    #[test]
    fn levels_and_media_types() {
        assert!(Compression::Gzip.check_level(10).is_err());
        assert!(Compression::Zstd.check_level(19).is_ok());
        for c in [
            Compression::Gzip,
            Compression::Zstd,
            Compression::Uncompressed,
        ] {
            assert_eq!(Compression::from_media_type(c.oci_media_type()), Some(c));
            assert_eq!(Compression::from_media_type(c.docker_media_type()), Some(c));
            assert!(c.oci_media_type().ends_with(c.media_type_suffix()));
            assert_eq!(c.to_string().parse::<Compression>().unwrap(), c);
        }
    }
}
