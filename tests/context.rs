//! Build context behaviour against real directory trees: `.dockerignore`,
//! COPY/ADD source selection, tar contexts and content digests.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use builder::context::{
    BuildContext, ContextError, FileKind, IgnoreSpec, MetadataIndex, SelectOptions, SelectedSource,
};

/// Creates files (`name` → content), directories (`name/`) and symlinks (`name -> target`).
fn tree(root: &Path, spec: &[&str]) {
    for item in spec {
        if let Some((link, target)) = item.split_once(" -> ") {
            let p = root.join(link);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            symlink(target, p).unwrap();
        } else if let Some(dir) = item.strip_suffix('/') {
            fs::create_dir_all(root.join(dir)).unwrap();
        } else {
            let p = root.join(item);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, format!("content of {item}")).unwrap();
        }
    }
}

fn ctx_with_ignore(spec: &[&str], ignore: &str) -> (tempfile::TempDir, BuildContext) {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), spec);
    fs::write(dir.path().join(".dockerignore"), ignore).unwrap();
    let ctx = BuildContext::from_dir(dir.path(), IgnoreSpec::Auto { dockerfile: None }).unwrap();
    (dir, ctx)
}

fn listing(ctx: &BuildContext) -> Vec<String> {
    ctx.list()
        .unwrap()
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != ".dockerignore")
        .collect()
}

fn dests(sources: &[SelectedSource]) -> Vec<String> {
    sources
        .iter()
        .flat_map(|s| s.entries())
        .map(|e| e.dest.to_string_lossy().into_owned())
        .collect()
}

fn select(
    ctx: &BuildContext,
    sources: &[&str],
    opts: &SelectOptions,
) -> Result<Vec<SelectedSource>, ContextError> {
    let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
    ctx.resolve_sources(&sources, opts)
}

fn sel(ctx: &BuildContext, sources: &[&str]) -> Vec<String> {
    dests(&select(ctx, sources, &SelectOptions::default()).unwrap())
}

const PROJECT: &[&str] = &[
    "README.md",
    "main.go",
    "docs/intro.md",
    "docs/deep/guide.md",
    "docs/logo.png",
    "node_modules/a/index.js",
    "node_modules/keep.js",
    "build/out/app",
    "build/tmp/junk",
    "src/app.log",
    "src/lib/x.log",
    "src/lib/x.rs",
    "empty/",
];

#[test]
fn dockerignore_table() {
    // (ignore file, expected visible paths)
    let cases: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "README.md",
                "build",
                "build/out",
                "build/out/app",
                "build/tmp",
                "build/tmp/junk",
                "docs",
                "docs/deep",
                "docs/deep/guide.md",
                "docs/intro.md",
                "docs/logo.png",
                "empty",
                "main.go",
                "node_modules",
                "node_modules/a",
                "node_modules/a/index.js",
                "node_modules/keep.js",
                "src",
                "src/app.log",
                "src/lib",
                "src/lib/x.log",
                "src/lib/x.rs",
            ],
        ),
        // `*.md` is anchored at the root; `docs/*.md` only one level in docs.
        (
            "*.md\nnode_modules\nbuild\nsrc\nempty",
            &[
                "docs",
                "docs/deep",
                "docs/deep/guide.md",
                "docs/intro.md",
                "docs/logo.png",
                "main.go",
            ],
        ),
        (
            "docs/*.md\nnode_modules\nbuild\nsrc\nempty",
            &[
                "README.md",
                "docs",
                "docs/deep",
                "docs/deep/guide.md",
                "docs/logo.png",
                "main.go",
            ],
        ),
        (
            "**/*.md\nnode_modules\nbuild\nsrc\nempty",
            &["docs", "docs/deep", "docs/logo.png", "main.go"],
        ),
        // Re-include inside an excluded directory: the directory appears with only that file.
        (
            "*\n!node_modules/keep.js",
            &["node_modules", "node_modules/keep.js"],
        ),
        // Re-include with a wildcard below an excluded directory.
        ("*\n!src/**/*.rs", &["src", "src/lib", "src/lib/x.rs"]),
        // `foo/**` excludes the contents, not the directory.
        (
            "build/**\ndocs\nnode_modules\nsrc\nempty\n*.md\nmain.go",
            &["build"],
        ),
        // `**/x` at any depth, trailing slash and leading slash cleaned.
        (
            "**/*.log\n/docs/\nnode_modules/\nbuild/\n./empty\n*.md\nmain.go",
            &["src", "src/lib", "src/lib/x.rs"],
        ),
        // Last match wins.
        (
            "*\n!docs\ndocs/deep",
            &["docs", "docs/intro.md", "docs/logo.png"],
        ),
        (
            "*\n!docs\ndocs/deep\n!docs/deep/guide.md",
            &[
                "docs",
                "docs/deep",
                "docs/deep/guide.md",
                "docs/intro.md",
                "docs/logo.png",
            ],
        ),
        // `.` matches nothing, comments and blanks are skipped; ` #x` is a pattern.
        ("# all\n.\n\n*\n!main.go\n #main.go", &["main.go"]),
        // Escaped wildcard is literal.
        ("*\n!main\\.go", &["main.go"]),
        // Empty directories survive unless excluded.
        ("*\n!empty", &["empty"]),
    ];
    for (ignore, want) in cases {
        let (_dir, ctx) = ctx_with_ignore(PROJECT, ignore);
        assert_eq!(listing(&ctx), *want, "ignore file:\n{ignore}");
    }
}

