//! Content digests of selected COPY sources, for cache keys, and the metadata
//! index that lets unchanged files skip re-reading.
//!
//! The digest covers what a copy produces — each entry's relative path, type,
//! permission bits, owner, link target, device number and file content — and
//! never timestamps, so touching a file does not invalidate the cache.
//!
//! Reading every byte of a large context on each build is the slow part, so
//! file digests are remembered by `(path, device, inode, size, mtime, ctime)`.
//! Any change of those re-reads the file. Like git's "racy" entries, a file
//! whose mtime/ctime is too close to the moment it was hashed could change
//! again within the same timestamp tick without a visible stat change; such
//! digests are used but not remembered.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::error::{ContextError, Result};
use super::index_file::{read_entries, write_entries};
use super::select::{FileKind, SelectedSource};

const DIGEST_DOMAIN: &[u8] = b"builder-context-digest-v1\0";
/// How far a file's timestamps must lie in the past of its hashing to be remembered.
/// Covers coarse timestamp ticks of common filesystems (ext4/xfs/btrfs/tmpfs ~ms, NFS ~1s).
pub const DEFAULT_RACY_WINDOW: Duration = Duration::from_secs(2);
/// Contexts larger than this many files are hashed on all cores.
const PARALLEL_THRESHOLD: usize = 64;

/// Counters showing how much work the index saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// File digests served from the index.
    pub hits: u64,
    /// Files whose content was read and hashed.
    pub files_read: u64,
    /// Bytes read while hashing.
    pub bytes_read: u64,
}

/// The stat fields that identify an unchanged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StatKey {
    pub(super) dev: u64,
    pub(super) ino: u64,
    pub(super) size: u64,
    pub(super) mtime: (i64, i64),
    pub(super) ctime: (i64, i64),
}

impl StatKey {
    pub(super) fn of(meta: &Metadata) -> StatKey {
        StatKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The later of mtime and ctime as time since the epoch.
    fn newest(&self) -> Duration {
        let to = |(s, ns): (i64, i64)| {
            if s < 0 {
                Duration::ZERO
            } else {
                Duration::new(s as u64, ns.clamp(0, 999_999_999) as u32)
            }
        };
        to(self.mtime).max(to(self.ctime))
    }
}

#[derive(Debug, Clone)]
pub(super) struct IndexEntry {
    pub(super) key: StatKey,
    pub(super) digest: [u8; 32],
    /// Seen in this session (kept on save without checking the file).
    pub(super) touched: bool,
}

/// A persistent map from file identity to content digest.
#[derive(Debug)]
pub struct MetadataIndex {
    path: Option<PathBuf>,
    entries: HashMap<PathBuf, IndexEntry>,
    stats: IndexStats,
    racy_window: Duration,
    dirty: bool,
}

impl MetadataIndex {
    /// Opens the index stored at `path`. A missing file gives an empty index;
    /// so does an unreadable or corrupt one, since the index is only a cache
    /// (the next [`Self::save`] replaces it).
    pub fn open(path: impl AsRef<Path>) -> Result<MetadataIndex> {
        let path = path.as_ref().to_path_buf();
        let entries = match File::open(&path) {
            Ok(f) => read_entries(BufReader::new(f)).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(ContextError::io(&path, e)),
        };
        Ok(MetadataIndex {
            path: Some(path),
            entries,
            stats: IndexStats::default(),
            racy_window: DEFAULT_RACY_WINDOW,
            dirty: false,
        })
    }

    /// An index that is never written to disk.
    pub fn in_memory() -> MetadataIndex {
        MetadataIndex {
            path: None,
            entries: HashMap::new(),
            stats: IndexStats::default(),
            racy_window: DEFAULT_RACY_WINDOW,
            dirty: false,
        }
    }

    /// Changes how old a file's timestamps must be before its digest is remembered.
    pub fn set_racy_window(&mut self, window: Duration) {
        self.racy_window = window;
    }

    /// Work counters since this index was opened.
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    /// Number of remembered files.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sha256 of a regular file's content, from the index when its stat
    /// identity is unchanged, else by reading it.
    pub fn file_digest(&mut self, path: &Path, meta: &Metadata) -> Result<[u8; 32]> {
        if let Some(d) = self.lookup(path, meta) {
            return Ok(d);
        }
        let hashed = hash_file(path, self.racy_window)?;
        let digest = hashed.digest;
        self.record(path, hashed);
        Ok(digest)
    }

