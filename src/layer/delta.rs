//! Delta extraction: the snapshot of a layer as an overlay *lower* that goes on top of the
//! full snapshot of a similar layer (the previous result of the same COPY/ADD step), holding
//! only what differs from it. The pair `[delta, base]` mounted as two lowers shows exactly
//! the tree a plain extraction of the layer shows:
//!
//! - a regular file equal to the base's at the same path (content byte for byte, mode, owner,
//!   whole-second mtime, size, no xattrs; see `reuse`) is left out, so the base's shows through;
//! - every other entry is extracted as usual (directories always, to hold their children; a
//!   directory over a base non-directory hides it, as overlayfs stops a merge there);
//! - a path of the base the layer does not have gets a whiteout (in the store's form), placed at
//!   the topmost such path only;
//! - a hardlink entry whose target was left out is left out too when the base already joins the
//!   two names, otherwise the target is copied from the base first so the link joins the copy.
//!
//! A layer that itself holds whiteouts is refused (the caller then extracts in full): its
//! whiteouts would mean "hide a lower layer's path", not "hide the base's".

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::stat::{fchmod, futimens, makedev, mkdirat, mknodat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, Gid, Uid};

use super::delta_plan::DeltaPlan;
use super::entry_meta::Meta;
use super::reuse::ReuseStats;
use super::root::Root;
use tar::EntryType;

/// What the layer has at a path (keyed by its real components joined with `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// A directory, made in the delta.
    Dir,
    /// A regular file equal to the base's, left out of the delta.
    Skipped,
    /// Anything else, written into the delta.
    Written,
}

/// The state of one delta extraction.
pub(super) struct Delta {
    base: PathBuf,
    seen: HashMap<Vec<u8>, Seen>,
    /// Whiteouts written for paths of the base the layer does not have.
    pub whiteouts: u64,
    /// What the layer shares with the base, when known from the two tars (see `delta_plan`);
    /// else equal files are found by `reuse` and removals by walking the base.
    plan: Option<DeltaPlan>,
    /// Directories of the layer equal to the base's and not made (yet): made, with this
    /// metadata, only when something below them is written (`make_parents`).
    deferred: HashMap<Vec<u8>, Meta>,
    /// Directories made late, with their mtimes (for the extractor to set last).
    pub made: Vec<(Vec<Vec<u8>>, i64)>,
    /// With a plan: regular files left to the base, and written.
    kept: u64,
    written: u64,
}

fn key(parent: &[Vec<u8>], name: &[u8]) -> Vec<u8> {
    let mut k = parent.join(&b'/');
    if !k.is_empty() {
        k.push(b'/');
    }
    k.extend_from_slice(name);
    k
}

impl Delta {
    pub fn new(base: &Path, plan: Option<DeltaPlan>) -> Delta {
        Delta {
            base: base.to_path_buf(),
            seen: HashMap::new(),
            whiteouts: 0,
            plan,
            deferred: HashMap::new(),
            made: Vec::new(),
            kept: 0,
            written: 0,
        }
    }

    /// The counts of this delta, over those of `reuse` (which found equal files without a plan).
    pub fn stats(&self, reuse: ReuseStats) -> ReuseStats {
        let whiteouts = self.whiteouts;
        match self.plan {
            Some(_) => ReuseStats {
                linked: self.kept,
                written: self.written,
                whiteouts,
                dirs_left: self.deferred.len() as u64,
                from_tars: true,
            },
            None => ReuseStats { whiteouts, ..reuse },
        }
    }

    /// With a plan: `true` when the entry at `comps` is left to the base (an equal
    /// non-directory, or a directory deferred until something below it is written).
    pub fn leave(&mut self, comps: &[Vec<u8>], kind: EntryType, meta: &Meta) -> bool {
        let Some(plan) = &self.plan else {
            return false;
        };
        let Some((name, parent)) = comps.split_last() else {
            return false;
        };
        let key = comps.join(&b'/');
        let regular = matches!(
            kind,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
        );
        if kind == EntryType::Directory {
            if !plan.same_dirs.contains(&key) {
                return false;
            }
            self.deferred.insert(key, meta.clone());
            self.note(parent, name, Seen::Dir);
            return true;
        }
        if !plan.same.contains(&key) {
            self.written += u64::from(regular);
            return false;
        }
        self.kept += u64::from(regular);
        self.note(parent, name, Seen::Skipped);
        true
    }

