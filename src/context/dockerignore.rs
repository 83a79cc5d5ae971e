//! Reading `.dockerignore` files and choosing which one applies.
//!
//! BuildKit first looks for `<Dockerfile name>.dockerignore` next to the
//! Dockerfile (e.g. `build/app.Dockerfile.dockerignore`) and only then for
//! `.dockerignore` at the context root; the first one found is used alone.

use std::io;
use std::path::{Path, PathBuf};

use super::error::ContextError;
use super::gomatch::clean_path;
use super::pattern::PatternMatcher;

/// Parses ignore-file text into patterns like Docker's `ignorefile.ReadAll`:
/// strips a UTF-8 BOM, skips lines starting with `#` (before trimming, so
/// ` #x` is a pattern), trims whitespace, skips blank lines, cleans each
/// pattern and drops a leading `/` (keeping a `!` prefix).
pub fn parse_ignore_file(text: &[u8]) -> Vec<String> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean_path(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        out.push(cleaned);
    }
    out
}

/// Where the ignore rules of a build context come from.
#[derive(Debug, Clone, Default)]
pub enum IgnoreSpec {
    /// No ignore rules.
    #[default]
    None,
    /// Docker's lookup: `<dockerfile>.dockerignore` beside the Dockerfile if it
    /// exists, else `.dockerignore` at the context root. `dockerfile` is the
    /// Dockerfile's path (absolute, or relative to the context root); `None`
    /// when the Dockerfile came from stdin.
    Auto {
        /// Path of the Dockerfile, if it is a file.
        dockerfile: Option<PathBuf>,
    },
    /// Explicit patterns (already in ignore-file form).
    Patterns(Vec<String>),
}

/// The ignore file that was chosen, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedIgnore {
    /// The file the patterns came from, if any.
    pub source: Option<PathBuf>,
    /// The patterns as parsed.
    pub patterns: Vec<String>,
}

/// Resolves an [`IgnoreSpec`] for the context at `root` into patterns.
pub fn load_ignore(root: &Path, spec: &IgnoreSpec) -> Result<LoadedIgnore, ContextError> {
    match spec {
        IgnoreSpec::None => Ok(LoadedIgnore {
            source: None,
            patterns: Vec::new(),
        }),
        IgnoreSpec::Patterns(patterns) => Ok(LoadedIgnore {
            source: None,
            patterns: patterns.clone(),
        }),
        IgnoreSpec::Auto { dockerfile } => {
            let mut candidates = Vec::new();
            if let Some(df) = dockerfile {
                let df = if df.is_absolute() {
                    df.clone()
                } else {
                    root.join(df)
                };
                if let Some(name) = df.file_name() {
                    let mut ignore_name = name.to_os_string();
                    ignore_name.push(".dockerignore");
                    candidates.push(df.with_file_name(ignore_name));
                }
            }
            candidates.push(root.join(".dockerignore"));
            for candidate in candidates {
                match super::regular::read_regular(
                    &candidate,
                    ".dockerignore",
                    super::regular::MAX_DOCKERIGNORE_BYTES,
                ) {
                    Ok(text) => {
                        return Ok(LoadedIgnore {
                            patterns: parse_ignore_file(&text),
                            source: Some(candidate),
                        })
                    }
                    Err(ContextError::Io { source, .. })
                        if source.kind() == io::ErrorKind::NotFound =>
                    {
                        continue
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(LoadedIgnore {
                source: None,
                patterns: Vec::new(),
            })
        }
    }
}

/// Builds the matcher for loaded patterns, naming the file in errors.
pub fn build_matcher(loaded: &LoadedIgnore) -> Result<PatternMatcher, ContextError> {
    PatternMatcher::new(&loaded.patterns).map_err(|source| ContextError::Pattern {
        origin: loaded.source.as_ref().map_or_else(
            || "ignore patterns".to_string(),
            |p| p.display().to_string(),
        ),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        let text = b"\xEF\xBB\xBF# comment\n\n  \nnode_modules/\n/abs/path\n!/keep/me/\n ! spaced \n #not-a-comment\n*.md\n./x/../y\n\\#hash\n/\n!\n";
        assert_eq!(
            parse_ignore_file(text),
            vec![
                "node_modules",
                "abs/path",
                "!keep/me",
                "!spaced",
                "#not-a-comment",
                "*.md",
                "y",
                "\\#hash",
                "/",
                "!",
            ]
        );
    }

    #[test]
    fn crlf_lines() {
        assert_eq!(parse_ignore_file(b"a\r\nb\r\n"), vec!["a", "b"]);
    }

    #[test]
    fn dockerfile_specific_ignore_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("build")).unwrap();
        std::fs::write(root.join(".dockerignore"), "from-context\n").unwrap();
        std::fs::write(root.join("build/app.Dockerfile"), "FROM scratch\n").unwrap();
        let auto = |df: Option<&str>| IgnoreSpec::Auto {
            dockerfile: df.map(PathBuf::from),
        };

        let loaded = load_ignore(root, &auto(Some("build/app.Dockerfile"))).unwrap();
        assert_eq!(loaded.patterns, vec!["from-context"]);

        std::fs::write(
            root.join("build/app.Dockerfile.dockerignore"),
            "from-dockerfile\n",
        )
        .unwrap();
        let loaded = load_ignore(root, &auto(Some("build/app.Dockerfile"))).unwrap();
        assert_eq!(loaded.patterns, vec!["from-dockerfile"]);
        assert_eq!(
            loaded.source.unwrap(),
            root.join("build/app.Dockerfile.dockerignore")
        );

        // Absolute Dockerfile paths work the same.
        let abs = root.join("build/app.Dockerfile");
        let loaded = load_ignore(
            root,
            &IgnoreSpec::Auto {
                dockerfile: Some(abs),
            },
        )
        .unwrap();
        assert_eq!(loaded.patterns, vec!["from-dockerfile"]);

        // Dockerfile from stdin: only the context's file.
        let loaded = load_ignore(root, &auto(None)).unwrap();
        assert_eq!(loaded.patterns, vec!["from-context"]);

        std::fs::remove_file(root.join(".dockerignore")).unwrap();
        let loaded = load_ignore(root, &auto(None)).unwrap();
        assert!(loaded.patterns.is_empty() && loaded.source.is_none());
    }

    #[test]
    fn bad_pattern_names_the_file() {
        let loaded = LoadedIgnore {
            source: Some(PathBuf::from("/ctx/.dockerignore")),
            patterns: vec!["[".into()],
        };
        let err = build_matcher(&loaded).unwrap_err().to_string();
        assert!(err.contains("/ctx/.dockerignore"), "{err}");
    }
}