#[test]
fn dockerignore_can_hide_itself_and_the_dockerfile() {
    let (_dir, ctx) = ctx_with_ignore(&["Dockerfile", "a"], ".dockerignore\nDockerfile\n");
    assert_eq!(ctx.list().unwrap(), vec![PathBuf::from("a")]);
}

#[test]
fn dockerfile_specific_ignore_file_takes_precedence() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), &["a.txt", "b.txt", "build/app.Dockerfile"]);
    fs::write(dir.path().join(".dockerignore"), "a.txt\n").unwrap();
    fs::write(
        dir.path().join("build/app.Dockerfile.dockerignore"),
        "b.txt\n",
    )
    .unwrap();
    let spec = IgnoreSpec::Auto {
        dockerfile: Some(PathBuf::from("build/app.Dockerfile")),
    };
    let ctx = BuildContext::from_dir(dir.path(), spec).unwrap();
    assert_eq!(
        ctx.ignore_file().unwrap(),
        ctx.root().join("build/app.Dockerfile.dockerignore")
    );
    assert!(ctx.contains("a.txt").unwrap());
    assert!(!ctx.contains("b.txt").unwrap());
}

#[test]
fn bad_ignore_pattern_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".dockerignore"), "[\n").unwrap();
    let err =
        BuildContext::from_dir(dir.path(), IgnoreSpec::Auto { dockerfile: None }).unwrap_err();
    assert!(matches!(err, ContextError::Pattern { .. }), "{err}");
    assert!(err.to_string().contains(".dockerignore"), "{err}");
}

#[test]
fn missing_and_ignored_sources_are_not_found() {
    let (_dir, ctx) = ctx_with_ignore(&["a.txt", "secret.env", "logs/x.log"], "secret.env\nlogs\n");
    let err = select(&ctx, &["missing.txt"], &SelectOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "\"/missing.txt\": not found");
    for hidden in ["secret.env", "logs", "logs/x.log", "./logs/../secret.env"] {
        let err = select(&ctx, &[hidden], &SelectOptions::default()).unwrap_err();
        assert!(
            matches!(err, ContextError::NotFound { .. }),
            "{hidden}: {err}"
        );
    }
    // The first missing source is named even after good ones.
    let err = select(&ctx, &["a.txt", "nope/deeper"], &SelectOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "\"/nope/deeper\": not found");
    // A path through a file is missing.
    let err = select(&ctx, &["a.txt/x"], &SelectOptions::default()).unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }));
}

#[test]
fn sources_cannot_escape_the_context() {
    let (dir, ctx) = ctx_with_ignore(&["a.txt", "sub/b.txt"], "");
    // `..` and absolute paths are relative to the context root.
    assert_eq!(sel(&ctx, &["../../a.txt"]), vec!["a.txt"]);
    assert_eq!(sel(&ctx, &["/a.txt"]), vec!["a.txt"]);
    assert_eq!(sel(&ctx, &["sub/../../sub/b.txt"]), vec!["b.txt"]);
    let selected = select(&ctx, &["../a.txt"], &SelectOptions::default()).unwrap();
    assert_eq!(selected[0].normalized, "/a.txt");
    assert_eq!(
        selected[0].matches[0].path,
        dir.path().canonicalize().unwrap().join("a.txt")
    );
}

