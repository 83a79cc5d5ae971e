//! Extracted layers: `ROOT/snapshots/<diffid-hex>/`, made once per layer.
//!
//! The blob is decompressed (gzip, zstd or plain, by magic bytes), handed
//! to an extractor (the `layer` module's safe extractor; the store does not
//! know tar semantics) writing into a temp dir in the temp area, the
//! uncompressed stream is checked against the diffID, and only then is the
//! dir renamed to its final name. A per-layer lock makes concurrent
//! processes extract each layer once.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::digest::{Digest, HashingReader};
use super::{fsutil, Store};

/// Extracts an uncompressed layer tar from the reader into the directory.
pub type Extractor<'a> = dyn FnMut(&mut dyn Read, &Path) -> Result<()> + 'a;

/// Wraps `reader` in the decompressor its first bytes call for.
pub fn decompress<'a>(reader: impl Read + Send + 'a) -> Result<Box<dyn Read + Send + 'a>> {
    let mut buf = BufReader::with_capacity(256 * 1024, reader);
    let head = buf.fill_buf().context("reading layer header")?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buf))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::with_buffer(buf).context("starting zstd decoder")?)
    } else {
        Box::new(buf)
    })
}

impl Store {
    /// Where the snapshot of a layer with this diffID lives.
    pub fn snapshot_path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("snapshots").join(diff_id.hex())
    }

    /// Returns the snapshot dir for `diff_id`, extracting blob `blob` with
    /// `extract` first if it is not there yet.
    pub fn ensure_snapshot(
        &self,
        diff_id: &Digest,
        blob: &Digest,
        extract: &mut Extractor<'_>,
    ) -> Result<PathBuf> {
        let target = self.snapshot_path(diff_id);
        if target.is_dir() {
            return Ok(target);
        }
        let _l = self.lock(&format!("snapshot-{}", diff_id.hex()))?;
        if target.is_dir() {
            return Ok(target);
        }
        let tmp = tempfile::Builder::new()
            .prefix("snap-")
            .tempdir_in(self.temp_dir()?)
            .context("creating a temp dir for a snapshot")?;
        self.extract_checked(diff_id, blob, tmp.path(), extract)?;
        let tmp_path = tmp.keep();
        if let Err(e) = fs::rename(&tmp_path, &target) {
            if matches!(e.raw_os_error(), Some(libc::EXDEV | libc::EROFS)) {
                // A read-only store (its temp area is elsewhere): the
                // extraction serves this process from its temp area, which
                // goes when the store is closed.
                return Ok(tmp_path);
            }
        }
        if target.is_dir() {
            fsutil::sync_dir(&self.root.join("snapshots"))?;
            return Ok(target);
        }
        fs::rename(&tmp_path, &target).with_context(|| {
            format!(
                "renaming snapshot {} into {}",
                tmp_path.display(),
                target.display()
            )
        })?;
        fsutil::sync_dir(&self.root.join("snapshots"))?;
        Ok(target)
    }

    /// Extracts blob `blob` into the dir `dest` with `extract`, inflating and
    /// hashing on one thread while `extract` creates files on this one;
    /// errors unless the uncompressed stream hashes to `diff_id`.
    pub(super) fn extract_checked(
        &self,
        diff_id: &Digest,
        blob: &Digest,
        dest: &Path,
        extract: &mut Extractor<'_>,
    ) -> Result<()> {
        let hashing = HashingReader::new(decompress(self.open_blob(blob)?)?);
        // Inflate + hash on one core, create files on the other.
        let got = std::thread::scope(|s| -> Result<Digest> {
            let (mut reader, producer) = super::pipe::spawn_reader(s, hashing, |h| h.finish());
            let extracted = extract(&mut reader, dest)
                .with_context(|| format!("extracting layer {blob}"))
                // The digest covers the whole stream, trailing padding too.
                .and_then(|()| Ok(io::copy(&mut reader, &mut io::sink())?));
            drop(reader);
            let hashed = producer
                .join()
                .map_err(|_| anyhow::anyhow!("layer reader thread panicked"))?;
            extracted?;
            Ok(hashed.with_context(|| format!("reading layer {blob}"))?.0)
        })?;
        if got != *diff_id {
            bail!("layer {blob} does not match its diffID: expected {diff_id}, got {got}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn extracts_once_and_checks_diff_id() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let tar = tar_of(&[("a.txt", b"hi")]);
        let diff_id = Digest::of(&tar);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let blob = s.put_blob_bytes(&gz.finish().unwrap(), None).unwrap();
        let calls = std::cell::Cell::new(0);
        let mut ex = |r: &mut dyn Read, p: &Path| {
            calls.set(calls.get() + 1);
            tar::Archive::new(r).unpack(p)?;
            Ok(())
        };
        let p = s.ensure_snapshot(&diff_id, &blob, &mut ex).unwrap();
        assert_eq!(fs::read(p.join("a.txt")).unwrap(), b"hi");
        s.ensure_snapshot(&diff_id, &blob, &mut ex).unwrap();
        assert_eq!(calls.get(), 1);
        let wrong = Digest::of(b"x");
        let err = s.ensure_snapshot(&wrong, &blob, &mut ex).unwrap_err();
        assert!(format!("{err:#}").contains("diffID"), "{err:#}");
        assert!(!s.snapshot_path(&wrong).exists());
        assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0);
    }
}
