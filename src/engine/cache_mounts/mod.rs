//! `RUN --mount=type=cache` contents in the shared cache
//! (`--cache-to …,cache-mounts=true`; BuildKit never exports cache mounts,
//! so the attribute is builder's own).
//!
//! Each mount (by id) is exported as a chain of zstd layer tars: a base
//! layer with every file, then delta layers with what changed and `.wh.`
//! whiteouts for what went, and a zstd JSON index of the chain's result
//! (path → kind, mode, owner, size, mtime, content digest; see
//! [`index`]). The records ([`ExportedMount`]) go in the cache config
//! beside the step records, their blobs in the cache manifest's layers.
//! The chain a store last exported or restored is kept in
//! `ROOT/cache/mount-state/<key>.json` (its blobs rooted by
//! `ROOT/cache/roots/mount-<key>`), so the next export writes one delta
//! layer against it — a layer already in the registry is not uploaded
//! again — and squashes the chain into a new base past [`MAX_CHAIN`].
//!
//! A restore happens lazily, when a RUN first mounts a cache that is not
//! in the store yet; see [`restore`].

pub mod apply;
pub mod index;
mod shared;
#[cfg(test)]
mod tests;

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use self::index::{FileEntry, Index, Kind};
use crate::plan::Sharing;
use crate::store::descriptor::OCI_LAYER_ZSTD;
use crate::store::digest::{HashingReader, HashingWriter};
use crate::store::{fsutil, Descriptor, Digest, Store};

/// Media type of a mount's index blob (zstd-compressed JSON).
pub const MOUNT_INDEX_TYPE: &str = "application/vnd.builder.cache.mount-index.v1+json+zstd";
/// Layers in a chain before the next export squashes it into one base.
pub const MAX_CHAIN: usize = 8;
/// Bytes of file content one restored mount may hold (16 GiB).
pub const MAX_MOUNT_BYTES: u64 = 16 << 30;
/// Entries (files, dirs, symlinks, whiteouts) one restore may apply.
pub const MAX_ENTRIES: u64 = 2_000_000;
/// Uncompressed bytes of an index blob (512 MiB).
const MAX_INDEX_BYTES: u64 = 512 << 20;
/// Longest mount id accepted from a cache.
const MAX_ID: usize = 4096;

/// One layer of a mount's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountLayer {
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// The zstd blob.
    pub blob: Descriptor,
}

/// A cache mount as exported: its options when last used and its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedMount {
    /// The mount id (`id=`, or the target when none was given).
    pub id: String,
    /// `target=` (absolute).
    pub target: String,
    /// `sharing=`: shared, private or locked.
    pub sharing: String,
    /// `uid=` of the mount dir.
    pub uid: u32,
    /// `gid=` of the mount dir.
    pub gid: u32,
    /// `mode=` of the mount dir.
    pub mode: u32,
    /// Base first, then deltas.
    pub layers: Vec<MountLayer>,
    /// The index of the chain's result ([`MOUNT_INDEX_TYPE`]).
    pub index: Descriptor,
}

impl ExportedMount {
    /// The store key of the mount: the digest of its id, as RUN names the
    /// mount dir.
    pub fn key(&self) -> Digest {
        Digest::of(self.id.as_bytes())
    }

    /// Every blob the record needs.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.layers
            .iter()
            .map(|l| &l.blob)
            .chain(std::iter::once(&self.index))
    }

    /// Checks a record read from a cache before anything is fetched.
    pub fn validate(&self) -> Result<()> {
        if self.id.is_empty() || self.id.len() > MAX_ID {
            bail!("cache mount record with a bad id");
        }
        if self.layers.is_empty() || self.layers.len() > MAX_CHAIN + 1 {
            bail!("cache mount {}: {} layers", self.id, self.layers.len());
        }
        for l in &self.layers {
            Digest::parse(&l.diff_id)
                .with_context(|| format!("cache mount {}: bad diffID", self.id))?;
            if l.blob.media_type != OCI_LAYER_ZSTD || l.blob.size > MAX_MOUNT_BYTES {
                bail!("cache mount {}: a layer is not a bounded zstd tar", self.id);
            }
        }
        if self.index.media_type != MOUNT_INDEX_TYPE || self.index.size > MAX_INDEX_BYTES {
            bail!("cache mount {}: bad index descriptor", self.id);
        }
        Ok(())
    }
}

/// A cache mount a RUN of this build used, with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountUse {
    /// The mount id.
    pub id: String,
    /// The absolute target.
    pub target: String,
    /// `sharing=`.
    pub sharing: Sharing,
    /// `uid=`, `gid=`, `mode=` (defaults applied).
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Mode.
    pub mode: u32,
}

fn sharing_name(s: Sharing) -> &'static str {
    match s {
        Sharing::Shared => "shared",
        Sharing::Private => "private",
        Sharing::Locked => "locked",
    }
}

