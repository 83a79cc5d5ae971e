//! Docker's path pattern matcher (the semantics of moby/patternmatcher), used
//! for `.dockerignore`, `COPY --exclude` and `COPY --parents` include patterns.
//!
//! Hand-written on purpose: no crate reproduces Docker's rules. gitignore-style
//! crates differ in ways that change which files reach a build — a pattern
//! without a slash matches at any depth in gitignore but only at the context
//! root here, a trailing `/` means "directory only" there but is cleaned away
//! here, and Docker's `**` / parent-directory / last-match-wins rules are
//! defined by its regex translation, which we mirror:
//!
//! * patterns are cleaned like `filepath.Clean`; `!` marks an exclusion
//!   (re-inclusion) and later patterns override earlier ones;
//! * `*` and `?` never cross `/`, `[...]` is a class, `\` escapes;
//! * `**` matches any number of directories (`**/x`, `x/**`, `a/**/b`);
//! * a pattern that matches a parent directory matches everything below it.

mod compile;
#[cfg(test)]
mod tests;

use compile::{compile, Kind};

use super::gomatch::{clean_path, go_match};

/// A pattern list Docker would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A lone `!`.
    #[error("illegal exclusion pattern: \"!\"")]
    IllegalExclusion,
    /// Malformed wildcard syntax (unclosed `[`, trailing `\`, ...).
    #[error("syntax error in pattern {0:?}")]
    Syntax(String),
}

/// One cleaned pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    /// The pattern after cleaning, without the leading `!`.
    pub fn as_str(&self) -> &str {
        &self.cleaned
    }

    /// Whether this is a `!` re-inclusion.
    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    fn matches(&self, path: &[u8]) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned.as_bytes(),
            Kind::Prefix(prefix) => path.starts_with(prefix.as_bytes()),
            Kind::Suffix(suffix) => {
                let s = suffix.as_bytes();
                path.ends_with(s) || (s.first() == Some(&b'/') && path == &s[1..])
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// Per-pattern results for a directory, handed to its children so a pattern
/// that matched the parent need not be re-evaluated (BuildKit's `MatchInfo`).
/// The empty value means "unknown": parents are then checked by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// An ordered list of patterns; the last one that matches decides.
#[derive(Debug, Clone, Default)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
    /// True when every `!` pattern is a plain path (ignoring a trailing `/*` or
    /// `/**`), so an excluded directory can be skipped unless one of them lies below it.
    only_prefix_exceptions: bool,
    /// Those `!` patterns with their trailing glob removed and a `/` appended.
    exception_prefixes: Vec<String>,
}

impl PatternMatcher {
    /// Builds a matcher like `patternmatcher.New`: blank entries are dropped,
    /// each pattern is cleaned, `!` marks an exclusion.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut out = PatternMatcher {
            only_prefix_exceptions: true,
            ..Default::default()
        };
        for raw in patterns {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            // Docker cleans before looking at `!`, so "!a/../b" loses its `!`.
            let mut p = clean_path(trimmed);
            let mut exclusion = false;
            if let Some(rest) = p.strip_prefix('!') {
                if rest.is_empty() {
                    return Err(PatternError::IllegalExclusion);
                }
                exclusion = true;
                p = rest.to_string();
            }
            if go_match(p.as_bytes(), b".").is_err() {
                return Err(PatternError::Syntax(p));
            }
            let kind = compile(&p).map_err(|_| PatternError::Syntax(p.clone()))?;
            if exclusion {
                out.exclusions = true;
                let trimmed = without_trailing_glob(&p);
                if trimmed.contains(['*', '[', ']', '?', '^', '\\']) {
                    out.only_prefix_exceptions = false;
                }
                out.exception_prefixes.push(format!("{trimmed}/"));
            }
            out.patterns.push(Pattern {
                cleaned: p,
                exclusion,
                kind,
            });
        }
        Ok(out)
    }

    /// True when there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is a `!` exclusion.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// Whether `path` (slash-separated, relative, no leading `/`) is matched,
    /// counting a match of any parent directory (`MatchesOrParentMatches`).
    pub fn matches_or_parent_matches(&self, path: &[u8]) -> bool {
        self.evaluate(path, None, None)
    }

    /// Matches `path` using the parent's results, returning this path's results
    /// for its children (`MatchesUsingParentResults`). This is what BuildKit's
    /// walkers use, and it can differ from [`Self::matches_or_parent_matches`]
    /// when an exclusion was skipped for the parent.
    pub fn matches_with_parent(&self, path: &[u8], parent: &MatchInfo) -> (bool, MatchInfo) {
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        let matched = self.evaluate(path, Some(parent), Some(&mut info.parent_matched));
        (matched, info)
    }

    /// Like [`Self::matches_with_parent`] without building results for children
    /// (for files, which have none): saves an allocation per file.
    pub fn matches_with_parent_leaf(&self, path: &[u8], parent: &MatchInfo) -> bool {
        self.evaluate(path, Some(parent), None)
    }

    fn evaluate(
        &self,
        path: &[u8],
        parent: Option<&MatchInfo>,
        mut out: Option<&mut Vec<bool>>,
    ) -> bool {
        let parent_bits = parent
            .map(|p| p.parent_matched.as_slice())
            .filter(|b| b.len() == self.patterns.len());
        let mut matched = false;
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent_bits.is_some_and(|b| b[i]);
            if !hit {
                // An inclusion cannot change a path already matched, an
                // exclusion cannot change one not matched: skip them.
                if pattern.exclusion != matched {
                    continue;
                }
                hit = pattern.matches(path);
                if !hit && parent_bits.is_none() {
                    hit = parent_dirs(path).any(|dir| pattern.matches(dir));
                }
            }
            if let Some(bits) = out.as_deref_mut() {
                bits[i] = hit;
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether a directory that matched (is excluded) may be skipped entirely:
    /// true unless some `!` pattern could re-include something inside it.
    /// Mirrors BuildKit's walker optimisation, so it is exact, not a guess.
    pub fn can_skip_dir(&self, dir: &[u8]) -> bool {
        if !self.exclusions {
            return true;
        }
        if !self.only_prefix_exceptions {
            return false;
        }
        !self.exception_prefixes.iter().any(|prefix| {
            let p = prefix.as_bytes();
            p.len() > dir.len() && p.starts_with(dir) && p[dir.len()] == b'/'
        })
    }
}

/// The proper ancestors of `path`: "a", "a/b" for "a/b/c".
fn parent_dirs(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .map(move |(i, _)| &path[..i])
}

fn without_trailing_glob(p: &str) -> &str {
    let p = p.strip_suffix("/**").unwrap_or(p);
    p.strip_suffix("/*").unwrap_or(p)
}