#[test]
fn directory_sources_copy_their_contents() {
    let (_dir, ctx) = ctx_with_ignore(&["dir/a", "dir/sub/b", "dir/empty/", "top"], "");
    assert_eq!(sel(&ctx, &["dir"]), vec!["a", "empty", "sub", "sub/b"]);
    assert_eq!(sel(&ctx, &["dir/"]), vec!["a", "empty", "sub", "sub/b"]);
    assert_eq!(
        sel(&ctx, &["."]),
        vec![
            ".dockerignore",
            "dir",
            "dir/a",
            "dir/empty",
            "dir/sub",
            "dir/sub/b",
            "top"
        ]
    );
    let s = select(&ctx, &["dir", "top"], &SelectOptions::default()).unwrap();
    assert_eq!(s[0].matches[0].kind, FileKind::Dir);
    assert_eq!(s[1].matches[0].kind, FileKind::File);
    assert_eq!(s[1].matches[0].name, "top");
    let kinds: BTreeMap<String, FileKind> = s[0]
        .entries()
        .map(|e| (e.dest.to_string_lossy().into_owned(), e.kind))
        .collect();
    assert_eq!(kinds["empty"], FileKind::Dir);
    assert_eq!(kinds["sub/b"], FileKind::File);
}

#[test]
fn wildcards_follow_go_filepath_match() {
    let (_dir, ctx) = ctx_with_ignore(
        &[
            "a.txt",
            "b.txt",
            "c.md",
            "docs/d.txt",
            "dir1/x",
            "dir1/sub/y",
            "dir2/z",
            "file[1].txt",
            "hidden.txt",
        ],
        "hidden.txt\n",
    );
    // `*` stays in one directory; ignored files are invisible to wildcards.
    assert_eq!(sel(&ctx, &["*.txt"]), vec!["a.txt", "b.txt", "file[1].txt"]);
    assert_eq!(sel(&ctx, &["*/*.txt"]), vec!["d.txt"]);
    assert_eq!(sel(&ctx, &["?.md"]), vec!["c.md"]);
    assert_eq!(sel(&ctx, &["[ab].txt"]), vec!["a.txt", "b.txt"]);
    assert_eq!(sel(&ctx, &["[^a].txt"]), vec!["b.txt"]);
    assert_eq!(sel(&ctx, &["file[[]1].txt"]), vec!["file[1].txt"]);
    // Like BuildKit, a component whose wildcards are all escaped is looked up literally.
    let err = select(&ctx, &["file\\[1\\].txt"], &SelectOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), r#""/file\\[1\\].txt": not found"#);
    // Matching directories contribute their contents, flattened into the destination.
    assert_eq!(sel(&ctx, &["dir*"]), vec!["sub", "sub/y", "x", "z"]);
    assert_eq!(sel(&ctx, &["dir1/*"]), vec!["y", "x"]);
    // A wildcard matching nothing in an existing directory, or below a file,
    // selects nothing (BuildKit allows empty wildcards)...
    let s = select(
        &ctx,
        &["*.nothing", "dir2/*.nothing", "a.txt/*"],
        &SelectOptions::default(),
    )
    .unwrap();
    assert!(s.iter().all(|s| s.wildcard && s.matches.is_empty()));
    // ...but its fixed part must exist (Docker 26.1: `lstat …/nodir: no such
    // file or directory`), also when only ignored.
    for (src, msg) in [
        ("nodir/*", "lstat /nodir: no such file or directory"),
        (
            "dir1/nodir/*.txt",
            "lstat /dir1/nodir: no such file or directory",
        ),
        (
            "hidden.txt/*",
            "lstat /hidden.txt: no such file or directory",
        ),
    ] {
        let err = select(&ctx, &["a.txt", src], &SelectOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), msg, "{src}");
    }
    // A malformed wildcard is reported.
    let err = select(&ctx, &["[a-"], &SelectOptions::default()).unwrap_err();
    assert!(matches!(err, ContextError::BadWildcard { .. }), "{err}");
}

