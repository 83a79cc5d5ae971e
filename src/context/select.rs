//! COPY/ADD source selection with BuildKit's rules.
//!
//! For each source (already expanded by the Dockerfile layer):
//! 1. it is normalised as an absolute path inside the context (`../x` and
//!    `/x` both mean `<context>/x`: nothing can escape);
//! 2. with `--parents`, an optional `/./` splits it into the pivot (copied
//!    from) and a pattern of paths to keep below it, with their parents;
//! 3. the first path component holding a wildcard splits off a Go
//!    `filepath.Match` pattern, matched against the filtered context below the
//!    literal prefix (a matching directory is not descended into); a wildcard
//!    matching nothing in an existing directory (or below a file) selects
//!    nothing, but a literal prefix that is missing is an error (`lstat
//!    /missing: no such file or directory`), and so is one of the build
//!    context that Docker's client would not send, since nothing the build
//!    reads is in or below it (see `BuildContext::limit_to_read_paths`); a
//!    literal path that is missing is an error `"/path": not found`;
//! 4. each match is resolved following symlinks (so a symlink named as a
//!    source is copied as its target), and a directory contributes its
//!    contents; symlinks inside a copied directory stay symlinks;
//! 5. `--exclude` patterns (Docker's pattern matcher) apply to paths relative
//!    to each match; the match itself is never excluded, exactly as BuildKit.
//!
//! Entries come out in the order BuildKit copies them: lexical, parents first.

use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

use super::error::{ContextError, Result};
use super::gomatch::{clean_path, contains_wildcards, go_match};
use super::pattern::{MatchInfo, PatternMatcher};
use super::view::{Flow, Located, Node, View};

/// Options of one COPY/ADD instruction that affect which files it reads.
#[derive(Debug, Clone, Default)]
pub struct SelectOptions {
    /// `--exclude` patterns, relative to each copied source.
    pub excludes: Vec<String>,
    /// `--parents`: keep each path relative to the context (or to a `/./` pivot).
    pub parents: bool,
}

/// The type of a file in the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (copied as a link).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
}

impl FileKind {
    /// Classifies `lstat` metadata.
    pub fn of(meta: &Metadata) -> FileKind {
        let ft = meta.file_type();
        if ft.is_dir() {
            FileKind::Dir
        } else if ft.is_symlink() {
            FileKind::Symlink
        } else if ft.is_fifo() {
            FileKind::Fifo
        } else if ft.is_char_device() {
            FileKind::CharDevice
        } else if ft.is_block_device() {
            FileKind::BlockDevice
        } else if ft.is_socket() {
            FileKind::Socket
        } else {
            FileKind::File
        }
    }

    /// A stable one-byte tag for digests.
    pub(crate) fn tag(self) -> u8 {
        match self {
            FileKind::File => b'f',
            FileKind::Dir => b'd',
            FileKind::Symlink => b'l',
            FileKind::Fifo => b'p',
            FileKind::CharDevice => b'c',
            FileKind::BlockDevice => b'b',
            FileKind::Socket => b's',
        }
    }
}

/// One filesystem entry to create under the destination.
#[derive(Debug, Clone)]
pub struct SelectedEntry {
    /// Absolute path in the context to read from.
    pub path: PathBuf,
    /// Path to create, relative to the destination directory.
    pub dest: PathBuf,
    /// Its type (symlinks below a copied directory are not followed).
    pub kind: FileKind,
    /// `lstat` metadata (mode, owner, size, times, inode for hard links).
    pub metadata: Metadata,
    /// The link target for symlinks.
    pub link_target: Option<PathBuf>,
    /// A regular file's content sha256, once [`super::digest::digest_sources`] knows it
    /// (from the metadata index or by reading the file): what lets a COPY's layer take the
    /// bytes from its previous layer instead of opening the file (see `layer::previous`).
    pub digest: Option<[u8; 32]>,
}

