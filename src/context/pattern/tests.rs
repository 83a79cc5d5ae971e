//! Tests of the pattern matcher: single patterns, pattern lists, walks
//! against path lookups, and the patterns Docker refuses.

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