#[test]
fn symlinks_as_sources_are_followed_inside_dirs_kept() {
    let (dir, ctx) = ctx_with_ignore(
        &[
            "real/file",
            "real/inner -> file",
            "link-to-file -> real/file",
            "link-to-dir -> real",
            "abs-link -> /real/file",
            "escape -> ../../../../real/file",
            "outside -> /etc/passwd",
            "dangling -> nowhere",
            "loop1 -> loop2",
            "loop2 -> loop1",
            "via/parent -> ../real",
        ],
        "",
    );
    let root = dir.path().canonicalize().unwrap();

    let s = select(&ctx, &["link-to-file"], &SelectOptions::default()).unwrap();
    let m = &s[0].matches[0];
    assert_eq!(
        (m.kind, m.name.to_str().unwrap()),
        (FileKind::File, "link-to-file")
    );
    assert_eq!(m.path, root.join("real/file"));
    assert_eq!(m.entries[0].dest, PathBuf::from("link-to-file"));
    assert_eq!(m.entries[0].kind, FileKind::File);

    // A symlink to a directory copies the directory's contents; the link inside stays a link.
    let s = select(&ctx, &["link-to-dir"], &SelectOptions::default()).unwrap();
    let inner: Vec<_> = s[0]
        .entries()
        .map(|e| (e.dest.clone(), e.kind, e.link_target.clone()))
        .collect();
    assert_eq!(
        inner,
        vec![
            (PathBuf::from("file"), FileKind::File, None),
            (
                PathBuf::from("inner"),
                FileKind::Symlink,
                Some(PathBuf::from("file"))
            ),
        ]
    );

    // Absolute and `..` link targets are resolved inside the context.
    for src in ["abs-link", "escape", "via/parent/file", "link-to-dir/inner"] {
        let s = select(&ctx, &[src], &SelectOptions::default()).unwrap();
        assert_eq!(s[0].matches[0].path, root.join("real/file"), "{src}");
    }
    // Targets outside the context do not exist; dangling links neither.
    for src in ["outside", "dangling"] {
        let err = select(&ctx, &[src], &SelectOptions::default()).unwrap_err();
        assert!(matches!(err, ContextError::NotFound { .. }), "{src}: {err}");
    }
    let err = select(&ctx, &["loop1"], &SelectOptions::default()).unwrap_err();
    assert!(matches!(err, ContextError::SymlinkLoop { .. }), "{err}");
}

#[test]
fn ignored_symlink_target_is_not_found() {
    let (_dir, ctx) = ctx_with_ignore(&["secret", "link -> secret"], "secret\n");
    let err = select(&ctx, &["link"], &SelectOptions::default()).unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }), "{err}");
}

#[test]
fn copy_of_excluded_dir_with_reincluded_child() {
    let (_dir, ctx) = ctx_with_ignore(
        &["node_modules/a/x.js", "node_modules/keep.js"],
        "node_modules\n!node_modules/keep.js\n",
    );
    assert_eq!(sel(&ctx, &["node_modules"]), vec!["keep.js"]);
    assert_eq!(
        sel(&ctx, &["."]),
        vec![".dockerignore", "node_modules", "node_modules/keep.js"]
    );
    assert!(select(&ctx, &["node_modules/a"], &SelectOptions::default()).is_err());
}

#[test]
fn exclude_flag() {
    let (_dir, ctx) = ctx_with_ignore(
        &[
            "dir/a.md",
            "dir/b.txt",
            "dir/sub/c.md",
            "dir/sub/d.txt",
            "dir/docs/e.md",
            "top.md",
            "top.txt",
        ],
        "",
    );
    let opts = |ex: &[&str]| SelectOptions {
        excludes: ex.iter().map(|s| s.to_string()).collect(),
        parents: false,
    };
    let pick = |srcs: &[&str], ex: &[&str]| dests(&select(&ctx, srcs, &opts(ex)).unwrap());
    // Patterns are relative to the copied directory; `*` stays at its top level.
    assert_eq!(
        pick(&["dir"], &["*.md"]),
        vec!["b.txt", "docs", "docs/e.md", "sub", "sub/c.md", "sub/d.txt"]
    );
    assert_eq!(
        pick(&["dir"], &["**/*.md"]),
        vec!["b.txt", "docs", "sub", "sub/d.txt"]
    );
    // Excluding a directory drops everything inside it.
    assert_eq!(pick(&["dir"], &["sub", "docs"]), vec!["a.md", "b.txt"]);
    // `!` re-includes inside an excluded directory; the directory is created for it.
    assert_eq!(
        pick(&["dir"], &["sub", "!sub/d.txt"]),
        vec!["a.md", "b.txt", "docs", "docs/e.md", "sub", "sub/d.txt"]
    );
    assert_eq!(
        pick(&["dir"], &["*", "!**/*.txt"]),
        vec!["b.txt", "sub", "sub/d.txt"]
    );
    // A match itself is never excluded (BuildKit applies --exclude below each match).
    assert_eq!(pick(&["*.md"], &["top.md"]), vec!["top.md"]);
    assert_eq!(
        pick(&["."], &["dir", "*.md", ".dockerignore"]),
        vec!["top.txt"]
    );
    // Bad patterns are reported as coming from --exclude.
    let err = select(&ctx, &["dir"], &opts(&["["])).unwrap_err();
    assert!(err.to_string().contains("--exclude"), "{err}");
}

