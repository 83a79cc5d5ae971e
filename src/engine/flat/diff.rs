//! The layer of a step at the chroot level: the materialised root is
//! recorded (lstat of every entry, xattrs, link targets) before the step and
//! walked again after it; what changed is written as an overlayfs upper dir
//! (changed entries with their parent dirs copied up, 0:0 character devices
//! for deletions, the opaque xattr on dirs that were replaced), so the
//! layer writer turns it into exactly the tar level 1's overlay produces.
//!
//! Stat fields decide first. Content is compared only when everything but
//! the ctime is equal (a file rewritten with the same size and mtime, or
//! written and restored), against the snapshot file it was copied from.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::layer::whiteout_files;

use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use super::tree::{self, Links, Sources};

/// Top-level dirs never part of a layer: at level 1 they are mounts.
const SKIPPED: [&[u8]; 3] = [b"dev", b"proc", b"sys"];

/// What is recorded of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    kind: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// Identity: device, inode and birth time (inodes are reused).
    id: (u64, u64, Option<u128>),
    nlink: u64,
    rdev: u64,
    link: Option<Vec<u8>>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Stat {
    fn of(path: &Path, meta: &fs::Metadata) -> io::Result<Stat> {
        let btime = meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        let is_link = meta.file_type().is_symlink();
        Ok(Stat {
            kind: meta.mode() & libc::S_IFMT,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            id: (meta.dev(), meta.ino(), btime),
            nlink: meta.nlink(),
            rdev: meta.rdev(),
            link: if is_link {
                Some(fs::read_link(path)?.as_os_str().as_bytes().to_vec())
            } else {
                None
            },
            xattrs: tree::content_xattrs(path)?,
        })
    }

    fn is_dir(&self) -> bool {
        self.kind == libc::S_IFDIR
    }
}

/// Every entry of a root (but `/dev`, `/proc`, `/sys`), by relative path.
pub type State = BTreeMap<Vec<u8>, Stat>;

/// Records `root`.
pub fn record(root: &Path) -> io::Result<State> {
    let mut state = State::new();
    walk(root, &[], &mut state)?;
    Ok(state)
}

fn walk(dir: &Path, rel: &[u8], state: &mut State) -> io::Result<()> {
    for (name, path, meta) in tree::entries(dir)? {
        if rel.is_empty() && SKIPPED.contains(&name.as_slice()) {
            continue;
        }
        let r = join(rel, &name);
        state.insert(r.clone(), Stat::of(&path, &meta)?);
        if meta.is_dir() {
            walk(&path, &r, state)?;
        }
    }
    Ok(())
}

fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut r = rel.to_vec();
    if !r.is_empty() {
        r.push(b'/');
    }
    r.extend_from_slice(name);
    r
}

fn parent(rel: &[u8]) -> &[u8] {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => &rel[..i],
        None => &[],
    }
}

fn os(rel: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(rel))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Same,
    Changed,
    /// A dir where there was another dir or a non-dir: opaque.
    Replaced,
}

fn compare(root: &Path, rel: &[u8], b: &Stat, a: &Stat, sources: &Sources) -> io::Result<Change> {
    let same_id = b.id == a.id;
    if a.is_dir() {
        if !b.is_dir() || !same_id {
            return Ok(Change::Replaced);
        }
        let same = (b.mode, b.uid, b.gid, b.mtime, &b.xattrs)
            == (a.mode, a.uid, a.gid, a.mtime, &a.xattrs);
        return Ok(if same { Change::Same } else { Change::Changed });
    }
    let same = same_id
        && (
            b.kind, b.mode, b.uid, b.gid, b.size, b.mtime, b.nlink, b.rdev,
        ) == (
            a.kind, a.mode, a.uid, a.gid, a.size, a.mtime, a.nlink, a.rdev,
        )
        && b.link == a.link
        && b.xattrs == a.xattrs;
    if !same {
        return Ok(Change::Changed);
    }
    if b.ctime == a.ctime || b.kind != libc::S_IFREG {
        return Ok(Change::Same);
    }
    // Only the ctime moved: the content decides.
    match sources.get(rel) {
        Some(src) => Ok(if same_content(src, &root.join(os(rel)))? {
            Change::Same
        } else {
            Change::Changed
        }),
        None => Ok(Change::Changed),
    }
}

