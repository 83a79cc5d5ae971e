//! Path resolution confined to a root directory.
//!
//! A Dockerfile's destination path and every symlink in the image are
//! resolved as if the root were `/`: `..` stops at the root and an absolute
//! symlink target restarts at the root, so no write ever lands outside it.
//! (The same rule as Docker's `FollowSymlinkInScope`; written here because the
//! crates that do this (`pathrs`) need a C library and whole-fd APIs we don't use.)

use std::ffi::OsStr;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed before giving up, as Linux's own limit.
const MAX_SYMLINKS: usize = 40;

/// Resolves `path` (absolute or relative to `/`) inside `root`, following
/// symlinks within the root. When `follow_last` is false a final symlink is
/// returned as is (for creating or replacing it). The result may not exist.
pub fn resolve_in_root(root: &Path, path: &str, follow_last: bool) -> io::Result<PathBuf> {
    let mut pending: Vec<PathBufComponent> = split(path);
    pending.reverse();
    // `resolved` holds the components below root, all of which exist or are the last.
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    let mut hops = 0;
    while let Some(component) = pending.pop() {
        match component {
            PathBufComponent::Parent => {
                resolved.pop();
            }
            PathBufComponent::Normal(name) => {
                let mut candidate = root.to_path_buf();
                candidate.extend(resolved.iter());
                candidate.push(&name);
                let is_last = pending.is_empty();
                match std::fs::symlink_metadata(&candidate) {
                    Ok(meta) if meta.file_type().is_symlink() && (follow_last || !is_last) => {
                        hops += 1;
                        if hops > MAX_SYMLINKS {
                            return Err(io::Error::other(format!(
                                "too many levels of symbolic links resolving {path}"
                            )));
                        }
                        let target = std::fs::read_link(&candidate)?;
                        if target.is_absolute() {
                            resolved.clear();
                        }
                        let mut more = split_path(&target);
                        more.reverse();
                        pending.extend(more);
                    }
                    _ => resolved.push(name),
                }
            }
        }
    }
    let mut out = root.to_path_buf();
    out.extend(resolved.iter());
    Ok(out)
}

#[derive(Debug)]
enum PathBufComponent {
    Parent,
    Normal(std::ffi::OsString),
}

fn split(path: &str) -> Vec<PathBufComponent> {
    split_path(Path::new(path))
}

fn split_path(path: &Path) -> Vec<PathBufComponent> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBufComponent::Normal(n.to_os_string())),
            Component::ParentDir => Some(PathBufComponent::Parent),
            _ => None,
        })
        .collect()
}

/// Joins a path relative to a root after lexical cleaning (no symlink
/// resolution): `..` never climbs above the root.
pub fn join_clean(root: &Path, path: &str) -> PathBuf {
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn dotdot_stops_at_root() {
        let dir = tempfile::tempdir().unwrap();
        let p = resolve_in_root(dir.path(), "../../etc/passwd", true).unwrap();
        assert_eq!(p, dir.path().join("etc/passwd"));
    }

    #[test]
    fn absolute_symlink_restarts_at_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("real")).unwrap();
        symlink("/real", dir.path().join("link")).unwrap();
        let p = resolve_in_root(dir.path(), "/link/file", true).unwrap();
        assert_eq!(p, dir.path().join("real/file"));
    }

    #[test]
    fn escaping_relative_symlink_is_confined() {
        let dir = tempfile::tempdir().unwrap();
        symlink("../../../../tmp", dir.path().join("evil")).unwrap();
        let p = resolve_in_root(dir.path(), "evil/x", true).unwrap();
        assert_eq!(p, dir.path().join("tmp/x"));
    }

    #[test]
    fn last_symlink_kept_unless_followed() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/target", dir.path().join("l")).unwrap();
        assert_eq!(
            resolve_in_root(dir.path(), "l", false).unwrap(),
            dir.path().join("l")
        );
        assert_eq!(
            resolve_in_root(dir.path(), "l", true).unwrap(),
            dir.path().join("target")
        );
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        assert!(resolve_in_root(dir.path(), "a/x", true).is_err());
    }

    #[test]
    fn join_clean_confines() {
        assert_eq!(
            join_clean(Path::new("/r"), "/a/../../b"),
            PathBuf::from("/r/b")
        );
    }
}
