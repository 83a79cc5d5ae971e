//! The context as BuildKit's build sees it: the directory filtered through
//! `.dockerignore`.
//!
//! BuildKit transfers the context through a filtering walker and runs COPY on
//! the result. We do not copy; we answer the same questions against the
//! directory directly: does a path exist in the filtered view, and what does a
//! walk of a subtree yield. The rules are the walker's: a path excluded by the
//! ignore rules is absent, except that an excluded directory still appears
//! (before its children) when something inside it is re-included by a `!`
//! pattern; an excluded directory is not even read when no `!` pattern could
//! apply inside it.

use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::error::{ContextError, Result};
use super::pattern::{MatchInfo, PatternMatcher};

/// Symlinks followed while resolving one path before giving up (as BuildKit).
const MAX_SYMLINKS: usize = 255;

/// A read-only filtered view over a context directory.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub root: &'a Path,
    pub ignore: &'a PatternMatcher,
    /// The build context a client sends (see [`super::BuildContext::stage_root`]).
    pub sent: bool,
    /// The paths of it the build reads, when known (see
    /// [`super::BuildContext::limit_to_read_paths`]).
    pub follow: Option<&'a PatternMatcher>,
}

/// A path that exists in the filtered view.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    /// Context-relative, `/`-separated, empty for the root.
    pub rel: Vec<u8>,
    pub abs: PathBuf,
    pub meta: Metadata,
    /// Ignore results of this path, for walking below it.
    pub info: MatchInfo,
}

/// One entry produced by [`View::walk`].
pub(crate) struct Node<'e> {
    /// Context-relative path.
    pub rel: &'e [u8],
    /// Path relative to the walk's base.
    pub sub: &'e [u8],
    pub abs: &'e Path,
    pub meta: &'e Metadata,
    /// 1 for children of the base.
    pub depth: usize,
}

/// What the walk callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// Do not descend into this directory (same as `Continue` for non-directories).
    SkipDir,
    /// End the walk.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctl {
    Continue,
    /// Skip the rest of the directory at this depth.
    SkipTo(usize),
    Stop,
}

struct Pending {
    depth: usize,
    emitted: bool,
    data: Option<(Vec<u8>, PathBuf, Metadata)>,
}

struct WalkState {
    rel: Vec<u8>,
    abs: PathBuf,
    base_len: usize,
    pending: Vec<Pending>,
}

fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

fn lstat(path: &Path) -> Result<Option<Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(ContextError::io(path, e)),
    }
}

fn push_component(rel: &mut Vec<u8>, abs: &mut PathBuf, name: &[u8]) {
    if !rel.is_empty() {
        rel.push(b'/');
    }
    rel.extend_from_slice(name);
    abs.push(std::ffi::OsStr::from_bytes(name));
}

/// A context path resolved by [`View::resolve_traced`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The path with every symlink followed, relative to the root (empty: the root).
    pub path: Vec<u8>,
    /// A symlink before the last component pointed at the root itself.
    pub through_root_link: bool,
}

/// How many components deep `target`, read from the directory `dir` (components below
/// the root), lands once cleaned lexically (Go's `path.Clean`; `..` stops at the root).
fn lexical_depth(dir: &[Vec<u8>], target: &[u8]) -> usize {
    let mut depth = dir.len();
    for comp in target.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => depth = depth.saturating_sub(1),
            _ => depth += 1,
        }
    }
    depth
}

impl<'a> View<'a> {
    /// Looks `rel` up without following a final symlink. `None` when it does
    /// not exist or is hidden by the ignore rules.
    pub fn lookup(&self, rel: &[u8]) -> Result<Option<Located>> {
        let mut info = MatchInfo::default();
        let mut cur_rel = Vec::with_capacity(rel.len());
        let mut abs = self.root.to_path_buf();
        let comps: Vec<&[u8]> = rel
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        if comps.is_empty() {
            let Some(meta) = lstat(self.root)? else {
                return Ok(None);
            };
            return Ok(Some(Located {
                rel: Vec::new(),
                abs,
                meta,
                info,
            }));
        }
        let last = comps.len() - 1;
        for (i, comp) in comps.iter().enumerate() {
            push_component(&mut cur_rel, &mut abs, comp);
            let Some(meta) = lstat(&abs)? else {
                return Ok(None);
            };
            let is_dir = meta.is_dir();
            if i < last && !is_dir {
                return Ok(None);
            }
            let (matched, next) = self.ignore.matches_with_parent(&cur_rel, &info);
            info = next;
            if matched && (!is_dir || self.ignore.can_skip_dir(&cur_rel)) {
                return Ok(None);
            }
            if i == last {
                let located = Located {
                    rel: cur_rel,
                    abs,
                    meta,
                    info,
                };
                if matched && !self.has_visible_descendant(&located)? {
                    return Ok(None);
                }
                return Ok(Some(located));
            }
        }
        // Not reached: the last component always returns above.
        Ok(None)
    }

