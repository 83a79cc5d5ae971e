//! The overlay path of COPY/ADD: the selected sources are placed into the
//! image's root (a writable overlay whose upper dir becomes the layer) as
//! BuildKit's copier (tonistiigi/fsutil `copy`) places them:
//!
//! * the destination is resolved inside the root following every symlink
//!   (`/bin/` on a merged-/usr image is `/usr/bin/`; a dangling link names
//!   the path it points to), and its missing parents are created as
//!   fsutil's `MkdirAll` does (`mkdir /x: not a directory` across a file);
//! * inside a copied directory nothing is followed: a directory entry that
//!   meets a file, a symlink (even one to a directory) or a device is
//!   `cannot copy to non-directory: /path`, a non-directory entry replaces
//!   any non-directory and meets a directory with
//!   `cannot replace to directory /path with file`.
//!
//! Errors name image paths (`/bin`), not the mount's host paths.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::add::{detect_archive, extract_archive};
use super::copy::{mkdir_all, non_directory, place_entry, set_times, CopyOptions, HardlinkMap};
use crate::context::{FileKind, SelectedSource};

/// One COPY/ADD's sources, as the overlay path places them.
pub struct Placement<'a> {
    /// Resolved sources (context or `--from` root).
    pub selected: &'a [SelectedSource],
    /// Downloaded (ADD URL) and inline (heredoc) files, each placed as a file.
    pub files: &'a [PathBuf],
    /// Absolute destination; a trailing `/` means a directory.
    pub dest: &'a str,
    /// Owner, mode and owner-keeping rules.
    pub opts: &'a CopyOptions,
    /// ADD: local archives are extracted.
    pub unpack: bool,
    /// The sources are the build context's (not a `--from` stage's or image's).
    pub from_context: bool,
}

/// Places everything under `root`; errors name paths inside the image.
pub fn place(root: &Path, p: &Placement<'_>) -> Result<()> {
    place_in(root, p).map_err(|e| anyhow::anyhow!("{}", image_paths(&format!("{e:#}"), root)))
}

fn place_in(root: &Path, p: &Placement<'_>) -> Result<()> {
    let owner = p.opts.owner.unwrap_or((0, 0));
    let mut links = HardlinkMap::disabled();
    for source in p.selected {
        for m in &source.matches {
            if p.unpack && m.kind == FileKind::File {
                if let Some(kind) = detect_archive(&m.path)? {
                    // BuildKit's `unpack`: into the destination resolved and
                    // made a directory, whatever its spelling.
                    let dest = super::fsroot::resolve_in_root(root, p.dest, true)?;
                    mkdir_all(&dest, owner)?;
                    extract_archive(&m.path, kind, &dest)?;
                    continue;
                }
            }
            let dest = prepare(root, p.dest, m.kind == FileKind::Dir, &m.name, owner)?;
            if m.kind == FileKind::Dir {
                // Hardlinks are kept inside one copied directory, never
                // across sources (each is its own copy).
                let mut dir_links = HardlinkMap::default();
                let mut dirs = Vec::new();
                for entry in &m.entries {
                    let target = dest.join(&entry.dest);
                    let keep = entry.dest.as_os_str().is_empty();
                    place_entry(&entry.path, &target, p.opts, &mut dir_links, keep)?;
                    if entry.kind == FileKind::Dir && !keep {
                        dirs.push((target, &entry.metadata));
                    }
                }
                // A directory's timestamps are its source's once its children are in (they
                // changed it), deepest first; the destination, made or existing, ends with
                // the source directory's (fsutil's copier; see `direct_copy::dest_dir_mtime`).
                for (target, meta) in dirs.iter().rev() {
                    set_times(target, meta, p.opts)?;
                }
                if super::direct_copy::dest_dir_mtime(m, p.from_context).is_some() {
                    set_times(&dest, &m.metadata, p.opts)?;
                }
            } else {
                place_entry(&m.path, &dest, p.opts, &mut links, false)?;
            }
        }
    }
    for file in p.files {
        let name = file.file_name().unwrap_or_default();
        let dest = prepare(root, p.dest, false, name, owner)?;
        place_entry(file, &dest, p.opts, &mut links, false)?;
    }
    Ok(())
}

/// Where one source goes, its parents made, as fsutil's `Copy` +
/// `prepareTargetDir` decide for each source in turn: the destination's
/// parent (the destination itself when it ends in `/`) is made first; a
/// directory's contents go into the destination (made when missing, an
/// existing non-directory is `cannot copy to non-directory`); a file goes
/// into the destination when that is a directory *now* (so `COPY a b /x`
/// writes the file `/x` twice, as Docker does), else becomes it.
fn prepare(
    root: &Path,
    dest: &str,
    is_dir: bool,
    name: &OsStr,
    owner: (u32, u32),
) -> Result<PathBuf> {
    let ensure = if dest.ends_with('/') {
        dest
    } else {
        dest.rsplit_once('/').map_or("/", |(parent, _)| parent)
    };
    mkdir_all(&super::fsroot::resolve_in_root(root, ensure, true)?, owner)?;
    let resolved = super::fsroot::resolve_in_root(root, dest, true)?;
    let existing = std::fs::metadata(&resolved).ok();
    if is_dir {
        match std::fs::symlink_metadata(&resolved) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(non_directory(&resolved).into()),
            // Made like a parent (owner of --chown, 0755), never given the
            // source directory's metadata.
            Err(_) => mkdir_all(&resolved, owner)?,
        }
        return Ok(resolved);
    }
    let target = match existing {
        Some(meta) if meta.is_dir() => resolved.join(name),
        _ => resolved,
    };
    if let Some(parent) = target.parent() {
        mkdir_all(parent, owner)?;
    }
    Ok(target)
}

/// `msg` with the host path of the image's root mount taken out of every
/// path in it: `/…/m0/etc/afile` reads `/etc/afile`.
fn image_paths(msg: &str, root: &Path) -> String {
    let root = root.to_string_lossy();
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return msg.to_string();
    }
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(root) {
        let after = &rest[i + root.len()..];
        out.push_str(&rest[..i]);
        match after.chars().next() {
            Some('/') => {}
            None => out.push('/'),
            Some(c) if !(c.is_alphanumeric() || "-_.".contains(c)) => out.push('/'),
            Some(_) => out.push_str(root),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_root_becomes_slash() {
        let root = Path::new("/tmp/step/ovl/m0");
        assert_eq!(
            image_paths("cannot copy to non-directory: /tmp/step/ovl/m0/bin", root),
            "cannot copy to non-directory: /bin"
        );
        assert_eq!(image_paths("at /tmp/step/ovl/m0", root), "at /");
        assert_eq!(image_paths("/ctx/m0x", root), "/ctx/m0x");
        assert_eq!(
            image_paths("/tmp/step/ovl/m01/y and /tmp/step/ovl/m0: x", root),
            "/tmp/step/ovl/m01/y and /: x"
        );
    }
}
