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
use super::copy::{mkdir_all, non_directory, place_entry, CopyOptions, HardlinkMap};
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
}

/// Places everything under `root`; errors name paths inside the image.
pub fn place(root: &Path, p: &Placement<'_>) -> Result<()> {
    place_in(root, p).map_err(|e| anyhow::anyhow!("{}", image_paths(&format!("{e:#}"), root)))
}

fn place_in(root: &Path, p: &Placement<'_>) -> Result<()> {
    let selected = p.selected;
    let matches: usize = selected.iter().map(|s| s.matches.len()).sum::<usize>() + p.files.len();
    let dest_path = super::fsroot::resolve_in_root(root, p.dest, true)?;
    let dest_is_dir = p.dest.ends_with('/')
        || matches > 1
        || selected.iter().any(|s| s.wildcard)
        || dest_path.is_dir();
    let parent_owner = p.opts.owner.unwrap_or((0, 0));
    let mut links = HardlinkMap::disabled();
    let place_file = |src: &Path, name: &OsStr, links: &mut HardlinkMap| -> Result<()> {
        let target = if dest_is_dir {
            mkdir_all(&dest_path, parent_owner)?;
            dest_path.join(name)
        } else {
            if let Some(parent) = dest_path.parent() {
                mkdir_all(parent, parent_owner)?;
            }
            dest_path.clone()
        };
        place_entry(src, &target, p.opts, links, false)?;
        Ok(())
    };
    for source in selected {
        for m in &source.matches {
            if m.kind == FileKind::Dir {
                // The destination directory is made like a parent (owner
                // of --chown, 0755), never given the source's metadata.
                match std::fs::symlink_metadata(&dest_path) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => return Err(non_directory(&dest_path).into()),
                    Err(_) => mkdir_all(&dest_path, parent_owner)?,
                }
                // Hardlinks are kept inside one copied directory, never
                // across sources (each is its own copy).
                let mut dir_links = HardlinkMap::default();
                for entry in &m.entries {
                    let target = dest_path.join(&entry.dest);
                    let keep = entry.dest.as_os_str().is_empty();
                    place_entry(&entry.path, &target, p.opts, &mut dir_links, keep)?;
                }
            } else if p.unpack && m.kind == FileKind::File {
                match detect_archive(&m.path)? {
                    Some(kind) => {
                        mkdir_all(&dest_path, parent_owner)?;
                        extract_archive(&m.path, kind, &dest_path)?;
                    }
                    None => place_file(&m.path, &m.name, &mut links)?,
                }
            } else {
                place_file(&m.path, &m.name, &mut links)?;
            }
        }
    }
    for file in p.files {
        let name = file.file_name().unwrap_or_default().to_os_string();
        place_file(file, &name, &mut links)?;
    }
    Ok(())
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