#[test]
fn parents_flag() {
    let (_dir, ctx) = ctx_with_ignore(
        &[
            "a/b/x.txt",
            "a/b/y.md",
            "a/c/z.txt",
            "pkg/one/package.json",
            "pkg/two/package.json",
            "pkg/two/src/i.js",
            "package.json",
        ],
        "",
    );
    let parents = SelectOptions {
        excludes: vec![],
        parents: true,
    };
    let pick = |srcs: &[&str]| dests(&select(&ctx, srcs, &parents).unwrap());
    // The path relative to the context is kept, with its parent directories.
    assert_eq!(pick(&["a/b/x.txt"]), vec!["a", "a/b", "a/b/x.txt"]);
    assert_eq!(
        pick(&["a/*/*.txt"]),
        vec!["a", "a/b", "a/b/x.txt", "a/c", "a/c/z.txt"]
    );
    assert_eq!(
        pick(&["**/package.json"]),
        vec![
            "package.json",
            "pkg",
            "pkg/one",
            "pkg/one/package.json",
            "pkg/two",
            "pkg/two/package.json"
        ]
    );
    // A directory brings its contents.
    assert_eq!(
        pick(&["pkg/two"]),
        vec![
            "pkg",
            "pkg/two",
            "pkg/two/package.json",
            "pkg/two/src",
            "pkg/two/src/i.js"
        ]
    );
    // `/./` pivots: paths are kept relative to the part before it.
    assert_eq!(pick(&["a/./b/x.txt"]), vec!["b", "b/x.txt"]);
    assert_eq!(
        pick(&["./pkg/./*/package.json"]),
        vec!["one", "one/package.json", "two", "two/package.json"]
    );
    // Literal paths must exist; wildcards may match nothing.
    let err = select(&ctx, &["a/nope.txt"], &parents).unwrap_err();
    assert_eq!(err.to_string(), "\"/a/nope.txt\": not found");
    assert!(pick(&["a/*.nothing"]).is_empty());
    // --exclude composes with --parents.
    let both = SelectOptions {
        excludes: vec!["**/*.md".into()],
        parents: true,
    };
    assert_eq!(
        dests(&select(&ctx, &["a/b"], &both).unwrap()),
        vec!["a", "a/b", "a/b/x.txt"]
    );
}

fn tar_bytes(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    b.into_inner().unwrap()
}

fn add_file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8], mode: u32) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    // Bypass the builder's own path checks to craft hostile names.
    let name_bytes = name.as_bytes();
    h.as_old_mut().name[..name_bytes.len()].copy_from_slice(name_bytes);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn add_symlink(b: &mut tar::Builder<Vec<u8>>, name: &str, target: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_uid(0);
    h.set_gid(0);
    b.append_link(&mut h, name, target).unwrap();
}