    /// Whether an (excluded) directory contains anything re-included.
    fn has_visible_descendant(&self, dir: &Located) -> Result<bool> {
        let mut found = false;
        self.walk(dir, &mut |_| {
            found = true;
            Ok(Flow::Stop)
        })?;
        Ok(found)
    }

    /// Resolves a context path (`/`-separated, relative to the root; `..`
    /// cannot leave the root) following symlinks as if the context root were
    /// `/`: absolute link targets start again at the root. Missing components
    /// end resolution and the rest is appended lexically, like BuildKit's
    /// `fs.RootPath`.
    pub fn resolve(&self, path: &[u8], shown: &str) -> Result<Vec<u8>> {
        Ok(self.resolve_traced(path, shown)?.path)
    }

    /// [`View::resolve`], also telling what BuildKit's checksum walk (`contenthash`,
    /// `getFollowLinks`) trips on for a literal source: a symlink met before the last
    /// component whose target is the root itself (`up -> ..`, `-> /`, `-> .` at the top).
    /// BuildKit 0.13 then finds nothing below it (`COPY up/etc/group` fails
    /// `"/up/etc/group": not found`, context and stage sources alike), while a link to
    /// the root as the last component, or the same prefix of a wildcard source, works.
    pub fn resolve_traced(&self, path: &[u8], shown: &str) -> Result<Resolved> {
        let mut through_root_link = false;
        let mut remaining: std::collections::VecDeque<Vec<u8>> = path
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .map(|c| c.to_vec())
            .collect();
        let mut resolved: Vec<Vec<u8>> = Vec::new();
        let mut links = 0;
        let mut exists = true;
        while let Some(comp) = remaining.pop_front() {
            if comp == b".." {
                resolved.pop();
                continue;
            }
            if !exists {
                resolved.push(comp);
                continue;
            }
            resolved.push(comp);
            let candidate = resolved.join(&b'/');
            match self.lookup(&candidate)? {
                None => exists = false,
                Some(loc) if loc.meta.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(ContextError::SymlinkLoop {
                            path: shown.to_string(),
                            last: remaining.is_empty(),
                        });
                    }
                    let target =
                        std::fs::read_link(&loc.abs).map_err(|e| ContextError::io(&loc.abs, e))?;
                    let target = target.into_os_string().into_vec();
                    resolved.pop();
                    if target.starts_with(b"/") {
                        resolved.clear();
                    }
                    if !remaining.is_empty() && lexical_depth(&resolved, &target) == 0 {
                        through_root_link = true;
                    }
                    for comp in target.split(|b| *b == b'/').rev() {
                        if !comp.is_empty() && comp != b"." {
                            remaining.push_front(comp.to_vec());
                        }
                    }
                }
                Some(_) => {}
            }
        }
        Ok(Resolved {
            path: resolved.join(&b'/'),
            through_root_link,
        })
    }

    /// Walks everything below `base` that the filtered view contains, in
    /// lexical order, parents before children. Returns true if stopped.
    pub fn walk(
        &self,
        base: &Located,
        cb: &mut dyn FnMut(&Node<'_>) -> Result<Flow>,
    ) -> Result<bool> {
        if !base.meta.is_dir() {
            return Ok(false);
        }
        let base_len = if base.rel.is_empty() {
            0
        } else {
            base.rel.len() + 1
        };
        let mut st = WalkState {
            rel: base.rel.clone(),
            abs: base.abs.clone(),
            base_len,
            pending: Vec::new(),
        };
        Ok(self.walk_dir(&mut st, &base.info, 0, cb)? == Ctl::Stop)
    }

    fn walk_dir(
        &self,
        st: &mut WalkState,
        info: &MatchInfo,
        depth: usize,
        cb: &mut dyn FnMut(&Node<'_>) -> Result<Flow>,
    ) -> Result<Ctl> {
        // The entries keep the directory open: each is stat'ed relative to it
        // (`DirEntry::metadata`: fstatat/statx on the dir's fd, not following a
        // symlink), one name to resolve instead of the whole path from `/`.
        let mut names: Vec<(OsString, bool, std::fs::DirEntry)> = Vec::new();
        let rd = std::fs::read_dir(&st.abs).map_err(|e| ContextError::io(&st.abs, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| ContextError::io(&st.abs, e))?;
            let is_dir = entry
                .file_type()
                .map_err(|e| ContextError::io(&entry.path(), e))?
                .is_dir();
            names.push((entry.file_name(), is_dir, entry));
        }
        names.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (name, is_dir, entry) in names {
            let (rel_len, saved_abs) = (st.rel.len(), st.abs.as_os_str().len());
            push_component(&mut st.rel, &mut st.abs, name.as_bytes());
            let result = self.visit(st, info, depth + 1, (is_dir, &entry), cb);
            st.rel.truncate(rel_len);
            truncate_path(&mut st.abs, saved_abs);
            match result? {
                Ctl::Continue => {}
                Ctl::SkipTo(d) if d == depth => return Ok(Ctl::Continue),
                other => return Ok(other),
            }
        }
        Ok(Ctl::Continue)
    }

    fn visit(
        &self,
        st: &mut WalkState,
        parent: &MatchInfo,
        depth: usize,
        (is_dir, entry): (bool, &std::fs::DirEntry),
        cb: &mut dyn FnMut(&Node<'_>) -> Result<Flow>,
    ) -> Result<Ctl> {
        let lstat = |abs: &Path| match entry.metadata() {
            Ok(m) => Ok(Some(m)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(ContextError::io(abs, e)),
        };
        let (matched, info) = if is_dir {
            self.ignore.matches_with_parent(&st.rel, parent)
        } else {
            (
                self.ignore.matches_with_parent_leaf(&st.rel, parent),
                MatchInfo::default(),
            )
        };
        if matched {
            if !is_dir || self.ignore.can_skip_dir(&st.rel) {
                return Ok(Ctl::Continue);
            }
            // Excluded directory: it appears only if something below is re-included.
            let Some(meta) = lstat(&st.abs)? else {
                return Ok(Ctl::Continue);
            };
            st.pending.push(Pending {
                depth,
                emitted: false,
                data: Some((st.rel.clone(), st.abs.clone(), meta)),
            });
            let r = self.walk_dir(st, &info, depth, cb);
            st.pending.pop();
            return r;
        }
        if let Some(ctl) = self.flush_pending(st, cb)? {
            return Ok(ctl);
        }
        let Some(meta) = lstat(&st.abs)? else {
            return Ok(Ctl::Continue);
        };
        let node = Node {
            rel: &st.rel,
            sub: &st.rel[st.base_len..],
            abs: &st.abs,
            meta: &meta,
            depth,
        };
        match cb(&node)? {
            Flow::Stop => return Ok(Ctl::Stop),
            Flow::SkipDir => return Ok(Ctl::Continue),
            Flow::Continue => {}
        }
        if meta.is_dir() {
            st.pending.push(Pending {
                depth,
                emitted: true,
                data: None,
            });
            let r = self.walk_dir(st, &info, depth, cb);
            st.pending.pop();
            return r;
        }
        Ok(Ctl::Continue)
    }

    /// Emits excluded ancestor directories that turned out to contain something visible.
    fn flush_pending(
        &self,
        st: &mut WalkState,
        cb: &mut dyn FnMut(&Node<'_>) -> Result<Flow>,
    ) -> Result<Option<Ctl>> {
        for i in 0..st.pending.len() {
            if st.pending[i].emitted {
                continue;
            }
            st.pending[i].emitted = true;
            let depth = st.pending[i].depth;
            let Some((rel, abs, meta)) = st.pending[i].data.as_ref() else {
                continue;
            };
            let node = Node {
                rel,
                sub: &rel[st.base_len..],
                abs,
                meta,
                depth,
            };
            match cb(&node)? {
                Flow::Continue => {}
                Flow::SkipDir => return Ok(Some(Ctl::SkipTo(depth))),
                Flow::Stop => return Ok(Some(Ctl::Stop)),
            }
        }
        Ok(None)
    }
}

/// Shortens a path buffer back to a previous length (undoing `push`).
fn truncate_path(path: &mut PathBuf, len: usize) {
    let mut bytes = std::mem::take(path).into_os_string().into_vec();
    bytes.truncate(len);
    *path = PathBuf::from(OsString::from_vec(bytes));
}
