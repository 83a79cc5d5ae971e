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

use std::sync::Arc;

use regex::bytes::Regex;

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

/// How a single pattern is tested, chosen exactly as Docker chooses it.
#[derive(Debug, Clone)]
enum Kind {
    /// No wildcard: the path must equal the pattern.
    Exact,
    /// `literal**`: any path starting with the literal.
    Prefix(String),
    /// `**literal`: any path ending with the literal (or equal to it minus a leading `/`).
    Suffix(String),
    /// Everything else, via a translated regular expression.
    Regex(Arc<Regex>),
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

/// Chooses the match kind and builds the regex the way Docker translates a pattern.
fn compile(pattern: &str) -> Result<Kind, regex::Error> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    let mut detected = Detected::Exact;
    let mut in_class = false;
    let mut class_start = 0usize;
    let mut i = 0;
    let mut token = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' && !in_class {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        re.push_str("(?-u:[^\\n])*");
                        detected = Detected::Regex;
                    }
                } else {
                    re.push_str("(?:(?-u:[^\\n])*/)?");
                    detected = Detected::Regex;
                }
                if token == 0 {
                    detected = Detected::Suffix;
                }
            } else {
                re.push_str("(?-u:[^/])*");
                detected = Detected::Regex;
            }
        } else if ch == '?' && !in_class {
            re.push_str("(?:[^/]|(?-u:[\\x80-\\xff]))");
            detected = Detected::Regex;
        } else if ch == '\\' {
            match chars.get(i) {
                Some(&next) => {
                    i += 1;
                    re.push('\\');
                    re.push(next);
                    detected = Detected::Regex;
                }
                None => re.push_str("\\\\"),
            }
        } else if ch == '[' && !in_class {
            in_class = true;
            re.push('[');
            class_start = re.len();
            detected = Detected::Regex;
            // Go regex: a `^` then a `]` right after `[` are literal members.
            if chars.get(i) == Some(&'^') {
                re.push('^');
                i += 1;
                class_start = re.len();
            }
            if chars.get(i) == Some(&']') {
                re.push_str("\\]");
                i += 1;
            }
        } else if ch == ']' {
            if in_class && re.len() > class_start {
                re.push(']');
                in_class = false;
            } else {
                re.push_str("\\]");
            }
            detected = Detected::Regex;
        } else if in_class {
            // Inside a class `*` and `?` are plain members (Go's translation would
            // splice `[^/]*` into the class, which no real pattern relies on).
            // Rust's class syntax gives `[`, `&&`, `--`, `~~` meaning Go's lacks.
            match ch {
                '[' if chars.get(i) == Some(&':') => re.push('['),
                '[' | '&' | '~' => {
                    re.push('\\');
                    re.push(ch);
                }
                '-' if re.ends_with('-') => re.push_str("\\-"),
                _ => re.push(ch),
            }
        } else if ".+()|{}$".contains(ch) {
            re.push('\\');
            re.push(ch);
        } else {
            re.push(ch);
        }
        token += 1;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => Kind::Suffix(pattern[2..].to_string()),
        Detected::Regex => {
            re.push('$');
            Kind::Regex(Arc::new(Regex::new(&re)?))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str], path: &str) -> bool {
        PatternMatcher::new(patterns)
            .unwrap()
            .matches_or_parent_matches(path.as_bytes())
    }

    /// Walks `path` from the root component by component, as BuildKit's walker does.
    fn walk_match(patterns: &[&str], path: &str) -> bool {
        let pm = PatternMatcher::new(patterns).unwrap();
        let mut info = MatchInfo::default();
        let mut result = false;
        let parts: Vec<&str> = path.split('/').collect();
        for n in 1..=parts.len() {
            let prefix = parts[..n].join("/");
            let (hit, next) = pm.matches_with_parent(prefix.as_bytes(), &info);
            result = hit;
            info = next;
        }
        result
    }

    #[test]
    fn single_pattern_table() {
        // (pattern, path, matched) — cases from moby's own tests and Docker docs.
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file/", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            // `*` never crosses `/`; a top-level pattern only matches at the root.
            ("*.md", "README.md", true),
            ("*.md", "docs/intro.md", false),
            ("docs/*.md", "docs/intro.md", true),
            ("docs/*.md", "docs/deep/intro.md", false),
            ("*/*.md", "docs/intro.md", true),
            // Trailing slashes are cleaned away; leading `./` too.
            ("docs/", "docs", true),
            ("./docs", "docs", true),
            ("docs//api/", "docs/api", true),
            // Escapes.
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("\\[x\\]", "[x]", true),
            // Non-UTF-8 names still match `*`.
            ("*.bin", "caf\u{e9}.bin", true),
        ];
        for (pattern, path, want) in cases {
            let got = m(&[*pattern], path);
            assert_eq!(got, *want, "pattern {pattern:?} vs {path:?}");
        }
    }

    #[test]
    fn non_utf8_names_match_star() {
        let pm = PatternMatcher::new(&["*.bin", "x?y"]).unwrap();
        assert!(pm.patterns()[0].matches(b"\xff\xfe.bin"));
        assert!(pm.patterns()[1].matches(b"x\xffy"));
        assert!(!pm.patterns()[1].matches(b"x/y"));
    }

    #[test]
    fn list_semantics_table() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["**"], "anything/at/all", true),
            (&["*"], "fileutils.go", true),
            (&["*.go"], "fileutils.go", true),
            (&["*.go"], "pkg/fileutils.go", false),
            (&["**/*.go"], "pkg/fileutils.go", true),
            (&["*.go", "!fileutils.go"], "fileutils.go", false),
            (
                &["*.go", "!fileutils.go", "fileutils.go"],
                "fileutils.go",
                true,
            ),
            // A matched parent directory matches everything below it.
            (&["docs"], "docs/a/b.md", true),
            (&["docs", "!docs/keep.md"], "docs/keep.md", false),
            (&["docs", "!docs/keep.md"], "docs/other.md", true),
            // Re-inclusion of the parent re-includes its contents.
            (&["docs", "!docs"], "docs/x", false),
            // Last match wins, in both directions.
            (&["!a", "a"], "a", true),
            (&["a", "!a", "a/b"], "a/b", true),
            (
                &["**/node_modules", "!app/node_modules/keep"],
                "app/node_modules/keep",
                false,
            ),
            (
                &["**/node_modules", "!app/node_modules/keep"],
                "lib/node_modules/x",
                true,
            ),
            // `.` and `/` never match a path inside the context.
            (&["."], "file", false),
            (&["/"], "file", false),
            // Leading slash is cleaned by the ignore-file reader, not here.
            (&["a/../b"], "b", true),
            (&["!a/../b"], "b", true),
        ];
        for (patterns, path, want) in cases {
            assert_eq!(
                m(patterns, path),
                *want,
                "{patterns:?} vs {path:?} (path match)"
            );
            assert_eq!(
                walk_match(patterns, path),
                *want,
                "{patterns:?} vs {path:?} (walk match)"
            );
        }
    }

    #[test]
    fn walk_results_differ_from_path_results() {
        // BuildKit's walker evaluates `!a` for "a" only when "a" was matched,
        // so the result is not carried to "a/b": the walk keeps "a/b" excluded
        // while a path-only check lets the parent re-inclusion win.
        let patterns = ["a/b", "!a"];
        assert!(!m(&patterns, "a/b"));
        assert!(walk_match(&patterns, "a/b"));
    }

    #[test]
    fn walk_and_path_agree_on_overlapping_rules() {
        // Alternating rules over a parent and a child: both evaluation orders
        // must end with the last matching rule.
        let patterns = ["a", "!a", "a/b", "!a/b"];
        assert!(!m(&patterns, "a/b"));
        assert!(!walk_match(&patterns, "a/b"));
        assert!(!walk_match(&patterns, "a/b/c"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            PatternMatcher::new(&["!"]).unwrap_err(),
            PatternError::IllegalExclusion
        );
        assert!(matches!(
            PatternMatcher::new(&["["]),
            Err(PatternError::Syntax(_))
        ));
        assert!(matches!(
            PatternMatcher::new(&["a\\"]),
            Err(PatternError::Syntax(_))
        ));
        assert!(matches!(
            PatternMatcher::new(&["[a-"]),
            Err(PatternError::Syntax(_))
        ));
        assert!(
            PatternMatcher::new(&["", "  ", "ok"])
                .unwrap()
                .patterns()
                .len()
                == 1
        );
    }

    #[test]
    fn skip_dir_only_when_no_exception_below() {
        let pm = PatternMatcher::new(&["node_modules", "!node_modules/keep"]).unwrap();
        assert!(!pm.can_skip_dir(b"node_modules"));
        assert!(pm.can_skip_dir(b"other"));
        let pm = PatternMatcher::new(&["build", "!build/out/**"]).unwrap();
        assert!(!pm.can_skip_dir(b"build"));
        assert!(!pm.can_skip_dir(b"build/out"));
        assert!(pm.can_skip_dir(b"build/tmp"));
        // A wildcard exception may match anywhere: never skip.
        let pm = PatternMatcher::new(&["build", "!**/*.keep"]).unwrap();
        assert!(!pm.can_skip_dir(b"build"));
        // No exceptions: always skip.
        let pm = PatternMatcher::new(&["build"]).unwrap();
        assert!(pm.can_skip_dir(b"build"));
    }
}