/// One path a source resolved to (one per wildcard match).
#[derive(Debug, Clone)]
pub struct SourceMatch {
    /// The matched path relative to the context, before following symlinks
    /// (`/`-separated, empty for the root).
    pub rel: PathBuf,
    /// Its file name: what a single file is called when copied into a directory.
    pub name: OsString,
    /// Absolute path after following symlinks.
    pub path: PathBuf,
    /// Type after following symlinks: a `Dir` contributes its contents, anything
    /// else is a single entry named [`Self::name`] (the engine writes it to the
    /// destination itself when that is not a directory, like `COPY a.txt /b`).
    pub kind: FileKind,
    /// Metadata after following symlinks.
    pub metadata: Metadata,
    /// The match is the root of what it was selected from once symlinks are followed
    /// (`.`, or a link to `.` or `/`).
    pub is_root: bool,
    /// What to create, in copy order.
    pub entries: Vec<SelectedEntry>,
}

/// The resolution of one source argument.
#[derive(Debug, Clone)]
pub struct SelectedSource {
    /// The source as written in the Dockerfile.
    pub source: String,
    /// The normalised path it was resolved as (`/dir/*.txt`; with
    /// `--parents`, the pivot directory).
    pub normalized: String,
    /// Whether it contained a wildcard.
    pub wildcard: bool,
    /// Matches in lexical order (empty for a wildcard matching nothing).
    pub matches: Vec<SourceMatch>,
}

impl SelectedSource {
    /// All entries of all matches, in copy order.
    pub fn entries(&self) -> impl Iterator<Item = &SelectedEntry> {
        self.matches.iter().flat_map(|m| m.entries.iter())
    }
}

/// Normalises a source like BuildKit's `system.NormalizePath("/", src)`.
pub(crate) fn normalize(src: &str) -> String {
    if src.starts_with('/') {
        clean_path(src)
    } else {
        clean_path(&format!("/{src}"))
    }
}

/// Splits a normalised path at its first wildcard component.
pub(crate) fn split_wildcards(path: &str) -> (String, String) {
    let mut literal = Vec::new();
    let mut pattern = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if pattern.is_empty() && !contains_wildcards(part) {
            literal.push(part);
        } else {
            pattern.push(part);
        }
    }
    (format!("/{}", literal.join("/")), pattern.join("/"))
}

fn rel_of(normalized: &str) -> &[u8] {
    normalized.trim_start_matches('/').as_bytes()
}

fn read_link_of(meta: &Metadata, path: &std::path::Path) -> Result<Option<PathBuf>> {
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(|e| ContextError::io(path, e))?;
        Ok(Some(target))
    } else {
        Ok(None)
    }
}

/// Resolves sources against a filtered context.
pub(crate) fn resolve_sources(
    view: View<'_>,
    sources: &[String],
    opts: &SelectOptions,
) -> Result<Vec<SelectedSource>> {
    let excludes = if opts.excludes.is_empty() {
        None
    } else {
        Some(
            PatternMatcher::new(&opts.excludes).map_err(|source| ContextError::Pattern {
                origin: "--exclude".to_string(),
                source,
            })?,
        )
    };
    sources
        .iter()
        .map(|src| resolve_one(view, src, opts, excludes.as_ref()))
        .collect()
}