/// The dir a RUN mounts for the cache with store key `key`.
pub fn mount_dir(store: &Store, key: &Digest) -> PathBuf {
    crate::engine::cache::mounts_dir(store).join(key.hex())
}

/// `ROOT/cache/mount-state/<key>.json`: the chain the mount dir was last
/// exported as or restored from.
pub fn state_path(store: &Store, key_hex: &str) -> PathBuf {
    store
        .cache_dir()
        .join("mount-state")
        .join(format!("{key_hex}.json"))
}

/// `ROOT/cache/roots/mount-<key>`: the GC roots of that chain.
pub fn roots_path(store: &Store, key_hex: &str) -> PathBuf {
    store
        .cache_dir()
        .join("roots")
        .join(format!("mount-{key_hex}"))
}

fn read_state(store: &Store, key: &Digest) -> Option<ExportedMount> {
    let bytes = fs::read(state_path(store, key.hex())).ok()?;
    let m: ExportedMount = serde_json::from_slice(&bytes).ok()?;
    let complete = m.blobs().all(|d| store.has_blob(&d.digest));
    complete.then_some(m)
}

/// Records `m` as the mount's chain: roots first, so its blobs are never
/// unrooted while the state names them.
pub fn write_state(store: &Store, m: &ExportedMount) -> Result<()> {
    let key = m.key();
    let hex = key.hex();
    let roots: String = m.blobs().map(|d| format!("{}\n", d.digest)).collect();
    let tmp = store.temp_dir()?;
    for (path, bytes) in [
        (roots_path(store, hex), roots.into_bytes()),
        (state_path(store, hex), serde_json::to_vec(m)?),
    ] {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fsutil::write_atomic_via(&tmp, &path, &bytes, 0o644)?;
    }
    Ok(())
}

/// Reads a mount's index blob from the store, bounded.
fn read_index(store: &Store, d: &Descriptor) -> Result<Index> {
    let f = store.open_blob(&d.digest)?;
    let mut json = Vec::new();
    zstd::Decoder::new(f)?
        .take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut json)
        .context("decompressing the mount index")?;
    if json.len() as u64 > MAX_INDEX_BYTES {
        bail!("the mount index is larger than {MAX_INDEX_BYTES} bytes");
    }
    serde_json::from_slice(&json).context("the mount index is not valid")
}

/// What [`export_mount`] did.
#[derive(Debug)]
pub struct MountExport {
    /// The record to write into the cache config.
    pub record: ExportedMount,
    /// Bytes of the layer written by this export (0: nothing changed).
    pub new_layer_bytes: u64,
    /// Special files (fifos, sockets, devices) left out.
    pub skipped: usize,
}

/// Exports the mount dir of `used`: a delta layer against the chain it
/// was last exported as or restored from, a new base when there is none
/// or the chain is [`MAX_CHAIN`] long, or the chain as it is when nothing
/// changed. `None` when the store has no such mount dir.
pub fn export_mount(store: &Store, used: &MountUse) -> Result<Option<MountExport>> {
    let key = Digest::of(used.id.as_bytes());
    let dir = mount_dir(store, &key);
    if !dir.is_dir() {
        return Ok(None);
    }
    // A locked or private RUN in another build holds this lock while it
    // writes; a shared one does not, and is exported as it is now.
    let _lock = store.lock(&format!("cache-mount-{}", key.hex()))?;
    let prev = read_state(store, &key);
    let prev_index = match &prev {
        Some(p) => read_index(store, &p.index).unwrap_or_default(),
        None => Index::new(),
    };
    let (mut now, skipped) = index::scan(&dir, &prev_index)?;
    let mut record = ExportedMount {
        id: used.id.clone(),
        target: used.target.clone(),
        sharing: sharing_name(used.sharing).to_string(),
        uid: used.uid,
        gid: used.gid,
        mode: used.mode,
        layers: Vec::new(),
        index: Descriptor::new(MOUNT_INDEX_TYPE, Digest::of(b""), 0),
    };
    let mut new_layer_bytes = 0;
    match prev {
        Some(p) if p.layers.len() < MAX_CHAIN => {
            let (write, delete) = index::changes(&prev_index, &now);
            record.layers = p.layers.clone();
            record.index = p.index.clone();
            if !write.is_empty() || !delete.is_empty() {
                let l = write_layer(store, &dir, &mut now, &write, &delete)?;
                new_layer_bytes = l.blob.size;
                record.layers.push(l);
                record.index = write_index(store, &now)?;
            }
        }
        _ => {
            let all: Vec<String> = now.keys().cloned().collect();
            let l = write_layer(store, &dir, &mut now, &all, &[])?;
            new_layer_bytes = l.blob.size;
            record.layers = vec![l];
            record.index = write_index(store, &now)?;
        }
    }
    write_state(store, &record)?;
    Ok(Some(MountExport {
        record,
        new_layer_bytes,
        skipped,
    }))
}