    fn lookup(&mut self, path: &Path, meta: &Metadata) -> Option<[u8; 32]> {
        let entry = self.entries.get_mut(path)?;
        if entry.key != StatKey::of(meta) {
            return None;
        }
        entry.touched = true;
        self.stats.hits += 1;
        Some(entry.digest)
    }

    fn record(&mut self, path: &Path, hashed: Hashed) {
        self.stats.files_read += 1;
        self.stats.bytes_read += hashed.bytes;
        if hashed.cacheable {
            self.entries.insert(
                path.to_path_buf(),
                IndexEntry {
                    key: hashed.key,
                    digest: hashed.digest,
                    touched: true,
                },
            );
        } else {
            self.entries.remove(path);
        }
        self.dirty = true;
    }

    /// Writes the index atomically (temp file, fsync, rename, fsync of the
    /// directory). Entries not used in this session are kept only if their
    /// file still exists. Does nothing for in-memory indexes or when unchanged.
    pub fn save(&mut self) -> Result<()> {
        self.save_via(|| None)
    }

    /// [`Self::save`] with the temp file in the dir `temp_dir` returns (on
    /// the index file's filesystem, e.g. a store's temp area, where a crash
    /// leaves it for the store to reclaim), asked only when there is
    /// something to write; `None`: beside the index file.
    pub fn save_via(&mut self, temp_dir: impl FnOnce() -> Option<PathBuf>) -> Result<()> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let before = self.entries.len();
        self.entries
            .retain(|p, e| e.touched || std::fs::symlink_metadata(p).is_ok());
        if !self.dirty && before == self.entries.len() {
            return Ok(());
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| ContextError::io(&dir, e))?;
        let tmp_dir = temp_dir().unwrap_or_else(|| dir.clone());
        let tmp =
            tempfile::NamedTempFile::new_in(&tmp_dir).map_err(|e| ContextError::io(&tmp_dir, e))?;
        {
            let mut w = BufWriter::new(tmp.as_file());
            write_entries(&mut w, &self.entries).map_err(|e| ContextError::io(tmp.path(), e))?;
            w.flush().map_err(|e| ContextError::io(tmp.path(), e))?;
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| ContextError::io(tmp.path(), e))?;
        tmp.persist(&path)
            .map_err(|e| ContextError::io(&path, e.error))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| ContextError::io(&dir, e))?;
        self.dirty = false;
        Ok(())
    }
}

/// Result of reading one file.
struct Hashed {
    digest: [u8; 32],
    key: StatKey,
    bytes: u64,
    /// Stable during the read and old enough to be remembered.
    cacheable: bool,
}

