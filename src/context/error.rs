//! Errors of the build context, typed so the engine can tell "not found" apart.

use std::io;
use std::path::{Path, PathBuf};

use super::pattern::PatternError;

/// What can go wrong while reading a build context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A COPY/ADD source does not exist in the context (or is excluded by
    /// `.dockerignore`). Rendered like BuildKit: `"/foo": not found`.
    #[error("{path:?}: not found")]
    NotFound {
        /// The source as normalised (absolute within the context, e.g. `/foo`).
        path: String,
    },
    /// The fixed part of a wildcard source (`missing` in `missing/*.sh`)
    /// does not exist, is excluded, or is not sent by Docker's client
    /// because nothing the build reads is in it: BuildKit walks it and fails
    /// with `lstat /missing: no such file or directory`.
    #[error("lstat {path}: no such file or directory")]
    WildcardBaseMissing {
        /// The fixed part as resolved in the context (symlinks followed).
        path: String,
    },
    /// An ignore, exclude or include pattern is malformed.
    #[error("invalid pattern in {origin}: {source}")]
    Pattern {
        /// Where the pattern came from (a file or a flag).
        origin: String,
        /// What is wrong with it.
        source: PatternError,
    },
    /// A COPY wildcard is malformed.
    #[error("invalid wildcard in COPY source {source_path:?}: syntax error in pattern")]
    BadWildcard {
        /// The normalised source.
        source_path: String,
    },
    /// Following symlinks inside the context did not terminate (more than 255), worded as
    /// BuildKit's checksum walk: a loop at the source's last component names the source
    /// (`too many symlinks: /loop`), one in a parent directory does not (`too many links`).
    #[error("{}", if *.last { format!("too many symlinks: {path}") } else { "too many links".to_string() })]
    SymlinkLoop {
        /// The source being resolved.
        path: String,
        /// The loop is at the last component.
        last: bool,
    },
    /// A tar stream tried to write outside the context directory.
    #[error("build context tar entry {entry:?} escapes the context")]
    UnsafeTarEntry {
        /// The entry name as found in the archive.
        entry: String,
    },
    /// A file read whole (Dockerfile, `.dockerignore`, secret) is not a regular file: reading
    /// a FIFO would block, a device never end.
    #[error("the {what} {} is {kind}, not a regular file", path.display())]
    NotRegular {
        /// Which file ("Dockerfile", ".dockerignore", …).
        what: String,
        /// Its path as given.
        path: PathBuf,
        /// What it is instead ("a FIFO (named pipe)", "a directory", …).
        kind: &'static str,
    },
    /// A file read whole is larger than builder's bound for it.
    #[error("the {what} {} is larger than {limit} bytes (builder's limit)", path.display())]
    TooLarge {
        /// Which file.
        what: String,
        /// Its path as given (`-` for stdin).
        path: PathBuf,
        /// The bound in bytes.
        limit: u64,
    },
    /// The context root is not a directory.
    #[error("build context {0} is not a directory")]
    NotADirectory(PathBuf),
    /// An I/O error on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl ContextError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: &Path, source: io::Error) -> Self {
        ContextError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Shorthand for results in this module.
pub type Result<T, E = ContextError> = std::result::Result<T, E>;
