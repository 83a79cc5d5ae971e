//! The state directory: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) that skopeo and umoci can read, plus builder's own
//! directories beside it:
//!
//! ```text
//! ROOT/oci-layout, index.json, blobs/sha256/<hex>   OCI layout; tags are ref.name annotations
//! ROOT/snapshots/<diffid-hex>/                      extracted layers (overlay whiteout format)
//! ROOT/deltas/<diffid-hex>/{tree/,base}             a layer as a delta over a similar one's snapshot
//! ROOT/cache/                                       the step cache index (owned by the engine)
//! ROOT/cache/roots/*                                GC roots: one digest per line
//! ROOT/tmp/area-<pid>-<random>/ and ….lock        one temp area per open store (see `tmp`)
//! ROOT/locks/                                       flock files
//! ```
//!
//! Every open [`Store`] holds a shared lock on `locks/gc.lock`; garbage
//! collection upgrades it to exclusive, so GC never runs while another
//! process may be between writing a blob and tagging it.
//!
//! Every temp file or dir an open store makes lives in its temp area,
//! renamed into place when complete (same filesystem). A crash leaves the
//! area behind; [`Store::reclaim_temp`] removes the areas of processes
//! that are gone, without waiting for the ones still running.

mod archive;
mod blobs;
mod cache_prune;
mod check;
mod check_delta;
mod delta;
pub mod descriptor;
pub mod digest;
pub mod fsutil;
mod gc;
mod index;
pub mod load;
pub mod lock;
mod lookup;
mod mapped;
mod pipe;
mod snapshot;
mod tmp;
mod usage;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use archive::{save_archive, write_archive, ArchiveFormat, ArchiveImage};
pub use blobs::BlobWriter;
pub use cache_prune::{CacheEntry, CacheKind, CachePolicy, CachePruneReport};
pub use check::CheckReport;
pub use delta::{DeltaSnapshot, MAX_DELTA_DEPTH};
pub use descriptor::{Descriptor, Platform};
pub use digest::Digest;
pub use gc::{GcRoots, PruneReport};
pub use index::ImageEntry;
pub use mapped::{LayerTar, MappedExtractor};
pub use snapshot::{decompress, Extractor};
pub use usage::{du, DiskUsage, Usage};

/// Environment variable overriding the default store root.
pub const ROOT_ENV: &str = "BUILDER_ROOT";

/// An open store. Cheap to share by reference across threads.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    // Declared before the GC lock: the area goes while the lock is held.
    area: tmp::LazyArea,
    gc_lock: lock::FileLock,
    /// Blobs this process put in place from files it wrote and hashed itself (see
    /// [`Store::adopt_blob`]): reading one back needs no second hash (`mapped`).
    adopted: std::sync::Mutex<std::collections::HashSet<Digest>>,
}

impl Store {
    /// The root used when neither `--root` nor `BUILDER_ROOT` is given:
    /// `/var/lib/builder` for root, `$XDG_DATA_HOME/builder` (or
    /// `~/.local/share/builder`) for other users.
    pub fn default_root() -> PathBuf {
        if let Some(r) = std::env::var_os(ROOT_ENV).filter(|v| !v.is_empty()) {
            return PathBuf::from(r);
        }
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from("/var/lib/builder");
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("builder");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
        PathBuf::from(home).join(".local/share/builder")
    }

    /// Opens (creating if needed) the store at `root`. The root is made
    /// (or tightened to) mode 0700: blobs may hold secrets baked into
    /// layers, and snapshots hold the images' setuid-root binaries, so no
    /// other user may reach anything below it.
    pub fn open(root: &Path) -> Result<Store> {
        for d in ["blobs/sha256", "snapshots", "cache/roots", "tmp", "locks"] {
            let p = root.join(d);
            fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        }
        tighten(root)?;
        // Absolute from here on: overlay options and snapshot paths must not
        // depend on the process's (or a mount thread's) working directory.
        let root =
            &fs::canonicalize(root).with_context(|| format!("resolving {}", root.display()))?;
        if crate::layer::whiteout_files::needed(root) {
            // A container's own root: no overlay mounts, whiteouts as files.
            crate::layer::whiteout_files::enable();
        }
        let gc_lock = lock::shared(&root.join("locks/gc.lock"))?;
        let store = Store {
            root: root.to_path_buf(),
            area: tmp::LazyArea::new(root.join("tmp")),
            gc_lock,
            adopted: Default::default(),
        };
        let layout = root.join("oci-layout");
        if !layout.exists() {
            store.write_file(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)?;
        }
        if !root.join("index.json").exists() {
            // Under the index lock so two first openers don't race each
            // other's tags away.
            let _l = store.lock("index")?;
            if !root.join("index.json").exists() {
                index::write_index(&store, &index::IndexFile::default())?;
            }
        }
        Ok(store)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the step cache index lives (`ROOT/cache`). The engine owns its
    /// format; to keep blobs or snapshots alive across `prune`, write their
    /// digests (one per line) to a file in `ROOT/cache/roots/`.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// This store's temp area, for temp files and dirs that are renamed
    /// into the store (same filesystem, so the rename is atomic); made on
    /// first use. It is removed when the store is dropped, and by
    /// [`Store::reclaim_temp`] in another process if this one dies first.
    pub fn temp_dir(&self) -> Result<PathBuf> {
        Ok(self.area.dir()?.to_path_buf())
    }

    /// [`Store::temp_dir`] for callers that report errors when they create
    /// something there: if the area cannot be made, this names a dir that
    /// does not exist, so that creation fails.
    pub fn tmp_dir(&self) -> PathBuf {
        self.temp_dir()
            .unwrap_or_else(|_| self.tmp_root().join("area-unavailable"))
    }

    /// `ROOT/tmp`, where every open store has its temp area.
    fn tmp_root(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Removes the temp areas of processes that are gone (killed during a
    /// build, pull or push); areas of running processes are left alone
    /// (their locks say which). Cheap when there is nothing to remove: one
    /// directory listing. Returns how many areas were removed.
    pub fn reclaim_temp(&self) -> Result<usize> {
        tmp::reclaim(&self.tmp_root(), self.area.made(), false)
    }

    /// Atomically replaces `path` (a file in the store) with `bytes`,
    /// through a temp file in this store's temp area.
    pub fn write_file(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        fsutil::write_atomic_via(self.area.dir()?, path, bytes, mode)
    }

    /// Takes the named exclusive lock (`ROOT/locks/<name>.lock`), e.g. for
    /// read-modify-write of a cache index file.
    pub fn lock(&self, name: &str) -> Result<lock::FileLock> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        lock::exclusive(&self.root.join("locks").join(format!("{safe}.lock")))
    }
}

/// Sets `root` to mode 0700 when group or others have any access to it.
fn tighten(root: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(root)
        .with_context(|| format!("reading {}", root.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o700)).with_context(|| {
            format!(
                "making the store {} private (mode 0700; it was {:o})",
                root.display(),
                mode & 0o7777
            )
        })?;
    }
    Ok(())
}