    /// Makes the deferred directories among `comps` and its ancestors, top down, each with
    /// the layer's metadata (its time is set last, by the extractor, from `made`).
    pub fn make_parents(&mut self, dest: &Root, comps: &[Vec<u8>]) -> Result<()> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        for i in 1..=comps.len() {
            let Some(meta) = self.deferred.remove(&comps[..i].join(&b'/')) else {
                continue;
            };
            let name = &comps[i - 1];
            let parent = dest.open_dir(&comps[..i - 1], false)?;
            match mkdirat(
                &parent.fd,
                OsStr::from_bytes(name),
                Mode::from_bits_truncate(0o700),
            ) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e).context("creating directory"),
            }
            super::entry_meta::apply_meta(&parent.fd, name, &meta, false)?;
            self.made.push((comps[..i].to_vec(), meta.mtime));
        }
        Ok(())
    }

    /// The plan's entries an extraction must read (see `DeltaPlan::visit`), taken; the files
    /// it leaves out are counted as kept. `None` without a plan or visits.
    pub fn take_visits(&mut self) -> Option<Vec<(u64, Vec<u8>)>> {
        let plan = self.plan.as_mut()?;
        let visits = plan.visit.take()?;
        self.kept = plan.same_regular;
        Some(visits)
    }

    /// Records what the layer put at `parent/name`.
    pub fn note(&mut self, parent: &[Vec<u8>], name: &[u8], seen: Seen) {
        self.seen.insert(key(parent, name), seen);
    }

    /// Refuses a layer whiteout (see the module docs).
    pub fn refuse_whiteout(&self) -> Result<()> {
        bail!("a layer with whiteouts is not made as a delta")
    }

    /// Handles a hardlink entry `link` → `target` (both as components) before the extractor
    /// links them: `true` when the base already shows both names as one file (nothing to
    /// do); otherwise a left-out target is copied from the base into `dest` first.
    pub fn hardlink(&mut self, dest: &Root, target: &[Vec<u8>], link: &[Vec<u8>]) -> Result<bool> {
        let (Some((tname, tparent)), Some((lname, lparent))) =
            (target.split_last(), link.split_last())
        else {
            return Ok(false);
        };
        // Left to the base: seen so, or (when only the plan's visits are read) in the plan.
        let tkey = key(tparent, tname);
        let skipped = self.seen.get(&tkey) == Some(&Seen::Skipped)
            || self.plan.as_ref().is_some_and(|p| p.same.contains(&tkey));
        if !skipped {
            return Ok(false);
        }
        let bt = self.base_path(target);
        let bl = self.base_path(link);
        let same = match (
            std::fs::symlink_metadata(&bt),
            std::fs::symlink_metadata(&bl),
        ) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino() && b.is_file(),
            _ => false,
        };
        if same {
            self.note(lparent, lname, Seen::Skipped);
            return Ok(true);
        }
        // Copy the base's file (equal to the target entry, metadata included) into the delta.
        let mut from = File::open(&bt).with_context(|| format!("opening {}", bt.display()))?;
        let st = from.metadata()?;
        self.make_parents(dest, tparent)?;
        let dir = dest.open_dir(tparent, false)?.fd;
        let mut out = create(&dir, tname)?;
        std::io::copy(&mut from, &mut out).context("copying a hardlink target")?;
        super::entry_meta::squash_unmapped(fchown(
            &out,
            Some(Uid::from_raw(st.uid())),
            Some(Gid::from_raw(st.gid())),
        ))
        .context("chown")?;
        fchmod(&out, Mode::from_bits_truncate(st.mode())).context("chmod")?;
        let t = TimeSpec::new(st.mtime(), 0);
        futimens(&out, &t, &t).context("setting mtime")?;
        self.note(tparent, tname, Seen::Written);
        Ok(false)
    }

    fn base_path(&self, comps: &[Vec<u8>]) -> PathBuf {
        let mut p = self.base.clone();
        for c in comps {
            p.push(OsStr::from_bytes(c));
        }
        p
    }

    /// Writes a whiteout into `dest` for every topmost path of the base the layer does not
    /// have. Runs before directory times are set (a new entry moves its dir's mtime).
    pub fn write_whiteouts(&mut self, dest: &Root) -> Result<()> {
        if let Some(plan) = self.plan.as_mut() {
            for comps in std::mem::take(&mut plan.gone) {
                let Some((name, parent)) = comps.split_last() else {
                    continue;
                };
                self.make_parents(dest, parent)?;
                let fd = dest.open_dir(parent, false)?.fd;
                whiteout(&fd, name)?;
                self.whiteouts += 1;
            }
            return Ok(());
        }
        let mut todo: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
        while let Some(dir) = todo.pop() {
            let path = self.base_path(&dir);
            let entries =
                std::fs::read_dir(&path).with_context(|| format!("listing {}", path.display()))?;
            let mut gone = Vec::new();
            for e in entries {
                let e = e?;
                let name = e.file_name().as_bytes().to_vec();
                if name.starts_with(b".wh.") {
                    bail!("the base snapshot holds whiteouts");
                }
                match self.seen.get(&key(&dir, &name)) {
                    None => gone.push(name),
                    Some(Seen::Dir) if e.file_type()?.is_dir() => {
                        let mut sub = dir.clone();
                        sub.push(name);
                        todo.push(sub);
                    }
                    Some(_) => {}
                }
            }
            if gone.is_empty() {
                continue;
            }
            let fd = dest.open_dir(&dir, false)?.fd;
            for name in gone {
                whiteout(&fd, &name)?;
                self.whiteouts += 1;
            }
        }
        Ok(())
    }
}

fn create(dir: &OwnedFd, name: &[u8]) -> Result<File> {
    super::reuse::create(dir, OsStr::from_bytes(name))
}

/// A whiteout for `name` in `dir`, in the form this process writes snapshots in (see
/// `whiteout_files`): a 0:0 character device, or an empty `.wh.NAME` file, owned by 0:0.
fn whiteout(dir: &OwnedFd, name: &[u8]) -> Result<()> {
    let file_form = super::whiteout_files::enabled();
    let n = if file_form {
        super::whiteout_files::file_name(name)
    } else {
        name.to_vec()
    };
    if file_form {
        drop(create(dir, &n)?);
    } else {
        mknodat(
            dir,
            OsStr::from_bytes(&n),
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )
        .context("creating whiteout")?;
    }
    super::entry_meta::squash_unmapped(fchownat(
        dir,
        OsStr::from_bytes(&n),
        Some(Uid::from_raw(0)),
        Some(Gid::from_raw(0)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    ))
    .context("chown of whiteout")?;
    Ok(())
}
