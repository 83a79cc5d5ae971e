//! The build context: the directory (or tar stream) a build reads from,
//! filtered by `.dockerignore`, and the COPY/ADD source selection and content
//! digests built on it.
//!
//! * [`pattern`]: Docker's pattern matcher (`.dockerignore`, `--exclude`).
//! * [`dockerignore`]: reading ignore files, `<Dockerfile>.dockerignore` first.
//! * [`BuildContext::resolve_sources`]: which files a COPY reads, as BuildKit.
//! * [`digest`]: content digests for cache keys with a persistent
//!   metadata index so unchanged files are not read again.
//!
//! This module decides *what* is copied; the engine does the copying.

pub mod digest;
pub mod dockerignore;
pub mod error;
pub mod gomatch;
mod index_file;
pub mod pattern;
pub mod regular;
pub mod select;
pub mod tarball;
mod view;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use digest::{digest_sources, IndexStats, MetadataIndex};
pub use dockerignore::{load_ignore, parse_ignore_file, IgnoreSpec, LoadedIgnore};
pub use error::{ContextError, Result};
pub use pattern::{MatchInfo, PatternError, PatternMatcher};
pub use select::{FileKind, SelectOptions, SelectedEntry, SelectedSource, SourceMatch};

use view::View;

/// A build context ready to answer COPY/ADD source queries.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
    ignore: PatternMatcher,
    ignore_file: Option<PathBuf>,
    /// The build context proper (sent by a client in Docker) rather than a
    /// stage's or image's root; see [`Self::stage_root`].
    sent: bool,
    /// The paths of the context the build reads (see
    /// [`Self::limit_to_read_paths`]); `None`: all of it.
    follow: Option<PatternMatcher>,
    /// Keeps an extracted tar context alive; removed on drop.
    _extracted: Option<tempfile::TempDir>,
}

impl BuildContext {
    /// Uses the directory `path` as the context, with ignore rules from `ignore`.
    pub fn from_dir(path: impl AsRef<Path>, ignore: IgnoreSpec) -> Result<BuildContext> {
        let path = path.as_ref();
        let root = std::fs::canonicalize(path).map_err(|e| ContextError::io(path, e))?;
        if !root.is_dir() {
            return Err(ContextError::NotADirectory(root));
        }
        Self::with_root(root, ignore, None)
    }

    /// Extracts a tar stream (plain, gzip, bzip2, xz or zstd) into a private
    /// temporary directory and uses it as the context. With
    /// [`IgnoreSpec::Auto`], ignore files are looked up inside the archive.
    pub fn from_tar(reader: impl Read, ignore: IgnoreSpec) -> Result<BuildContext> {
        Self::from_tar_in(reader, ignore, &std::env::temp_dir())
    }

    /// Like [`Self::from_tar`], extracting below `parent` (e.g. the state dir,
    /// when the temp dir is small).
    pub fn from_tar_in(
        reader: impl Read,
        ignore: IgnoreSpec,
        parent: &Path,
    ) -> Result<BuildContext> {
        let tmp = tempfile::Builder::new()
            .prefix("builder-context-")
            .tempdir_in(parent)
            .map_err(|e| ContextError::io(parent, e))?;
        tarball::extract(reader, tmp.path())?;
        let root =
            std::fs::canonicalize(tmp.path()).map_err(|e| ContextError::io(tmp.path(), e))?;
        Self::with_root(root, ignore, Some(tmp))
    }

    fn with_root(
        root: PathBuf,
        ignore: IgnoreSpec,
        extracted: Option<tempfile::TempDir>,
    ) -> Result<BuildContext> {
        let loaded = load_ignore(&root, &ignore)?;
        let matcher = dockerignore::build_matcher(&loaded)?;
        Ok(BuildContext {
            root,
            ignore: matcher,
            ignore_file: loaded.source,
            sent: true,
            follow: None,
            _extracted: extracted,
        })
    }

    /// A stage's or image's root file system as the source of `COPY --from`:
    /// no ignore rules, and all of it is there (nothing like a client's
    /// context transfer filters it).
    pub fn stage_root(path: impl AsRef<Path>) -> Result<BuildContext> {
        let mut ctx = Self::from_dir(path, IgnoreSpec::None)?;
        ctx.sent = false;
        Ok(ctx)
    }

