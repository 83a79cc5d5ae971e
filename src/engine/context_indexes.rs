//! One metadata index per build-context directory (`ROOT/cache/context-index.d/<id>`, the id
//! a hash of the directory's path), opened when a step first digests that context's files
//! and saved when the build ends. A single index for every context made each build read and
//! write the entries of every project the store ever built (1.5 MB and 10,000 `lstat`s per
//! 10,000 files of other contexts, even for a build that copies nothing). At most
//! [`KEEP`] index files are kept (the least recently written go first): a context sent on
//! stdin is a new temp dir each time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use crate::context::MetadataIndex;

/// Index files kept in the store.
const KEEP: usize = 32;

/// The build's open indexes, by context directory.
pub(crate) struct ContextIndexes {
    dir: PathBuf,
    /// Context dir → (its index file, the index).
    open: Mutex<HashMap<PathBuf, (PathBuf, MetadataIndex)>>,
}

impl ContextIndexes {
    /// Indexes kept under `cache_dir`.
    pub fn new(cache_dir: &Path) -> Self {
        ContextIndexes {
            dir: cache_dir.join("context-index.d"),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on the index of the context at `root`, opened (or started empty: an index
    /// that cannot be read is only a cache) the first time.
    pub fn with<T>(&self, root: &Path, f: impl FnOnce(&mut MetadataIndex) -> T) -> T {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (_, index) = open.entry(root.to_path_buf()).or_insert_with(|| {
            let id = hex::encode(&Sha256::digest(root.as_os_str().as_encoded_bytes())[..16]);
            let file = self.dir.join(id);
            let index = MetadataIndex::open(&file).unwrap_or_else(|_| MetadataIndex::in_memory());
            (file, index)
        });
        f(index)
    }

    /// Saves every index this build opened (temp files in the dir `temp_dir` gives), then
    /// removes the oldest index files past [`KEEP`] and the single index of older versions.
    /// Best effort: an index only speeds later builds up.
    pub fn save_all(&self, temp_dir: impl Fn() -> Option<PathBuf>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.is_empty() {
            return;
        }
        let _ = std::fs::create_dir_all(&self.dir);
        for (file, index) in open.values_mut() {
            let _ = index.save_via(&temp_dir);
            // An index saved unchanged is still in use: it must not look old.
            let _ = std::fs::File::options()
                .append(true)
                .open(file)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        }
        let _ = std::fs::remove_file(self.dir.with_file_name("context-index"));
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .flatten()
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if files.len() > KEEP {
            files.sort();
            for (_, path) in &files[..files.len() - KEEP] {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
