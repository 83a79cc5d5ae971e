//! ADD's extras over COPY: local tar archives (plain, gzip, bzip2, xz, zstd)
//! are extracted into the destination, and URLs are downloaded.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use sha2::{Digest, Sha256};

/// The compression a local archive uses, told by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// An uncompressed tar.
    Tar,
    /// gzip-compressed.
    Gzip,
    /// bzip2-compressed.
    Bzip2,
    /// xz-compressed.
    Xz,
    /// zstd-compressed.
    Zstd,
}

/// Tells whether `path` is a tar archive ADD extracts, as Docker does: a
/// known compression magic, or an uncompressed tar header, followed by a
/// readable first tar entry. Anything else is copied as a plain file.
pub fn detect_archive(path: &Path) -> io::Result<Option<ArchiveKind>> {
    let mut file = crate::context::regular::open_regular_nofollow(path)?;
    let mut magic = [0u8; 6];
    let n = read_up_to(&mut file, &mut magic)?;
    let kind = match &magic[..n] {
        [0x1f, 0x8b, ..] => ArchiveKind::Gzip,
        [b'B', b'Z', b'h', ..] => ArchiveKind::Bzip2,
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => ArchiveKind::Xz,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => ArchiveKind::Zstd,
        _ => ArchiveKind::Tar,
    };
    file.seek(SeekFrom::Start(0))?;
    // A decompressor that fails, or a first header that does not parse, means
    // "not an archive" rather than an error, as in Docker.
    let mut reader = match decompressor(kind, file) {
        Ok(r) => r,
        Err(_) => return Ok(None),
    };
    let mut header = [0u8; 512];
    if read_up_to(&mut reader, &mut header).unwrap_or(0) < 512 {
        return Ok(None);
    }
    let valid =
        tar::Header::from_byte_slice(&header).cksum().ok() == Some(header_checksum(&header));
    Ok(valid.then_some(kind))
}

fn header_checksum(header: &[u8; 512]) -> u32 {
    header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32u32
            } else {
                *b as u32
            }
        })
        .sum()
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn decompressor(kind: ArchiveKind, file: File) -> io::Result<Box<dyn Read>> {
    let file = BufReader::with_capacity(256 * 1024, file);
    Ok(match kind {
        ArchiveKind::Tar => Box::new(file),
        ArchiveKind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        ArchiveKind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
        ArchiveKind::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(file)),
        ArchiveKind::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    })
}

/// Extracts the archive at `path` into the existing directory `dest` (inside
/// the step's rootfs) as Docker's ADD does: see [`crate::layer::unpack_archive`].
pub fn extract_archive(path: &Path, kind: ArchiveKind, dest: &Path) -> Result<()> {
    let file = crate::context::regular::open_regular_nofollow(path)
        .with_context(|| format!("opening {}", path.display()))?;
    crate::layer::unpack_archive(decompressor(kind, file)?, dest)
        .with_context(|| format!("extracting {}", path.display()))
}

/// A file fetched for `ADD URL`.
#[derive(Debug)]
pub struct Download {
    /// The downloaded file (in a temporary directory owned by the caller).
    pub path: PathBuf,
    /// The name Docker gives it: the last path segment of the URL.
    pub file_name: String,
    /// `Last-Modified` of the reply, which becomes the file's mtime.
    pub modified: Option<std::time::SystemTime>,
    /// `sha256:…` of the content.
    pub digest: String,
}

/// Downloads `url` into `dir`, checking `checksum` (`sha256:…`) when given.
pub async fn download(url: &str, dir: &Path, checksum: Option<&str>) -> Result<Download> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;

    let reply = reqwest::get(url)
        .await
        .with_context(|| format!("ADD {url}: request failed"))?;
    if !reply.status().is_success() {
        bail!("ADD {url}: the server answered {}", reply.status());
    }
    let modified = reply
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let file_name = url_file_name(reply.url().path());
    let path = dir.join("download");
    let mut out = tokio::fs::File::create(&path).await?;
    let mut hasher = Sha256::new();
    let mut body = reply.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.with_context(|| format!("ADD {url}: reading the reply"))?;
        hasher.update(&chunk);
        out.write_all(&chunk).await?;
    }
    out.sync_all().await?;
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    if let Some(want) = checksum {
        if want != digest {
            bail!("ADD {url}: checksum mismatch: expected {want}, got {digest}");
        }
    }
    Ok(Download {
        path,
        file_name,
        modified,
        digest,
    })
}

/// The file name for a URL path: its last non-empty segment, or `__unnamed__`
/// as Docker names a URL without one.
pub fn url_file_name(path: &str) -> String {
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .map(|s| s.to_string())
        .unwrap_or_else(|| "__unnamed__".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn make_tar(dir: &Path) -> PathBuf {
        let path = dir.join("a.tar");
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o640);
        h.set_uid(7);
        h.set_gid(8);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        b.append_data(&mut h, "x/y.txt", &b"abc"[..]).unwrap();
        b.finish().unwrap();
        path
    }

    #[test]
    fn detects_and_extracts_every_compression() {
        let dir = tempfile::tempdir().unwrap();
        let tar_path = make_tar(dir.path());
        let raw = std::fs::read(&tar_path).unwrap();
        let variants: Vec<(&str, Vec<u8>, ArchiveKind)> = vec![
            ("plain", raw.clone(), ArchiveKind::Tar),
            (
                "gz",
                {
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(&raw).unwrap();
                    e.finish().unwrap()
                },
                ArchiveKind::Gzip,
            ),
            (
                "bz2",
                {
                    let mut e =
                        bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                    e.write_all(&raw).unwrap();
                    e.finish().unwrap()
                },
                ArchiveKind::Bzip2,
            ),
            (
                "xz",
                {
                    let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
                    e.write_all(&raw).unwrap();
                    e.finish().unwrap()
                },
                ArchiveKind::Xz,
            ),
            (
                "zst",
                zstd::encode_all(&raw[..], 1).unwrap(),
                ArchiveKind::Zstd,
            ),
        ];
        for (name, bytes, kind) in variants {
            let p = dir.path().join(format!("f.{name}"));
            std::fs::write(&p, bytes).unwrap();
            assert_eq!(detect_archive(&p).unwrap(), Some(kind), "{name}");
            let dest = dir.path().join(format!("out-{name}"));
            std::fs::create_dir(&dest).unwrap();
            extract_archive(&p, kind, &dest).unwrap();
            assert_eq!(
                std::fs::read(dest.join("x/y.txt")).unwrap(),
                b"abc",
                "{name}"
            );
        }
    }

    #[test]
    fn plain_files_are_not_archives() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.txt");
        std::fs::write(&p, vec![b'a'; 2048]).unwrap();
        assert_eq!(detect_archive(&p).unwrap(), None);
        let gz = dir.path().join("data.gz");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"just text, not a tar").unwrap();
        std::fs::write(&gz, e.finish().unwrap()).unwrap();
        assert_eq!(
            detect_archive(&gz).unwrap(),
            None,
            "compressed non-tar is copied"
        );
    }

    #[test]
    fn url_names() {
        assert_eq!(url_file_name("/a/b/file.tar.gz"), "file.tar.gz");
        assert_eq!(url_file_name("/"), "__unnamed__");
        assert_eq!(url_file_name("/dir/"), "dir");
    }
}