    /// Tells the context which of its paths the build reads
    /// ([`crate::plan::context_paths`]; `None`: all), as Docker's client
    /// sends only those (with their parents, and what symlinks on the way
    /// point to). A wildcard source whose directory holds nothing any of
    /// them reaches is then missing, as in Docker. Copied files are never
    /// filtered by this: only which directories exist.
    pub fn limit_to_read_paths(&mut self, paths: Option<Vec<String>>) -> Result<()> {
        let Some(paths) = paths else {
            self.follow = None;
            return Ok(());
        };
        let view = self.view();
        let mut patterns = Vec::new();
        for p in &paths {
            let rel = p.trim_start_matches('/').to_string();
            let (literal, rest) = select::split_wildcards(p);
            patterns.push(rel);
            // A loop is the COPY's own error, reported at its step.
            if let Ok(resolved) = view.resolve(literal.trim_start_matches('/').as_bytes(), p) {
                let resolved = String::from_utf8_lossy(&resolved).into_owned();
                patterns.push(match rest.is_empty() {
                    true => resolved,
                    false if resolved.is_empty() => rest,
                    false => format!("{resolved}/{rest}"),
                });
            }
        }
        patterns.sort();
        patterns.dedup();
        self.follow =
            Some(
                PatternMatcher::new(&patterns).map_err(|source| ContextError::Pattern {
                    origin: "COPY/ADD sources".to_string(),
                    source,
                })?,
            );
        Ok(())
    }

    /// The context directory (absolute, symlinks resolved).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore file in effect, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// The ignore rules in effect.
    pub fn ignore(&self) -> &PatternMatcher {
        &self.ignore
    }

    fn view(&self) -> View<'_> {
        View {
            root: &self.root,
            ignore: &self.ignore,
            sent: self.sent,
            follow: self.follow.as_ref(),
        }
    }

    /// Whether a context-relative path is part of the context (exists and is
    /// not hidden by `.dockerignore`). Symlinks are not followed.
    pub fn contains(&self, rel: &str) -> Result<bool> {
        let norm = select::normalize(rel);
        Ok(self
            .view()
            .lookup(norm.trim_start_matches('/').as_bytes())?
            .is_some())
    }

    /// Resolves COPY/ADD sources (paths relative to the context root, already
    /// variable-expanded) into the entries to copy, with BuildKit's rules; see
    /// [`select`]. A missing literal source fails with
    /// [`ContextError::NotFound`] (`"/foo": not found`).
    pub fn resolve_sources(
        &self,
        sources: &[String],
        opts: &SelectOptions,
    ) -> Result<Vec<SelectedSource>> {
        select::resolve_sources(self.view(), sources, opts)
    }

    /// Lists every path of the context visible through `.dockerignore`
    /// (context-relative, parents before children, lexical order).
    pub fn list(&self) -> Result<Vec<PathBuf>> {
        let sources = self.resolve_sources(&[".".to_string()], &SelectOptions::default())?;
        Ok(sources
            .iter()
            .flat_map(|s| s.entries())
            .map(|e| e.dest.clone())
            .collect())
    }

    /// The regular files of the context as Docker's client sends it to
    /// BuildKit: those `.dockerignore` leaves (the transfer walker's rules,
    /// `!` re-inclusions too) and, once [`Self::limit_to_read_paths`] named
    /// the paths the build reads, only those and what is below them
    /// (BuildKit's `FollowPaths`). Each as (context-relative path, absolute
    /// path), in lexical order. What BuildKit's
    /// `BUILDKIT_SBOM_SCAN_CONTEXT` scan sees of the context.
    pub fn sent_files(&self) -> Result<Vec<(PathBuf, PathBuf)>> {
        use std::os::unix::ffi::OsStrExt as _;
        let view = self.view();
        let Some(root) = view.lookup(b"")? else {
            return Ok(Vec::new());
        };
        let follow = self.follow.as_ref().filter(|_| self.sent);
        let mut out = Vec::new();
        view.walk(&root, &mut |n| {
            if n.meta.is_file() && follow.is_none_or(|f| f.matches_or_parent_matches(n.rel)) {
                let rel = std::ffi::OsStr::from_bytes(n.rel);
                out.push((PathBuf::from(rel), n.abs.to_path_buf()));
            }
            Ok(view::Flow::Continue)
        })?;
        Ok(out)
    }

    /// The content digest of selected sources; see [`digest_sources`]. Each regular
    /// file's entry gets its content digest ([`SelectedEntry::digest`]).
    pub fn digest_sources(
        &self,
        selected: &mut [SelectedSource],
        index: &mut MetadataIndex,
    ) -> Result<String> {
        digest::digest_sources(selected, index)
    }
}