/// Byte-for-byte equality of two files (of equal size, checked already).
fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Writes what changed in `root` since `before` into the empty dir `upper`
/// in overlayfs' format. `sources` says where `before`'s files came from.
pub fn diff(root: &Path, before: &State, sources: &Sources, upper: &Path) -> io::Result<()> {
    let after = record(root)?;
    let mut replaced: HashSet<Vec<u8>> = HashSet::new();
    let under = |rel: &[u8], replaced: &HashSet<Vec<u8>>| {
        let mut p = parent(rel);
        while !p.is_empty() {
            if replaced.contains(p) {
                return true;
            }
            p = parent(p);
        }
        false
    };
    // (rel, opaque) to copy, and whiteouts.
    let mut copies: Vec<(Vec<u8>, bool)> = Vec::new();
    for (rel, a) in &after {
        let change = if under(rel, &replaced) {
            Change::Changed
        } else {
            match before.get(rel) {
                None => Change::Changed,
                Some(b) => compare(root, rel, b, a, sources)?,
            }
        };
        match change {
            Change::Same => {}
            Change::Changed => copies.push((rel.clone(), false)),
            Change::Replaced => {
                replaced.insert(rel.clone());
                copies.push((rel.clone(), true));
            }
        }
    }
    let mut whiteouts = Vec::new();
    for rel in before.keys() {
        if after.contains_key(rel) {
            continue;
        }
        let p = parent(rel);
        let parent_kept = p.is_empty()
            || (after.get(p).is_some_and(Stat::is_dir)
                && !replaced.contains(p)
                && !under(p, &replaced));
        if parent_kept {
            whiteouts.push(rel.clone());
        }
    }
    write_upper(root, upper, &copies, &whiteouts)
}

fn write_upper(
    root: &Path,
    upper: &Path,
    copies: &[(Vec<u8>, bool)],
    whiteouts: &[Vec<u8>],
) -> io::Result<()> {
    let mut dirs: BTreeMap<Vec<u8>, ()> = BTreeMap::new();
    let mut links = Links::new();
    let ensure_parents = |rel: &[u8], dirs: &mut BTreeMap<Vec<u8>, ()>| -> io::Result<()> {
        let mut chain = Vec::new();
        let mut p = parent(rel);
        while !p.is_empty() && !dirs.contains_key(p) {
            chain.push(p.to_vec());
            p = parent(p);
        }
        for d in chain.into_iter().rev() {
            let src = root.join(os(&d));
            let meta = fs::symlink_metadata(&src)?;
            tree::copy_dir(&src, &meta, &upper.join(os(&d)))?;
            dirs.insert(d, ());
        }
        Ok(())
    };
    for (rel, opaque) in copies {
        ensure_parents(rel, &mut dirs)?;
        let src = root.join(os(rel));
        let dst = upper.join(os(rel));
        let meta = fs::symlink_metadata(&src)?;
        if meta.is_dir() {
            tree::copy_dir(&src, &meta, &dst)?;
            if *opaque && whiteout_files::enabled() {
                whiteout_file(&dst.join(os(whiteout_files::OPAQUE)))?;
            } else if *opaque {
                crate::layer::xattrs::set(
                    &dst,
                    crate::layer::xattrs::opaque_xattr().to_bytes(),
                    b"y",
                )?;
            }
            dirs.insert(rel.clone(), ());
        } else {
            tree::copy_entry(&src, &meta, &dst, &mut links)?;
        }
    }
    for rel in whiteouts {
        ensure_parents(rel, &mut dirs)?;
        if whiteout_files::enabled() {
            let (dir, name) = match rel.iter().rposition(|&b| b == b'/') {
                Some(i) => (&rel[..i], &rel[i + 1..]),
                None => (&rel[..0], &rel[..]),
            };
            whiteout_file(
                &upper
                    .join(os(dir))
                    .join(os(&whiteout_files::file_name(name))),
            )?;
            continue;
        }
        mknod(
            &upper.join(os(rel)),
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )?;
    }
    // Children are in place: now the dirs' mtimes, deepest first.
    for d in dirs.keys().rev() {
        let meta = fs::symlink_metadata(root.join(os(d)))?;
        tree::set_mtime(&upper.join(os(d)), &meta)?;
    }
    Ok(())
}

/// An empty 0600 file owned by 0:0: a whiteout or opaque marker in a store
/// on overlayfs (see `layer::whiteout_files`).
fn whiteout_file(path: &Path) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    std::os::unix::fs::lchown(path, Some(0), Some(0))
}
