//! Content-addressed blobs in `ROOT/blobs/sha256/<hex>`.
//!
//! Bytes go to a temp file in the store's temp area (`ROOT/tmp/area-…`),
//! are hashed while written, fsynced and only then renamed to their digest
//! name. A blob file therefore always has the content its name says; a
//! process killed mid-write leaves only a temp file in its area, which the
//! next builder command or `prune` removes.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::digest::{Digest, Hasher};
use super::{fsutil, Store};

/// A blob being written. Implements [`Write`]; call [`BlobWriter::commit`]
/// to verify and publish it. Dropping it uncommitted deletes the temp file.
pub struct BlobWriter {
    tmp: tempfile::NamedTempFile,
    hasher: Hasher,
    blobs_dir: PathBuf,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("tmp", &self.tmp.path())
            .field("written", &self.hasher.len())
            .finish()
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.hasher.len()
    }

    /// Verifies the content against `expected` (digest and, if given, size),
    /// fsyncs and renames it into place. Returns the digest and size.
    /// On mismatch the temp file is deleted and nothing becomes visible.
    pub fn commit(mut self, expected: Option<&Digest>, size: Option<u64>) -> Result<(Digest, u64)> {
        self.tmp.flush().context("flushing blob")?;
        let len = self.hasher.len();
        let digest = self.hasher.clone().finish();
        if let Some(want) = expected {
            if *want != digest {
                bail!("digest mismatch: expected {want}, got {digest} ({len} bytes)");
            }
        }
        if let Some(want) = size {
            if want != len {
                bail!("size mismatch for {digest}: expected {want} bytes, got {len}");
            }
        }
        let target = self.blobs_dir.join(digest.hex());
        if target.exists() {
            // Someone else published the same content; ours is redundant.
            return Ok((digest, len));
        }
        let f = self.tmp.as_file();
        f.set_permissions(fs::Permissions::from_mode(0o644))
            .context("chmod blob")?;
        f.sync_all().context("fsync blob")?;
        self.tmp
            .persist(&target)
            .map_err(|e| e.error)
            .with_context(|| format!("renaming blob into {}", target.display()))?;
        fsutil::sync_dir(&self.blobs_dir)?;
        Ok((digest, len))
    }
}

impl Store {
    /// The path of a blob's file (which may not exist).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// True if the blob is present (and so verified).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The size of a stored blob.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        let p = self.blob_path(digest);
        Ok(fs::metadata(&p)
            .with_context(|| format!("blob {digest} is not in the store ({})", p.display()))?
            .len())
    }

    /// Opens a stored blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let p = self.blob_path(digest);
        File::open(&p)
            .with_context(|| format!("blob {digest} is not in the store ({})", p.display()))
    }

    /// Reads a whole blob (for manifests and configs; use [`Store::open_blob`]
    /// for layers).
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open_blob(digest)?
            .read_to_end(&mut buf)
            .with_context(|| format!("reading blob {digest}"))?;
        Ok(buf)
    }

    /// Starts writing a new blob.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let dir = self.temp_dir()?;
        let tmp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&dir)
            .with_context(|| format!("creating a temp file in {}", dir.display()))?;
        Ok(BlobWriter {
            tmp,
            hasher: Hasher::new(),
            blobs_dir: self.root.join("blobs/sha256"),
        })
    }

    /// Stores `bytes`, verifying them against `expected` if given.
    pub fn put_blob_bytes(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if let Some(want) = expected {
            if *want != digest {
                bail!("digest mismatch: expected {want}, got {digest}");
            }
        }
        if self.has_blob(&digest) {
            return Ok(digest);
        }
        let mut w = self.blob_writer()?;
        w.write_all(bytes).context("writing blob")?;
        Ok(w.commit(Some(&digest), None)?.0)
    }

    /// Stores everything `reader` yields, verifying it against `expected`.
    pub fn put_blob_reader(
        &self,
        mut reader: impl Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64)> {
        if let Some(d) = expected {
            if self.has_blob(d) {
                return Ok((d.clone(), self.blob_size(d)?));
            }
        }
        let mut w = self.blob_writer()?;
        io::copy(&mut reader, &mut w).context("copying blob into the store")?;
        w.commit(expected, None)
    }

    /// Moves a finished temp file (in [`Store::tmp_dir`], already fsynced,
    /// its digest computed while it was written, e.g. by the layer
    /// compressor) into the store as blob `digest`. The size is checked
    /// against the file; a mismatch deletes the file and fails.
    pub fn adopt_blob(&self, path: &Path, digest: &Digest, size: u64) -> Result<()> {
        let actual = fs::metadata(path)
            .with_context(|| format!("stat {}", path.display()))?
            .len();
        if actual != size {
            let _ = fs::remove_file(path);
            bail!(
                "blob {digest}: {} has {actual} bytes, expected {size}",
                path.display()
            );
        }
        let target = self.blob_path(digest);
        if target.exists() {
            let _ = fs::remove_file(path);
            return Ok(());
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).context("chmod blob")?;
        fs::rename(path, &target)
            .with_context(|| format!("renaming {} into {}", path.display(), target.display()))?;
        fsutil::sync_dir(&self.root.join("blobs/sha256"))?;
        self.adopted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest.clone());
        Ok(())
    }

    /// Stores a copy of the file at `path`, verifying it against `expected`.
    pub fn put_blob_file(&self, path: &Path, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        self.put_blob_reader(f, expected)
            .with_context(|| format!("storing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_verify_and_reject() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let d = s.put_blob_bytes(b"hello", None).unwrap();
        assert!(s.has_blob(&d));
        assert_eq!(s.read_blob(&d).unwrap(), b"hello");
        let wrong = Digest::of(b"other");
        let mut w = s.blob_writer().unwrap();
        w.write_all(b"hello!").unwrap();
        assert!(w.commit(Some(&wrong), None).is_err());
        assert!(!s.has_blob(&wrong));
        assert_eq!(
            fs::read_dir(s.tmp_dir()).unwrap().count(),
            0,
            "temp file left behind"
        );
        let mut w = s.blob_writer().unwrap();
        w.write_all(b"abc").unwrap();
        let err = w.commit(None, Some(4)).unwrap_err().to_string();
        assert!(err.contains("size mismatch"), "{err}");
        let (d2, n) = s
            .put_blob_reader(&b"abc"[..], Some(&Digest::of(b"abc")))
            .unwrap();
        assert_eq!((d2.clone(), n), (Digest::of(b"abc"), 3));
        assert_eq!(s.blob_size(&d2).unwrap(), 3);
    }
}