fn write_index(store: &Store, index: &Index) -> Result<Descriptor> {
    let json = serde_json::to_vec(index)?;
    let z = zstd::encode_all(&json[..], 3)?;
    let digest = store.put_blob_bytes(&z, None)?;
    Ok(Descriptor::new(MOUNT_INDEX_TYPE, digest, z.len() as u64))
}

/// Writes a zstd layer with `write` (paths of `index`, read from `dir`;
/// their digests are filled in from what was read) and whiteouts for
/// `delete`.
fn write_layer(
    store: &Store,
    dir: &Path,
    index: &mut Index,
    write: &[String],
    delete: &[String],
) -> Result<MountLayer> {
    let blob = store.blob_writer()?;
    let zstd = zstd::Encoder::new(blob, 3)?;
    let mut tar = tar::Builder::new(HashingWriter::new(zstd));
    tar.mode(tar::HeaderMode::Complete);
    for path in delete {
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (format!("{p}/"), n),
            None => (String::new(), path.as_str()),
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_mtime(0);
        tar.append_data(&mut h, format!("{parent}.wh.{name}"), std::io::empty())?;
    }
    for path in write {
        let e: &mut FileEntry = index
            .get_mut(path)
            .ok_or_else(|| anyhow!("{path} is not in the index"))?;
        let mut h = tar::Header::new_gnu();
        h.set_mode(e.mode);
        h.set_uid(u64::from(e.uid));
        h.set_gid(u64::from(e.gid));
        h.set_mtime(e.mtime.max(0) as u64);
        match e.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                tar.append_data(&mut h, path, std::io::empty())?;
            }
            Kind::Symlink => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                tar.append_link(&mut h, path, &e.link)?;
            }
            Kind::File => {
                let p = dir.join(path);
                let f = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&p)
                    .with_context(|| format!("opening {}", p.display()))?;
                if f.metadata()?.len() != e.size {
                    bail!("{} changed during the export", p.display());
                }
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(e.size);
                let mut r = HashingReader::new(f.take(e.size));
                tar.append_data(&mut h, path, &mut r)?;
                let (digest, n) = r.finish()?;
                if n != e.size {
                    bail!("{} changed during the export", p.display());
                }
                e.digest = digest.to_string();
            }
        }
    }
    let hashing = tar.into_inner()?;
    let (zstd, diff_id, _) = hashing.finish();
    let mut blob = zstd.finish()?;
    blob.flush()?;
    let (digest, size) = blob.commit(None, None)?;
    Ok(MountLayer {
        diff_id: diff_id.to_string(),
        blob: Descriptor::new(OCI_LAYER_ZSTD, digest, size),
    })
}

/// Restores `m` (its blobs already in the store, verified by digest) as
/// the mount dir of its key, if the store has none yet: the layers are
/// applied in a temp dir that is renamed into place, so a failure leaves
/// no half-restored mount. `used` gives the mount dir's own owner and
/// mode, as a fresh mount would have. Returns whether it restored.
pub fn restore(store: &Store, m: &ExportedMount, used: &MountUse) -> Result<bool> {
    m.validate()?;
    let key = m.key();
    let dir = mount_dir(store, &key);
    let _lock = store.lock(&format!("cache-mount-restore-{}", key.hex()))?;
    if dir.exists() {
        // A local mount is never overwritten: it is this runner's own.
        return Ok(false);
    }
    let tmp = tempfile::Builder::new()
        .prefix("mount-restore-")
        .tempdir_in(store.temp_dir()?)?;
    let root = tmp.path().join("m");
    fs::create_dir(&root)?;
    let mut budget = apply::Budget {
        bytes: MAX_MOUNT_BYTES,
        entries: MAX_ENTRIES,
    };
    for l in &m.layers {
        let diff_id = Digest::parse(&l.diff_id)?;
        let blob = store.open_blob(&l.blob.digest)?;
        apply::apply_layer(&root, blob, &diff_id, &mut budget)
            .with_context(|| format!("layer {}", l.blob.digest))?;
    }
    let index = read_index(store, &m.index)?;
    apply::check_and_stamp(&root, &index)?;
    fs::set_permissions(&root, fs::Permissions::from_mode(used.mode))?;
    nix::unistd::chown(
        &root,
        Some(nix::unistd::Uid::from_raw(used.uid)),
        Some(nix::unistd::Gid::from_raw(used.gid)),
    )?;
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::rename(&root, &dir).with_context(|| format!("renaming into {}", dir.display()))?;
    fsutil::sync_dir(dir.parent().unwrap_or(Path::new(".")))?;
    write_state(store, m)?;
    Ok(true)
}

/// The number of files in an index (for reports).
pub fn file_count(index: &Index) -> usize {
    index.values().filter(|e| e.kind == Kind::File).count()
}
