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

use std::io::{Read, Seek};

use memmap2::Mmap;
use rustc_hash::FxHashSet as HashSet;

use anyhow::{bail, Context, Result};
use tar::EntryType;

use super::entry_meta::{read_meta, Meta};
use super::mapped_tar::MappedTar;
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
    /// Non-directory entries of the new layer.
    files: usize,
    /// Regular files of `same`.
    pub(super) same_regular: u64,
    /// The entries of the new tar an extraction must see, as (offset of the entry's first
    /// header, its extension headers included; its path): every directory and every
    /// non-directory not in `same`, in tar order. `None` when the tar holds an entry whose
    /// stored length is not its size (GNU sparse): then every entry is read.
    pub(super) visit: Option<Vec<(u64, Vec<u8>)>>,
}

impl DeltaPlan {
    /// Non-directory entries of the new layer a delta must write (not equal to the base's).
    pub fn rewrites(&self) -> usize {
        self.files.saturating_sub(self.same.len())
    }

    /// Non-directory entries of the new layer.
    pub fn files(&self) -> usize {
        self.files
    }
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
    /// Where the next entry's headers start, and where the last returned entry's did.
    next_start: u64,
    last_start: u64,
    /// Whether a GNU sparse entry was seen (its stored length is not its size).
    sparse: bool,
}

type Item<'a, R> = (Vec<Vec<u8>>, Head, tar::Entry<'a, R>);

impl<'a, R: Read> Cursor<'a, R> {
    fn new(archive: &'a mut tar::Archive<R>, what: &'static str) -> Result<Self> {
        Ok(Self::over(
            archive.entries().context("reading layer tar")?,
            what,
        ))
    }

    fn over(entries: tar::Entries<'a, R>, what: &'static str) -> Self {
        let mut dirs = HashSet::default();
        dirs.insert(Vec::new());
        Cursor {
            entries,
            dirs,
            last: Vec::new(),
            what,
            next_start: 0,
            last_start: 0,
            sparse: false,
        }
    }

    fn next(&mut self) -> Result<Option<Item<'a, R>>> {
        for entry in self.entries.by_ref() {
            let mut entry = entry.with_context(|| format!("reading the {} tar", self.what))?;
            let kind = entry.header().entry_type();
            let start = self.next_start;
            self.next_start = entry.raw_file_position() + entry.size().div_ceil(512) * 512;
            self.sparse |= kind == EntryType::GNUSparse;
            if kind == EntryType::XGlobalHeader {
                continue;
            }
            self.last_start = start;
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
    let news = Cursor::new(&mut na, "new")?;
    let bases = Cursor::new(&mut ba, "base")?;
    let (mut nbuf, mut bbuf) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    merge(news, bases, |n, b, size| {
        same_content(n, b, size, &mut nbuf, &mut bbuf)
    })
}

/// [`plan_delta`] of two tars in memory (the store maps its immutable blobs): headers are
/// read in place, contents compared where they lie and skipped otherwise, so a plan over a
/// 100,000-file layer copies nothing through buffers.
pub fn plan_delta_mapped(new: &Mmap, base: &Mmap) -> Result<DeltaPlan> {
    let mut na = tar::Archive::new(MappedTar::new(new));
    let mut ba = tar::Archive::new(MappedTar::new(base));
    let news = Cursor::over(seek_entries(&mut na)?, "new");
    let bases = Cursor::over(seek_entries(&mut ba)?, "base");
    let (new, base): (&[u8], &[u8]) = (new, base);
    merge(news, bases, |n, b, size| {
        let at_new = content_at(new, n.raw_file_position(), size)?;
        Ok(at_new == content_at(base, b.raw_file_position(), size)?)
    })
}

fn seek_entries<R: Read + Seek>(a: &mut tar::Archive<R>) -> Result<tar::Entries<'_, R>> {
    a.entries_with_seek().context("reading layer tar")
}

/// The `size` bytes at `at` of a mapped tar (an entry's content).
fn content_at(tar: &[u8], at: u64, size: u64) -> Result<&[u8]> {
    let range = usize::try_from(at)
        .ok()
        .zip(usize::try_from(size).ok())
        .and_then(|(a, n)| tar.get(a..a.checked_add(n)?));
    range.context("a layer tar entry's content runs past its end")
}

