//! What a delta must hold, found by reading the new layer's tar and the base layer's tar side by
//! side instead of opening every file of the base snapshot and walking it for removals.
//!
//! Both tars must be in the writers' order ([`super::layer_order`]: depth first, each directory's
//! entries by name bytes, every entry after its parent directory's entry), which every layer
//! builder writes has; a tar out of that order, with whiteouts, or with an entry whose parent is
//! not a directory entry before it is refused (the caller then compares against the base
//! snapshot's files, as before). A merge of the two sorted entry lists then gives, in one pass
//! over ~2× the layer's bytes (page cache) and no system call per file:
//!
//! - `same`: non-directories whose type, mode, owner, whole-second mtime, size, xattrs, link
//!   target, device number and content equal the base entry at the same path (a hard link only
//!   when its target is `same` too: then the base joins the two names already);
//! - `same_dirs`: directories whose mode, owner, mtime and xattrs equal the base's, so the delta
//!   need not hold them unless something below them is written (overlayfs shows the base's);
//! - `gone`: the topmost base paths the layer lacks (each needs a whiteout); base entries under a
//!   path the layer holds as a non-directory are hidden by it and need none.
//!
//! The base snapshot is an extraction of the base tar (snapshots are never written through),
//! so "equal to the base tar's entry" is "equal to the base snapshot's file".

use std::collections::HashSet;
use std::io::Read;

use anyhow::{bail, Context, Result};
use tar::EntryType;

use super::entry_meta::{read_meta, Meta};
use super::root::clean;

/// The result of [`plan_delta`]: which entries of the new layer a delta can leave to its base.
#[derive(Debug, Default)]
pub struct DeltaPlan {
    /// Non-directory paths (components joined by `/`) equal to the base's.
    pub(super) same: HashSet<Vec<u8>>,
    /// Directory paths whose own metadata equals the base's.
    pub(super) same_dirs: HashSet<Vec<u8>>,
    /// Topmost base paths the layer lacks, as components, in tar order.
    pub(super) gone: Vec<Vec<Vec<u8>>>,
}

/// One tar entry's identity: everything a snapshot keeps of it except a regular file's bytes.
#[derive(PartialEq, Eq)]
struct Head {
    kind: EntryType,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    size: u64,
    link: Option<Vec<u8>>,
    dev: (Option<u32>, Option<u32>),
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Reads one tar's entries in order, checking the order rules of the module docs.
struct Cursor<'a, R: Read> {
    entries: tar::Entries<'a, R>,
    /// Every path seen so far that is a directory (the root included), for the parent rule.
    dirs: HashSet<Vec<Vec<u8>>>,
    last: Vec<Vec<u8>>,
    what: &'static str,
}

type Item<'a, R> = (Vec<Vec<u8>>, Head, tar::Entry<'a, R>);

impl<'a, R: Read> Cursor<'a, R> {
    fn new(archive: &'a mut tar::Archive<R>, what: &'static str) -> Result<Self> {
        let mut dirs = HashSet::new();
        dirs.insert(Vec::new());
        Ok(Cursor {
            entries: archive.entries().context("reading layer tar")?,
            dirs,
            last: Vec::new(),
            what,
        })
    }

    fn next(&mut self) -> Result<Option<Item<'a, R>>> {
        for entry in self.entries.by_ref() {
            let mut entry = entry.with_context(|| format!("reading the {} tar", self.what))?;
            let kind = entry.header().entry_type();
            if kind == EntryType::XGlobalHeader {
                continue;
            }
            let raw = entry.path_bytes().into_owned();
            let Some(comps) = clean(&raw) else {
                bail!("the {} tar has an entry outside its root", self.what);
            };
            if comps.is_empty() {
                continue; // "./": the snapshot's root is the store's
            }
            if comps.last().is_some_and(|n| n.starts_with(b".wh.")) {
                bail!("the {} tar holds whiteouts", self.what);
            }
            if comps <= self.last {
                bail!("the {} tar is not in layer order", self.what);
            }
            if !self.dirs.contains(&comps[..comps.len() - 1]) {
                bail!("an entry of the {} tar precedes its directory", self.what);
            }
            if kind == EntryType::Directory {
                self.dirs.insert(comps.clone());
            }
            self.last = comps.clone();
            let Meta {
                mode,
                uid,
                gid,
                mtime,
                xattrs,
            } = read_meta(&mut entry)?;
            let h = entry.header();
            let head = Head {
                kind,
                mode,
                uid,
                gid,
                mtime,
                size: if kind == EntryType::Directory {
                    0
                } else {
                    entry.size()
                },
                link: entry.link_name_bytes().map(|l| l.into_owned()),
                dev: (
                    h.device_major().ok().flatten(),
                    h.device_minor().ok().flatten(),
                ),
                xattrs,
            };
            return Ok(Some((comps, head, entry)));
        }
        Ok(None)
    }
}

