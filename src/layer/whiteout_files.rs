//! Snapshots with whiteouts as files: the form every snapshot of a store
//! on overlayfs takes (a container's own root with no volume for the
//! store). overlayfs refuses to create its own whiteouts (`mknod` of a 0:0
//! character device: EPERM), so there a deleted `NAME` is an empty regular
//! file `.wh.NAME` (mode 0600, owner 0:0) and an opaque directory holds an
//! empty `.wh..wh..opq`: the OCI layer form itself. Such snapshots are never
//! overlay lowers (every step of that store works on copies, `engine::flat`);
//! extraction writes them, the flat diff writes its upper dirs in that form,
//! and every reader (the layer writer, materialisation, USER lookups)
//! accepts both forms, so the layers are the same bytes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);

/// The opaque-directory marker file.
pub const OPAQUE: &[u8] = b".wh..wh..opq";

/// Makes this process write snapshots with whiteout files (set once, when
/// the store is found on overlayfs).
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether this process writes whiteouts and opaque markers as files.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

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

/// Whether the store at `root` needs this form: its snapshots or its temp
/// area (where upper dirs are made before being renamed into snapshots) on
/// overlayfs.
pub fn needed(root: &Path) -> bool {
    [root.to_path_buf(), root.join("tmp"), root.join("snapshots")]
        .iter()
        .any(|d| on_overlayfs(d))
}

/// The name a `.wh.` file deletes, if `name` is a whiteout file's name
/// (not the opaque marker nor other AUFS metadata, `.wh..wh.*`).
pub fn target(name: &[u8]) -> Option<&[u8]> {
    name.strip_prefix(b".wh.")
        .filter(|t| !t.is_empty() && !t.starts_with(b".wh.") && *t != b"." && *t != b"..")
}

/// `.wh.NAME` for `name`.
pub fn file_name(name: &[u8]) -> Vec<u8> {
    [&b".wh."[..], name].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(target(b".wh.passwd"), Some(&b"passwd"[..]));
        assert_eq!(target(b".wh..wh..opq"), None);
        assert_eq!(target(b".wh..wh.plnk"), None);
        assert_eq!(target(b".wh."), None);
        assert_eq!(target(b"passwd"), None);
        assert_eq!(file_name(b"x"), b".wh.x");
    }
}