/// The merge of the two sorted entry lists (see the module docs); `same_bytes` compares two
/// regular entries' contents of the given size.
fn merge<N: Read, B: Read>(
    mut news: Cursor<'_, N>,
    mut bases: Cursor<'_, B>,
    mut same_bytes: impl FnMut(&mut tar::Entry<'_, N>, &mut tar::Entry<'_, B>, u64) -> Result<bool>,
) -> Result<DeltaPlan> {
    let mut plan = DeltaPlan::default();
    // Base paths whose subtree needs no whiteouts (gone whole, or hidden by a non-dir).
    let mut hidden: Option<Vec<Vec<u8>>> = None;
    let mut b = bases.next()?;
    let mut visit = Vec::new();
    while let Some((comps, head, mut entry)) = news.next()? {
        let start = news.last_start;
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
        if head.kind != EntryType::Directory {
            plan.files += 1;
        }
        let key = comps.join(&b'/');
        let Some((_, bh, mut bentry)) = b.take_if(|(bc, _, _)| *bc == comps) else {
            visit.push((start, key)); // new: written
            continue;
        };
        if head.kind == EntryType::Directory {
            visit.push((start, key.clone()));
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
                        same_bytes(&mut entry, &mut bentry, head.size)?
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
                plan.same_regular += u64::from(matches!(
                    head.kind,
                    EntryType::Regular | EntryType::Continuous
                ));
                plan.same.insert(key);
            } else {
                visit.push((start, key));
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
    plan.visit = (!news.sparse).then_some(visit);
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
            (LONG, Some(b"a name past 100 bytes"), 0o644),
            ("n/new", Some(b"new"), 0o644),
        ]);
        let streamed = plan_delta(&new[..], &base[..]).unwrap();
        let mapped = plan_delta_mapped(&map(&new), &map(&base)).unwrap();
        for p in [&streamed, &mapped] {
            check_plan(p);
        }
        // The visits: every dir and every entry not left to the base, each at the offset
        // its entry starts at.
        let visits = mapped.visit.as_ref().unwrap();
        let names: Vec<String> = visits
            .iter()
            .map(|(_, k)| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert_eq!(names, ["a", "a/g", "a/m", "c", "n", LONG, "n/new"]);
        for (at, key) in visits {
            let mut a = tar::Archive::new(&new[*at as usize..]);
            let e = a.entries().unwrap().next().unwrap().unwrap();
            let got = clean(&e.path_bytes()).unwrap().join(&b'/');
            assert_eq!(&got, key);
        }
        assert_eq!(mapped.same_regular, 1);
    }

    /// A name that takes an extension header before the entry's own.
    const LONG: &str = "n/long-name-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

    fn map(bytes: &[u8]) -> Mmap {
        use std::io::Write;
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        unsafe { Mmap::map(&f) }.unwrap()
    }

    fn check_plan(p: &DeltaPlan) {
        assert_eq!(keys(&p.same), ["a/f"]);
        assert_eq!((p.files(), p.rewrites()), (6, 5));
        assert_eq!(keys(&p.same_dirs), ["a"]);
        let gone: Vec<String> = p
            .gone
            .iter()
            .map(|c| String::from_utf8_lossy(&c.join(&b'/')).into_owned())
            .collect();
        // b's child needs no whiteout of its own; c/y is hidden by the file c.
        assert_eq!(gone, ["b", "z"]);
    }

    /// Many entries (more than any buffer of the readers): the merge sees them all.
    #[test]
    fn a_base_of_many_entries() {
        let names: Vec<String> = (0..3000).map(|i| format!("f{i:05}")).collect();
        let entries = |changed: usize| -> Vec<u8> {
            let list: Vec<(&str, Option<&[u8]>, u32)> = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let body: &[u8] = if i == changed { b"new" } else { b"old" };
                    (n.as_str(), Some(body), 0o644)
                })
                .collect();
            tar_of(&list)
        };
        let (base, new) = (entries(usize::MAX), entries(2500));
        let p = plan_delta_mapped(&map(&new), &map(&base)).unwrap();
        assert_eq!((p.files(), p.rewrites(), p.same_regular), (3000, 1, 2999));
        assert!(p.gone.is_empty());
        let visits: Vec<&[u8]> = p
            .visit
            .as_ref()
            .unwrap()
            .iter()
            .map(|(_, k)| &k[..])
            .collect();
        assert_eq!(visits, [b"f02500"]);
    }

    #[test]
    fn out_of_order_is_refused() {
        let t = tar_of(&[("b", Some(b"b"), 0o644), ("a", Some(b"a"), 0o644)]);
        let ok = tar_of(&[("a", Some(b"a"), 0o644)]);
        let e = plan_delta(&t[..], &ok[..]).unwrap_err();
        assert!(format!("{e:#}").contains("layer order"), "{e:#}");
        let e = plan_delta_mapped(&map(&t), &map(&ok)).unwrap_err();
        assert!(format!("{e:#}").contains("layer order"), "{e:#}");
        let e = plan_delta_mapped(&map(&ok), &map(&t)).unwrap_err();
        assert!(
            format!("{e:#}").contains("base tar is not in layer order"),
            "{e:#}"
        );
        let orphan = tar_of(&[("d/x", Some(b"x"), 0o644)]);
        assert!(plan_delta(&orphan[..], &ok[..]).is_err());
        assert!(plan_delta_mapped(&map(&orphan), &map(&ok)).is_err());
        // A tar cut inside an entry's content is an error, not a read past the map.
        let mut cut = tar_of(&[("big", Some(&[7u8; 4000][..]), 0o644)]);
        cut.truncate(512 + 1000);
        assert!(plan_delta_mapped(&map(&cut), &map(&cut)).is_err());
    }
}