/// Compares the layer `new` with `base` (both uncompressed tars; see the module docs).
/// Errors when either tar breaks the order rules or cannot be read.
pub fn plan_delta<N: Read, B: Read>(new: N, base: B) -> Result<DeltaPlan> {
    let (mut na, mut ba) = (tar::Archive::new(new), tar::Archive::new(base));
    let mut news = Cursor::new(&mut na, "new")?;
    let mut bases = Cursor::new(&mut ba, "base")?;
    let mut plan = DeltaPlan::default();
    // Base paths whose subtree needs no whiteouts (gone whole, or hidden by a non-dir).
    let mut hidden: Option<Vec<Vec<u8>>> = None;
    let mut b = bases.next()?;
    let (mut nbuf, mut bbuf) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    while let Some((comps, head, mut entry)) = news.next()? {
        // Base entries before this one are not in the new layer.
        while let Some((bc, bh, _)) = &b {
            if *bc >= comps {
                break;
            }
            if !hidden.as_ref().is_some_and(|h| bc.starts_with(h)) {
                plan.gone.push(bc.clone());
                if bh.kind == EntryType::Directory {
                    hidden = Some(bc.clone());
                }
            }
            b = bases.next()?;
        }
        let key = comps.join(&b'/');
        let Some((_, bh, mut bentry)) = b.take_if(|(bc, _, _)| *bc == comps) else {
            continue; // new: written
        };
        if head.kind == EntryType::Directory {
            if head == bh {
                plan.same_dirs.insert(key);
            }
        } else {
            if bh.kind == EntryType::Directory {
                // This non-dir hides the base's whole subtree.
                hidden = Some(comps.clone());
            }
            let same = head == bh
                && match head.kind {
                    EntryType::Regular | EntryType::Continuous => {
                        same_content(&mut entry, &mut bentry, head.size, &mut nbuf, &mut bbuf)?
                    }
                    EntryType::Link => {
                        let target = head.link.as_deref().and_then(clean).map(|t| t.join(&b'/'));
                        target.is_some_and(|t| plan.same.contains(&t))
                    }
                    // Sparse entries' streams are not their files' bytes.
                    EntryType::GNUSparse => false,
                    _ => true,
                };
            if same {
                plan.same.insert(key);
            }
        }
        drop(bentry);
        b = bases.next()?;
    }
    // The rest of the base is past the new tar's last entry.
    while let Some((bc, bh, _)) = b {
        if !hidden.as_ref().is_some_and(|h| bc.starts_with(h)) {
            if bh.kind == EntryType::Directory {
                hidden = Some(bc.clone());
            }
            plan.gone.push(bc);
        }
        b = bases.next()?;
    }
    Ok(plan)
}

/// Whether two entries of `size` bytes hold the same bytes.
fn same_content(
    a: &mut impl Read,
    b: &mut impl Read,
    size: u64,
    abuf: &mut [u8],
    bbuf: &mut [u8],
) -> Result<bool> {
    let mut left = size;
    while left > 0 {
        let n = abuf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        a.read_exact(&mut abuf[..n])
            .context("reading the new layer tar")?;
        b.read_exact(&mut bbuf[..n])
            .context("reading the base layer tar")?;
        if abuf[..n] != bbuf[..n] {
            return Ok(false);
        }
        left -= n as u64;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, Option<&[u8]>, u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            h.set_mtime(1_000);
            match data {
                Some(d) => {
                    h.set_size(d.len() as u64);
                    h.set_cksum();
                    b.append_data(&mut h, name, *d).unwrap();
                }
                None => {
                    h.set_entry_type(EntryType::Directory);
                    h.set_size(0);
                    h.set_cksum();
                    b.append_data(&mut h, name, &[][..]).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    fn keys(s: &HashSet<Vec<u8>>) -> Vec<String> {
        let mut v: Vec<String> = s
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn same_changed_gone_and_hidden() {
        let base = tar_of(&[
            ("a/", None, 0o755),
            ("a/f", Some(b"one"), 0o644),
            ("a/g", Some(b"two"), 0o644),
            ("a/m", Some(b"mode"), 0o644),
            ("b/", None, 0o755),
            ("b/x", Some(b"x"), 0o644),
            ("c/", None, 0o755),
            ("c/y", Some(b"y"), 0o644),
            ("z", Some(b"z"), 0o644),
        ]);
        let new = tar_of(&[
            ("a/", None, 0o755),
            ("a/f", Some(b"one"), 0o644),
            ("a/g", Some(b"TWO"), 0o644),
            ("a/m", Some(b"mode"), 0o600),
            ("c", Some(b"now a file"), 0o644),
            ("n/", None, 0o700),
            ("n/new", Some(b"new"), 0o644),
        ]);
        let p = plan_delta(&new[..], &base[..]).unwrap();
        assert_eq!(keys(&p.same), ["a/f"]);
        assert_eq!(keys(&p.same_dirs), ["a"]);
        let gone: Vec<String> = p
            .gone
            .iter()
            .map(|c| String::from_utf8_lossy(&c.join(&b'/')).into_owned())
            .collect();
        // b's child needs no whiteout of its own; c/y is hidden by the file c.
        assert_eq!(gone, ["b", "z"]);
    }

    #[test]
    fn out_of_order_is_refused() {
        let t = tar_of(&[("b", Some(b"b"), 0o644), ("a", Some(b"a"), 0o644)]);
        let ok = tar_of(&[("a", Some(b"a"), 0o644)]);
        let e = plan_delta(&t[..], &ok[..]).unwrap_err();
        assert!(format!("{e:#}").contains("layer order"), "{e:#}");
        let orphan = tar_of(&[("d/x", Some(b"x"), 0o644)]);
        assert!(plan_delta(&orphan[..], &ok[..]).is_err());
    }
}
