//! The state directory: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) that skopeo and umoci can read, plus builder's own
//! directories beside it:
//!
//! ```text
//! ROOT/oci-layout, index.json, blobs/sha256/<hex>   OCI layout; tags are ref.name annotations
//! ROOT/snapshots/<diffid-hex>/                      extracted layers (overlay whiteout format)
//! ROOT/cache/                                       the step cache index (owned by the engine)
//! ROOT/cache/roots/*                                GC roots: one digest per line
//! ROOT/tmp/                                         temp files, renamed into place when verified
//! ROOT/locks/                                       flock files
//! ```
//!
//! Every open [`Store`] holds a shared lock on `locks/gc.lock`; garbage
//! collection upgrades it to exclusive, so GC never runs while another
//! process may be between writing a blob and tagging it.

mod archive;
mod blobs;
mod cache_prune;
pub mod descriptor;
pub mod digest;
pub mod fsutil;
mod gc;
mod index;
pub mod lock;
mod pipe;
mod snapshot;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use archive::{save_archive, ArchiveFormat, ArchiveImage};
pub use blobs::BlobWriter;
pub use cache_prune::{CacheEntry, CacheKind, CachePolicy, CachePruneReport};
pub use descriptor::{Descriptor, Platform};
pub use digest::Digest;
pub use gc::{GcRoots, PruneReport};
pub use index::ImageEntry;
pub use snapshot::{decompress, Extractor};

/// Environment variable overriding the default store root.
pub const ROOT_ENV: &str = "BUILDER_ROOT";

/// An open store. Cheap to share by reference across threads.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    gc_lock: lock::FileLock,
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

    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        for d in ["blobs/sha256", "snapshots", "cache/roots", "tmp", "locks"] {
            let p = root.join(d);
            fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        }
        // Absolute from here on: overlay options and snapshot paths must not
        // depend on the process's (or a mount thread's) working directory.
        let root =
            &fs::canonicalize(root).with_context(|| format!("resolving {}", root.display()))?;
        let gc_lock = lock::shared(&root.join("locks/gc.lock"))?;
        let store = Store {
            root: root.to_path_buf(),
            gc_lock,
        };
        let layout = root.join("oci-layout");
        if !layout.exists() {
            fsutil::write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)?;
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

    /// The directory for temp files that are renamed into the store (same
    /// filesystem, so the rename is atomic).
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
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
