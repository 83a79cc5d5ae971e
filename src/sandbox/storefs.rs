//! The store on an overlay filesystem (a container's own root, when no
//! volume is mounted for it): detected when the store is opened, and then
//! served by copies instead of overlay mounts.
//!
//! overlayfs cannot be the upper dir of another overlay (the kernel refuses
//! it: "filesystem … not supported as upperdir", EINVAL), and it refuses to
//! create its own whiteouts (`mknod` of a 0:0 character device: EPERM).
//! So in such a store ([`crate::layer::whiteout_files`]) snapshots keep
//! whiteouts and opaque markers as the OCI layer form's `.wh.` files, and
//! every step works on a materialised copy of its chain and finds its layer
//! by diffing (`engine::flat`, the chroot level's mechanism), while RUN keeps
//! whatever isolation the level gives (namespaces at levels 1 and 2, with the
//! copy bound as its root). Why this over a tmpfs for upper dirs:
//! docs/architecture.md.

use std::path::Path;

pub use crate::layer::whiteout_files::{fs_magic, on_overlayfs, OVERLAYFS_SUPER_MAGIC};

/// The `builder info` line about the store's filesystem.
pub fn report(root: &Path) -> String {
    let usable = if crate::layer::whiteout_files::needed(root) {
        "overlayfs: steps work on copies of the stage's files and layers are found by \
         diffing (as at the chroot level; RUN keeps the level's namespaces), snapshots keep \
         whiteouts as .wh. files; a volume for the store makes steps faster (overlay mounts)"
    } else {
        "not overlayfs: overlay mounts at the namespaces and rootless levels"
    };
    match fs_magic(root) {
        Some(m) => format!("store filesystem: {m:#x} ({usable})\n"),
        None => "store filesystem: unknown (no existing ancestor)\n".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_does_not_exist_yet_takes_its_ancestors_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("a/b/store");
        assert_eq!(fs_magic(&missing), fs_magic(dir.path()));
        assert!(fs_magic(&missing).is_some());
    }

    #[test]
    fn a_store_on_proc_is_not_taken_for_overlayfs() {
        // /proc has PROC_SUPER_MAGIC everywhere.
        assert_eq!(fs_magic(Path::new("/proc/self")), Some(0x9fa0));
        assert!(!on_overlayfs(Path::new("/proc/self")));
        assert!(report(Path::new("/proc/self/nonexistent")).contains("not overlayfs"));
    }
}