fn resolve_one(
    view: View<'_>,
    source: &str,
    opts: &SelectOptions,
    excludes: Option<&PatternMatcher>,
) -> Result<SelectedSource> {
    let mut src = source.to_string();
    let mut include = None;
    if opts.parents {
        let (pivot, pattern) = match source.split_once("/./") {
            Some((pivot, pattern)) => (pivot.to_string(), pattern.to_string()),
            None => ("/".to_string(), source.to_string()),
        };
        let pattern = normalize(&pattern);
        let include_pattern = pattern.trim_start_matches('/').to_string();
        if !contains_wildcards(&pivot) && !contains_wildcards(&pattern) {
            // A literal path must exist (BuildKit's required paths).
            let required = normalize(&format!("{pivot}/{include_pattern}"));
            let rel = view.resolve(rel_of(&required), &required)?;
            if view.lookup(&rel)?.is_none() {
                return Err(ContextError::NotFound { path: required });
            }
        }
        include = Some(PatternMatcher::new(&[include_pattern]).map_err(|source| {
            ContextError::Pattern {
                origin: "--parents source".to_string(),
                source,
            }
        })?);
        src = pivot;
    }
    let normalized = normalize(&src);
    let (literal, pattern) = split_wildcards(&normalized);
    let wildcard = !pattern.is_empty();

    // The unresolved context-relative paths this source names.
    let mut roots: Vec<Vec<u8>> = Vec::new();
    if wildcard {
        let base_rel = view.resolve(rel_of(&literal), &normalized)?;
        let shown = || format!("/{}", String::from_utf8_lossy(&base_rel));
        match view.lookup(&base_rel)? {
            Some(base) => {
                // A file there matches nothing (BuildKit walks it as a root).
                if base.meta.is_dir() {
                    roots = match_wildcard(view, &base, &pattern, &normalized)?;
                }
                if roots.is_empty() && !sent(view, &base)? {
                    return Err(ContextError::WildcardBaseMissing { path: shown() });
                }
            }
            None => return Err(ContextError::WildcardBaseMissing { path: shown() }),
        }
    } else {
        roots.push(rel_of(&normalized).to_vec());
    }

    let mut matches = Vec::with_capacity(roots.len());
    for root in roots {
        let shown = format!("/{}", String::from_utf8_lossy(&root));
        let traced = view.resolve_traced(&root, &shown)?;
        if traced.through_root_link && !wildcard {
            return Err(ContextError::NotFound { path: shown });
        }
        let resolved = traced.path;
        let Some(located) = view.lookup(&resolved)? else {
            let path = missing_name(view, &root, &resolved, shown)?;
            return Err(ContextError::NotFound { path });
        };
        let name = root
            .rsplit(|b| *b == b'/')
            .next()
            .map(|n| OsString::from_vec(n.to_vec()))
            .unwrap_or_default();
        let kind = FileKind::of(&located.meta);
        let entries = if kind == FileKind::Dir {
            copy_walk(view, &located, include.as_ref(), excludes)?
        } else {
            vec![SelectedEntry {
                path: located.abs.clone(),
                dest: PathBuf::from(&name),
                kind,
                metadata: located.meta.clone(),
                link_target: None,
                digest: None,
            }]
        };
        matches.push(SourceMatch {
            is_root: resolved.is_empty(),
            rel: PathBuf::from(OsString::from_vec(root)),
            name,
            path: located.abs,
            kind,
            metadata: located.meta,
            entries,
        });
    }
    Ok(SelectedSource {
        source: source.to_string(),
        normalized,
        wildcard,
        matches,
    })
}

/// The path a missing source is reported by, as BuildKit's checksum walk names it: a
/// source that is itself a symlink (through any chain) whose target is missing is
/// named by that target (`COPY dangling` -> `"/nowhere": not found`); a source missing
/// below its (resolved) parent directory is named as written (`"/link/missing"`).
fn missing_name(view: View<'_>, root: &[u8], resolved: &[u8], shown: String) -> Result<String> {
    let (parent, last) = match root.iter().rposition(|b| *b == b'/') {
        Some(i) => (&root[..i], &root[i + 1..]),
        None => (&root[..0], root),
    };
    let mut at = view.resolve(parent, &shown)?;
    if !at.is_empty() {
        at.push(b'/');
    }
    at.extend_from_slice(last);
    Ok(match view.lookup(&at)? {
        Some(l) if l.meta.file_type().is_symlink() => {
            format!("/{}", String::from_utf8_lossy(resolved))
        }
        _ => shown,
    })
}

/// Whether `base` is in the context Docker's client sends: a path the build
/// reads is it, above it or below it (a sent path's parents are sent too).
/// Only asked for a wildcard that matched nothing.
fn sent(view: View<'_>, base: &Located) -> Result<bool> {
    let Some(follow) = view.follow.filter(|_| view.sent) else {
        return Ok(true);
    };
    if base.rel.is_empty() || follow.matches_or_parent_matches(&base.rel) {
        return Ok(true);
    }
    let mut found = false;
    view.walk(base, &mut |node: &Node<'_>| {
        found = follow.matches_or_parent_matches(node.rel);
        Ok(if found { Flow::Stop } else { Flow::Continue })
    })?;
    Ok(found)
}

