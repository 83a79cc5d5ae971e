//! The store on an overlay filesystem (a container's own root, when no
//! volume is mounted for it).
//!
//! Levels 1 and 2 need two things overlayfs cannot give: RUN/COPY overlays
//! have their upper and work dirs in the store's temp area (the kernel
//! refuses an upper dir on overlayfs: "filesystem … not supported as
//! upperdir", EINVAL), and layer snapshots hold overlay whiteouts, 0:0
//! character devices that overlayfs refuses to create (`mknod`: EPERM).
//! Moving only the upper dirs elsewhere (a tmpfs, `$TMPDIR`) would not be
//! enough: the first deleted file of a layer would still fail to extract
//! into a snapshot, and an upper dir could no longer become its layer's
//! snapshot by a rename. So builder stops before doing any work and says to
//! give the store its own volume. Snapshots used only as lowers would be
//! fine on overlayfs, but every snapshot is someone's upper first.

use std::path::Path;

use anyhow::{bail, Result};

/// `OVERLAYFS_SUPER_MAGIC` from `<linux/magic.h>`.
pub const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// The filesystem magic of `path`, or of its nearest existing ancestor
/// (the store may not exist yet: it will be created there).
// `f_type` is a `long` on x86_64 and aarch64, a 32-bit int elsewhere.
#[allow(clippy::unnecessary_cast)]
pub fn fs_magic(path: &Path) -> Option<i64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    nix::sys::statfs::statfs(existing)
        .ok()
        .map(|s| s.filesystem_type().0 as i64)
}

/// Whether `path` (or where it would be created) is on overlayfs.
pub fn on_overlayfs(path: &Path) -> bool {
    fs_magic(path) == Some(OVERLAYFS_SUPER_MAGIC)
}

/// The store's dirs that hold overlay upper dirs and snapshots.
fn overlay_dirs(root: &Path) -> [std::path::PathBuf; 3] {
    [root.to_path_buf(), root.join("tmp"), root.join("snapshots")]
}

/// Fails, with the fix, when the store at `root` cannot hold overlay upper
/// dirs and snapshots (levels 1 and 2).
pub fn check(root: &Path) -> Result<()> {
    if let Some(dir) = overlay_dirs(root).into_iter().find(|d| on_overlayfs(d)) {
        bail!(
            "the store {} is on an overlay filesystem ({} is on overlayfs, as a container's \
             own root is): overlayfs cannot hold the upper dirs of RUN steps nor the \
             whiteouts of layer snapshots.\nGive the store its own volume: \
             `docker run -v builder-store:/var/lib/builder …` (podman the same; Kubernetes: an \
             emptyDir volume mounted at /var/lib/builder, or at $XDG_DATA_HOME/builder when \
             not root), or point --root / BUILDER_ROOT at a directory on another filesystem.",
            root.display(),
            dir.display()
        );
    }
    Ok(())
}

/// The `builder info` line about the store's filesystem.
pub fn report(root: &Path) -> String {
    let usable = if overlay_dirs(root).iter().any(|d| on_overlayfs(d)) {
        "overlayfs: unusable for builds at the namespaces and rootless levels (mount a \
         volume for the store)"
    } else {
        "not overlayfs: usable"
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
        assert!(check(Path::new("/proc/self/nonexistent")).is_ok());
    }
}