fn hash_file(path: &Path, racy_window: Duration) -> Result<Hashed> {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let io_err = |e| ContextError::io(path, e);
    let mut file = super::regular::open_regular_nofollow(path).map_err(io_err)?;
    let before = StatKey::of(&file.metadata().map_err(io_err)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    let after = StatKey::of(&file.metadata().map_err(io_err)?);
    let cacheable = before == after && before.newest() + racy_window <= started;
    Ok(Hashed {
        digest: hasher.finalize().into(),
        key: before,
        bytes,
        cacheable,
    })
}

fn put(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Computes a stable `sha256:<hex>` digest over selected sources: for each
/// match its name and type, for each entry its destination path, type,
/// permission bits, uid/gid, link target, device number and content digest.
/// Timestamps are not included. File contents come from `index` when unchanged.
pub fn digest_sources(sources: &mut [SelectedSource], index: &mut MetadataIndex) -> Result<String> {
    // Resolve content digests first: index hits serially, misses in parallel.
    let files: Vec<(&Path, &Metadata)> = sources
        .iter()
        .flat_map(|s| s.entries())
        .filter(|e| e.kind == FileKind::File)
        .map(|e| (e.path.as_path(), &e.metadata))
        .collect();
    let mut digests: HashMap<&Path, [u8; 32]> = HashMap::with_capacity(files.len());
    let mut misses: Vec<&Path> = Vec::new();
    for (path, meta) in &files {
        if digests.contains_key(path) {
            continue;
        }
        match index.lookup(path, meta) {
            Some(d) => {
                digests.insert(path, d);
            }
            None => misses.push(path),
        }
    }
    misses.sort_unstable();
    misses.dedup();
    for (path, hashed) in hash_many(&misses, index.racy_window)? {
        digests.insert(path, hashed.digest);
        index.record(path, hashed);
    }

    let mut h = Sha256::new();
    h.update(DIGEST_DOMAIN);
    h.update((sources.len() as u64).to_le_bytes());
    for source in sources.iter() {
        h.update(b"S");
        h.update((source.matches.len() as u64).to_le_bytes());
        for m in &source.matches {
            h.update(b"M");
            put(&mut h, m.name.as_bytes());
            h.update([m.kind.tag()]);
            h.update((m.entries.len() as u64).to_le_bytes());
            for e in &m.entries {
                h.update(b"E");
                put(&mut h, e.dest.as_os_str().as_bytes());
                h.update([e.kind.tag()]);
                h.update((e.metadata.mode() & 0o7777).to_le_bytes());
                h.update(e.metadata.uid().to_le_bytes());
                h.update(e.metadata.gid().to_le_bytes());
                match e.kind {
                    FileKind::File => {
                        let d = digests.get(e.path.as_path()).copied().unwrap_or([0; 32]);
                        h.update(d);
                    }
                    FileKind::Symlink => {
                        let target = match &e.link_target {
                            Some(t) => t.clone(),
                            None => std::fs::read_link(&e.path)
                                .map_err(|err| ContextError::io(&e.path, err))?,
                        };
                        put(&mut h, target.as_os_str().as_bytes());
                    }
                    FileKind::CharDevice | FileKind::BlockDevice => {
                        h.update(e.metadata.rdev().to_le_bytes())
                    }
                    FileKind::Dir | FileKind::Fifo | FileKind::Socket => {}
                }
            }
        }
    }
    // Each regular file's digest goes with its entry (for the layer write, see
    // `SelectedEntry::digest`), in entry order once the borrows above end.
    let known: Vec<Option<[u8; 32]>> = sources
        .iter()
        .flat_map(|s| s.entries())
        .map(|e| {
            (e.kind == FileKind::File)
                .then(|| digests.get(e.path.as_path()).copied())
                .flatten()
        })
        .collect();
    let entries = sources
        .iter_mut()
        .flat_map(|s| s.matches.iter_mut())
        .flat_map(|m| m.entries.iter_mut());
    for (e, d) in entries.zip(known) {
        e.digest = d;
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// Hashes files, spreading large batches over the available cores.
fn hash_many<'p>(paths: &[&'p Path], racy_window: Duration) -> Result<Vec<(&'p Path, Hashed)>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || paths.len() < PARALLEL_THRESHOLD {
        return paths
            .iter()
            .map(|p| Ok((*p, hash_file(p, racy_window)?)))
            .collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<Vec<(&'p Path, Hashed)>> {
                    part.iter()
                        .map(|p| Ok((*p, hash_file(p, racy_window)?)))
                        .collect()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(paths.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_index_file_opens_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        std::fs::write(&path, b"not an index").unwrap();
        let idx = MetadataIndex::open(&path).unwrap();
        assert!(idx.is_empty());
    }

    #[test]
    fn racy_files_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fresh");
        std::fs::write(&file, b"new").unwrap();
        let meta = std::fs::symlink_metadata(&file).unwrap();
        let mut idx = MetadataIndex::in_memory();
        idx.set_racy_window(Duration::from_secs(3600));
        idx.file_digest(&file, &meta).unwrap();
        idx.file_digest(&file, &meta).unwrap();
        assert_eq!(
            idx.stats().files_read,
            2,
            "a just-written file must be re-read"
        );
        idx.set_racy_window(Duration::ZERO);
        idx.file_digest(&file, &meta).unwrap();
        idx.file_digest(&file, &meta).unwrap();
        assert_eq!(idx.stats().files_read, 3);
        assert_eq!(idx.stats().hits, 1);
    }
}