/// Finds paths below `base` matching a Go wildcard pattern, as BuildKit's
/// `resolveWildcards`: the whole relative path must match, and a matching
/// directory is not descended into.
fn match_wildcard(
    view: View<'_>,
    base: &Located,
    pattern: &str,
    shown: &str,
) -> Result<Vec<Vec<u8>>> {
    let pat = pattern.as_bytes();
    go_match(pat, b"").map_err(|_| ContextError::BadWildcard {
        source_path: shown.to_string(),
    })?;
    // `*`, `?` never match `/`, so a match has at most as many `/` as the pattern.
    let max_depth = pat.iter().filter(|b| **b == b'/').count() + 1;
    let mut out = Vec::new();
    view.walk(base, &mut |node: &Node<'_>| {
        let hit = go_match(pat, node.sub).map_err(|_| ContextError::BadWildcard {
            source_path: shown.to_string(),
        })?;
        if hit {
            out.push(node.rel.to_vec());
            return Ok(Flow::SkipDir);
        }
        Ok(if node.depth >= max_depth {
            Flow::SkipDir
        } else {
            Flow::Continue
        })
    })?;
    Ok(out)
}

/// A directory seen by the copy walk whose creation may be deferred.
struct CopyFrame {
    include_info: MatchInfo,
    exclude_info: MatchInfo,
    /// Set until the directory is emitted (created lazily, like BuildKit's
    /// copier, when something inside it is copied).
    pending: Option<SelectedEntry>,
}

/// Lists the contents of a directory match, applying include (`--parents`)
/// and `--exclude` patterns relative to it, with BuildKit copier semantics.
fn copy_walk(
    view: View<'_>,
    root: &Located,
    include: Option<&PatternMatcher>,
    exclude: Option<&PatternMatcher>,
) -> Result<Vec<SelectedEntry>> {
    let mut out = Vec::new();
    let mut stack: Vec<CopyFrame> = Vec::new();
    let no_info = MatchInfo::default();
    let exclude_has_exceptions = exclude.is_some_and(|e| e.has_exclusions());
    view.walk(root, &mut |node: &Node<'_>| {
        stack.truncate(node.depth - 1);
        let (inc_parent, exc_parent) = match stack.last() {
            Some(f) => (&f.include_info, &f.exclude_info),
            None => (&no_info, &no_info),
        };
        let is_dir = node.meta.is_dir();
        let (mut included, include_info) = match include {
            Some(m) => m.matches_with_parent(node.sub, inc_parent),
            None => (true, MatchInfo::default()),
        };
        let (excluded, exclude_info) = match exclude {
            Some(m) => m.matches_with_parent(node.sub, exc_parent),
            None => (false, MatchInfo::default()),
        };
        if excluded {
            included = false;
        }
        if !included && include.is_none() && !exclude_has_exceptions {
            return Ok(Flow::SkipDir);
        }
        let entry = |link_target| SelectedEntry {
            path: node.abs.to_path_buf(),
            dest: PathBuf::from(std::ffi::OsStr::from_bytes(node.sub)),
            kind: FileKind::of(node.meta),
            metadata: node.meta.clone(),
            link_target,
            digest: None,
        };
        if included {
            // Create deferred parents first, outermost first.
            for frame in stack.iter_mut() {
                if let Some(parent) = frame.pending.take() {
                    out.push(parent);
                }
            }
            out.push(entry(read_link_of(node.meta, node.abs)?));
        }
        if !is_dir {
            return Ok(Flow::Continue);
        }
        stack.push(CopyFrame {
            include_info,
            exclude_info,
            pending: if included { None } else { Some(entry(None)) },
        });
        if excluded && !exclude_has_exceptions {
            return Ok(Flow::SkipDir);
        }
        Ok(Flow::Continue)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_confines_to_root() {
        assert_eq!(normalize("a/b"), "/a/b");
        assert_eq!(normalize("./a/"), "/a");
        assert_eq!(normalize("../../etc/passwd"), "/etc/passwd");
        assert_eq!(normalize("/abs/../x"), "/x");
        assert_eq!(normalize("."), "/");
        assert_eq!(normalize(""), "/");
    }

    #[test]
    fn wildcard_split() {
        assert_eq!(
            split_wildcards("/a/b/*.txt"),
            ("/a/b".into(), "*.txt".into())
        );
        assert_eq!(split_wildcards("/a/*/c"), ("/a".into(), "*/c".into()));
        assert_eq!(split_wildcards("/a/b"), ("/a/b".into(), "".into()));
        assert_eq!(split_wildcards("/"), ("/".into(), "".into()));
        assert_eq!(split_wildcards("/a\\*b"), ("/a\\*b".into(), "".into()));
    }
}