#[test]
fn tar_context_plain_and_compressed() {
    let raw = tar_bytes(|b| {
        add_file(b, "Dockerfile", b"FROM scratch\n", 0o644);
        add_file(b, "src/main.rs", b"fn main() {}\n", 0o755);
        add_file(b, "/abs/name.txt", b"abs\n", 0o600);
        add_file(b, ".dockerignore", b"ignored\n", 0o644);
        add_file(b, "ignored", b"x", 0o644);
        add_symlink(b, "link", "src/main.rs");
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&raw[..], 1).unwrap();
    for (label, bytes) in [("plain", raw.clone()), ("gzip", gz), ("zstd", zst)] {
        let ctx =
            BuildContext::from_tar(&bytes[..], IgnoreSpec::Auto { dockerfile: None }).unwrap();
        let root = ctx.root().to_path_buf();
        assert_eq!(
            ctx.list().unwrap(),
            [
                ".dockerignore",
                "Dockerfile",
                "abs",
                "abs/name.txt",
                "link",
                "src",
                "src/main.rs"
            ]
            .map(PathBuf::from),
            "{label}"
        );
        assert_eq!(
            fs::read_link(root.join("link")).unwrap(),
            PathBuf::from("src/main.rs")
        );
        let mode = fs::metadata(root.join("src/main.rs"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o755, "{label}");
        let s = select(&ctx, &["link"], &SelectOptions::default()).unwrap();
        assert_eq!(s[0].matches[0].path, root.join("src/main.rs"));
        drop(ctx);
        assert!(!root.exists(), "extracted context is removed on drop");
    }
}

#[test]
fn tar_context_rejects_escapes() {
    let outside = tempfile::tempdir().unwrap();
    let parent = tempfile::tempdir().unwrap();
    let dotdot = tar_bytes(|b| add_file(b, "../../escaped.txt", b"x", 0o644));
    let err = BuildContext::from_tar_in(&dotdot[..], IgnoreSpec::None, parent.path()).unwrap_err();
    assert!(matches!(err, ContextError::UnsafeTarEntry { .. }), "{err}");

    let target = outside.path().to_str().unwrap().to_string();
    let through_link = tar_bytes(|b| {
        add_symlink(b, "evil", &target);
        add_file(b, "evil/pwned.txt", b"x", 0o644);
    });
    assert!(BuildContext::from_tar_in(&through_link[..], IgnoreSpec::None, parent.path()).is_err());
    assert!(!outside.path().join("pwned.txt").exists());
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
}

// ---- digests ----------------------------------------------------------------

fn digest_of(ctx: &BuildContext, srcs: &[&str], index: &mut MetadataIndex) -> String {
    let mut s = select(ctx, srcs, &SelectOptions::default()).unwrap();
    ctx.digest_sources(&mut s, index).unwrap()
}

fn age(path: &Path) {
    // Files must be older than the racy window before their digest is remembered.
    let _ = path;
    std::thread::sleep(Duration::from_millis(120));
}

fn fast_index(path: &Path) -> MetadataIndex {
    let mut idx = MetadataIndex::open(path).unwrap();
    idx.set_racy_window(Duration::from_millis(50));
    idx
}

/// Every regular file's entry carries its content digest after `digest_sources`, whether
/// read or known from the index; other entries carry none.
#[test]
fn digest_sources_gives_each_file_its_content_digest() {
    use sha2::{Digest as _, Sha256};
    let state = tempfile::tempdir().unwrap();
    let (dir, ctx) = ctx_with_ignore(&["app/a.txt", "app/sub/c.txt", "app/l -> a.txt"], "");
    age(dir.path());
    for round in ["read", "from the index"] {
        let mut idx = fast_index(&state.path().join("ctx-index"));
        let mut s = select(&ctx, &["app"], &SelectOptions::default()).unwrap();
        assert!(s
            .iter()
            .flat_map(|s| s.entries())
            .all(|e| e.digest.is_none()));
        ctx.digest_sources(&mut s, &mut idx).unwrap();
        idx.save().unwrap();
        let mut files = 0;
        for e in s.iter().flat_map(|s| s.entries()) {
            if e.kind == FileKind::File {
                let want: [u8; 32] = Sha256::digest(fs::read(&e.path).unwrap()).into();
                assert_eq!(e.digest, Some(want), "{round}: {}", e.path.display());
                files += 1;
            } else {
                assert_eq!(e.digest, None, "{round}: {}", e.path.display());
            }
        }
        assert_eq!(files, 2, "{round}");
    }
}

#[test]
fn digest_ignores_mtime_and_reuses_unchanged_files() {
    let state = tempfile::tempdir().unwrap();
    let index_path = state.path().join("ctx-index");
    let (dir, ctx) = ctx_with_ignore(
        &["app/a.txt", "app/b.txt", "app/sub/c.txt", "app/l -> a.txt"],
        "",
    );
    age(dir.path());

    let mut idx = fast_index(&index_path);
    let d1 = digest_of(&ctx, &["app"], &mut idx);
    assert!(d1.starts_with("sha256:") && d1.len() == 71);
    assert_eq!(idx.stats().files_read, 3);
    idx.save().unwrap();

    // A new process: unchanged files are not read again.
    let mut idx = fast_index(&index_path);
    assert_eq!(idx.len(), 3);
    assert_eq!(digest_of(&ctx, &["app"], &mut idx), d1);
    assert_eq!(idx.stats().files_read, 0);
    assert_eq!(idx.stats().hits, 3);

    // Touch: new mtime, same content → same digest, but the file is re-read.
    let a = dir.path().join("app/a.txt");
    let f = fs::File::options().write(true).open(&a).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    drop(f);
    assert_eq!(digest_of(&ctx, &["app"], &mut idx), d1);
    assert_eq!(idx.stats().files_read, 1);

    // Content change with the same size and the old mtime restored: ctime betrays it.
    let old_mtime = fs::metadata(&a).unwrap().modified().unwrap();
    fs::write(&a, "CONTENT OF app/a.txt").unwrap();
    let f = fs::File::options().write(true).open(&a).unwrap();
    f.set_modified(old_mtime).unwrap();
    drop(f);
    let d2 = digest_of(&ctx, &["app"], &mut idx);
    assert_ne!(d2, d1);
    assert_eq!(idx.stats().files_read, 2);

    // Mode change changes the digest too.
    fs::set_permissions(
        dir.path().join("app/b.txt"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let d3 = digest_of(&ctx, &["app"], &mut idx);
    assert_ne!(d3, d2);

    // Symlink target is part of the digest.
    fs::remove_file(dir.path().join("app/l")).unwrap();
    symlink("b.txt", dir.path().join("app/l")).unwrap();
    assert_ne!(digest_of(&ctx, &["app"], &mut idx), d3);
    idx.save().unwrap();
}

#[test]
fn digest_depends_on_selection_not_location() {
    let spec = &["x/a", "x/b/c", "y/a"];
    let (_d1, ctx1) = ctx_with_ignore(spec, "");
    let (_d2, ctx2) = ctx_with_ignore(spec, "");
    let mut idx = MetadataIndex::in_memory();
    let one = digest_of(&ctx1, &["x"], &mut idx);
    assert_eq!(
        one,
        digest_of(&ctx2, &["x"], &mut idx),
        "same tree elsewhere, same digest"
    );
    // Different selections of identical bytes differ where the copy result differs.
    assert_ne!(
        digest_of(&ctx1, &["x/a"], &mut idx),
        digest_of(&ctx1, &["y/a"], &mut idx).replace('0', "1")
    );
    assert_ne!(
        digest_of(&ctx1, &["x"], &mut idx),
        digest_of(&ctx1, &["y"], &mut idx)
    );
    assert_ne!(
        digest_of(&ctx1, &["x/a", "y"], &mut idx),
        digest_of(&ctx1, &["y", "x/a"], &mut idx)
    );
    // Empty wildcard selection has a stable digest.
    assert_eq!(
        digest_of(&ctx1, &["*.none"], &mut idx),
        digest_of(&ctx2, &["*.none"], &mut idx)
    );
}

#[test]
fn index_survives_only_atomic_writes() {
    let state = tempfile::tempdir().unwrap();
    let index_path = state.path().join("nested/dir/index");
    let (dir, ctx) = ctx_with_ignore(&["f"], "");
    age(dir.path());
    let mut idx = fast_index(&index_path);
    digest_of(&ctx, &["f"], &mut idx);
    idx.save().unwrap();
    assert!(index_path.exists());
    // No temp files left next to it.
    let names: Vec<_> = fs::read_dir(index_path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("index")]);
    // Entries of deleted files are dropped on the next save.
    fs::remove_file(dir.path().join("f")).unwrap();
    let mut idx = fast_index(&index_path);
    assert_eq!(idx.len(), 1);
    idx.save().unwrap();
    assert_eq!(fast_index(&index_path).len(), 0);
}

/// Run with `cargo test --release --test context -- --ignored --nocapture big_context`.
#[test]
#[ignore]
fn big_context() {
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    for d in 0..1000 {
        let sub = dir.path().join(format!("src/d{d:04}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..100 {
            fs::write(sub.join(format!("f{f:03}.txt")), format!("{d}/{f}")).unwrap();
        }
    }
    fs::create_dir_all(dir.path().join("node_modules/pkg")).unwrap();
    for f in 0..20_000 {
        fs::write(dir.path().join(format!("node_modules/pkg/{f}.js")), "x").unwrap();
    }
    fs::write(
        dir.path().join(".dockerignore"),
        "node_modules\n**/f09*.txt\n",
    )
    .unwrap();
    eprintln!("created 120k files in {:?}", start.elapsed());
    std::thread::sleep(Duration::from_millis(200));

    let ctx = BuildContext::from_dir(dir.path(), IgnoreSpec::Auto { dockerfile: None }).unwrap();
    let t = std::time::Instant::now();
    let mut s = select(&ctx, &["."], &SelectOptions::default()).unwrap();
    let n = s[0].entries().count();
    eprintln!("selected {n} entries in {:?}", t.elapsed());
    assert_eq!(n, 1 + 1000 + 90_000 + 1);

    let index_path = dir.path().join("../big-index");
    let mut idx = fast_index(&index_path);
    let t = std::time::Instant::now();
    let d1 = ctx.digest_sources(&mut s, &mut idx).unwrap();
    eprintln!("cold digest in {:?} ({:?})", t.elapsed(), idx.stats());
    idx.save().unwrap();
    let mut idx = fast_index(&index_path);
    let t = std::time::Instant::now();
    let mut s = select(&ctx, &["."], &SelectOptions::default()).unwrap();
    let d2 = ctx.digest_sources(&mut s, &mut idx).unwrap();
    eprintln!(
        "warm select+digest in {:?} ({:?})",
        t.elapsed(),
        idx.stats()
    );
    assert_eq!(d1, d2);
    assert_eq!(idx.stats().files_read, 0);
    let _ = fs::remove_file(index_path);
}

/// Docker 26.1's client sends only the context paths the build reads (and
/// their parents): a wildcard's directory that holds nothing the build
/// reads is missing, unless some other source reaches into it or above it.
/// (Recorded with Docker 26.1 CLI + buildx: `COPY exists/*.nomatch /dst/`
/// fails `lstat …/exists`, and builds next to `COPY exists/a.txt /a`.)
#[test]
fn wildcard_directories_exist_only_when_the_build_reads_into_them() {
    let (_dir, mut ctx) = ctx_with_ignore(&["exists/a.txt", "exists/sub/s.txt", "afile"], "");
    let read = |paths: &[&str]| Some(paths.iter().map(|p| p.to_string()).collect());
    let nothing = SelectOptions::default();
    ctx.limit_to_read_paths(read(&["/exists/*.nomatch", "/exists/sub/*.x", "/afile/*"]))
        .unwrap();
    for (src, msg) in [
        (
            "exists/*.nomatch",
            "lstat /exists: no such file or directory",
        ),
        (
            "exists/sub/*.x",
            "lstat /exists/sub: no such file or directory",
        ),
        ("afile/*", "lstat /afile: no such file or directory"),
    ] {
        assert_eq!(select(&ctx, &[src], &nothing).unwrap_err().to_string(), msg);
    }
    // Matches make their directory sent; a path above or below it too.
    for reads in [
        &["/exists/*.nomatch", "/exists/a.txt"][..],
        &["/exists/*.nomatch", "/exists/sub/s.txt"],
        &["/exists/*.nomatch", "/ex*"],
        &["/exists/*.nomatch", "/exists/*.txt"],
    ] {
        ctx.limit_to_read_paths(read(reads)).unwrap();
        let s = select(&ctx, &["exists/*.nomatch"], &nothing).unwrap();
        assert!(s[0].matches.is_empty(), "{reads:?}");
    }
    ctx.limit_to_read_paths(read(&["/exists/*.nomatch", "/exists/sub/*.txt"]))
        .unwrap();
    assert!(select(&ctx, &["exists/sub/*.x"], &nothing).unwrap()[0]
        .matches
        .is_empty());
    ctx.limit_to_read_paths(read(&["/afile/*", "/afile"]))
        .unwrap();
    assert!(select(&ctx, &["afile/*"], &nothing).unwrap()[0]
        .matches
        .is_empty());
    // The whole context read (`COPY . /x`): everything is there.
    ctx.limit_to_read_paths(None).unwrap();
    assert!(select(&ctx, &["exists/*.nomatch"], &nothing).unwrap()[0]
        .matches
        .is_empty());
}
