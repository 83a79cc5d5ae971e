//! Overlay mounts for steps that change files in this process (COPY, ADD,
//! WORKDIR): the mount lives in a private mount namespace of one dedicated
//! thread, so it disappears with that thread whatever happens, and the host's
//! mount table never sees it. The mount itself is `sandbox::overlay::mount`,
//! the one mechanism every overlay goes through (any depth, repeated lower
//! dirs).

use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// Mounts `overlay(lower = lowers (top first), upper, work)` and calls `f`
/// with the merged root, in a dedicated thread with its own mount namespace
/// (see [`with_overlays`]). With no lower layers an empty directory stands in.
pub fn with_overlay<R, F>(lowers: &[PathBuf], upper: &Path, work: &Path, f: F) -> io::Result<R>
where
    F: FnOnce(&Path) -> io::Result<R> + Send,
    R: Send,
{
    let spec = OverlaySpec {
        lowers: lowers.to_vec(),
        upper: Some(upper.to_path_buf()),
    };
    with_overlays(&[spec], work, |roots| f(&roots[0]))
}

/// One overlay to mount: read-only (`upper == None`, for reading another
/// stage's files) or writable.
#[derive(Debug, Clone)]
pub struct OverlaySpec {
    /// Snapshot dirs, top first (may be empty).
    pub lowers: Vec<PathBuf>,
    /// The upper dir for a writable mount.
    pub upper: Option<PathBuf>,
}

/// Mounts every spec (in one private mount namespace of a dedicated
/// thread) and calls `f` with their merged roots, in order.
pub fn with_overlays<R, F>(specs: &[OverlaySpec], scratch_parent: &Path, f: F) -> io::Result<R>
where
    F: FnOnce(&[PathBuf]) -> io::Result<R> + Send,
    R: Send,
{
    if crate::sandbox::isolation::copies() {
        return with_copies(specs, scratch_parent, f);
    }
    let specs = specs.to_vec();
    let scratch_parent = scratch_parent.to_path_buf();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS).map_err(io::Error::from)?;
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )
                .map_err(io::Error::from)?;
                let scratch = tempfile::Builder::new()
                    .prefix("builder-ovl-")
                    .tempdir_in(&scratch_parent)?;
                let empty = scratch.path().join("e");
                std::fs::create_dir(&empty)?;
                let mut roots = Vec::new();
                for (i, spec) in specs.iter().enumerate() {
                    let merged = scratch.path().join(format!("m{i}"));
                    std::fs::create_dir(&merged)?;
                    let mut lowers = spec.lowers.clone();
                    let work = scratch.path().join(format!("w{i}"));
                    let upper = match &spec.upper {
                        Some(upper) => {
                            if lowers.is_empty() {
                                lowers.push(empty.clone());
                            }
                            std::fs::create_dir(&work)?;
                            Some((upper, &work))
                        }
                        None => {
                            // A read-only overlay needs two distinct lower
                            // dirs: the chain (repeats count once) plus
                            // empty ones.
                            lowers = crate::sandbox::overlay::distinct_lowers(&lowers);
                            lowers.push(empty.clone());
                            if lowers.len() < 2 {
                                let second = scratch.path().join(format!("e{i}"));
                                std::fs::create_dir(&second)?;
                                lowers.push(second);
                            }
                            None
                        }
                    };
                    crate::sandbox::overlay::mount(&lowers, upper, &merged).map_err(|e| {
                        io::Error::other(format!("mounting overlay for a step: {e:#}"))
                    })?;
                    roots.push(merged);
                }
                let result = f(&roots);
                for root in roots.iter().rev() {
                    let _ = nix::mount::umount2(root, nix::mount::MntFlags::MNT_DETACH);
                }
                result
            })
            .join()
            .map_err(|_| io::Error::other("the overlay worker thread panicked"))?
    })
}

/// [`with_overlays`] without mounts (the chroot level, a store on
/// overlayfs): each root is a
/// materialised copy of its chain, and a writable one's changes are
/// diffed into its upper dir in overlayfs' format afterwards.
pub fn with_copies<R, F>(specs: &[OverlaySpec], scratch_parent: &Path, f: F) -> io::Result<R>
where
    F: FnOnce(&[PathBuf]) -> io::Result<R>,
{
    let scratch = tempfile::Builder::new()
        .prefix("builder-flat-")
        .tempdir_in(scratch_parent)?;
    let mut flats = Vec::new();
    let mut roots = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let root = scratch.path().join(format!("m{i}"));
        if spec.upper.is_some() {
            let flat = super::flat::Flat::prepare(&spec.lowers, &root)?;
            flats.push((spec.upper.clone(), flat));
        } else {
            // Read-only: hard links to the snapshots' files, no copy.
            std::fs::create_dir(&root)?;
            super::flat::tree::materialise_view(&spec.lowers, &root)?;
        }
        roots.push(root);
    }
    let result = f(&roots)?;
    for (upper, flat) in &flats {
        if let Some(upper) = upper {
            flat.diff_into(upper)?;
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_land_in_upper_and_deletes_become_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("l");
        let upper = dir.path().join("u");
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::create_dir(&upper).unwrap();
        std::fs::write(lower.join("etc/old"), b"x").unwrap();
        with_overlay(std::slice::from_ref(&lower), &upper, dir.path(), |root| {
            assert!(root.join("etc/old").exists());
            std::fs::write(root.join("etc/new"), b"y")?;
            std::fs::remove_file(root.join("etc/old"))
        })
        .unwrap();
        assert_eq!(std::fs::read(upper.join("etc/new")).unwrap(), b"y");
        let wh = std::fs::symlink_metadata(upper.join("etc/old")).unwrap();
        assert_eq!(wh.rdev(), 0, "whiteout is a 0:0 char device");
        assert!(lower.join("etc/old").exists(), "lower untouched");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains("builder-ovl-"),
            "no mount leaks into the process"
        );
    }

    #[test]
    fn scratch_has_an_empty_lower() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().join("u");
        std::fs::create_dir(&upper).unwrap();
        with_overlay(&[], &upper, dir.path(), |root| {
            std::fs::write(root.join("f"), b"1")
        })
        .unwrap();
        assert!(upper.join("f").exists());
    }
}
