//! Module info, syft's purls and main-module versions.

use super::exe::tests::{elf, framed, pointer_sections, MODINFO};
use super::*;

/// Build info of `modinfo` text as the inline (Go >= 1.18) layout.
fn inline(version: &str, modinfo: &str) -> BuildInfo {
    let mut hdr = b"\xff Go buildinf:\x08\x02".to_vec();
    hdr.resize(32, 0);
    for s in [version.as_bytes().to_vec(), framed(modinfo)] {
        hdr.push(s.len() as u8 | 0x80);
        hdr.push((s.len() >> 7) as u8);
        hdr.extend_from_slice(&s);
    }
    parse(&hdr).expect("inline build info")
}

fn purls(info: &BuildInfo) -> Vec<String> {
    let mut v: Vec<String> = packages(info, "/bin/x")
        .into_iter()
        .map(|p| p.purl)
        .collect();
    v.sort();
    v
}

#[test]
fn purls_split_the_path_as_syft() {
    assert_eq!(purl("stdlib", "1.21.0"), "pkg:golang/stdlib@1.21.0");
    assert_eq!(
        purl("gopkg.in/yaml.v3", "v3.0.1"),
        "pkg:golang/gopkg.in/yaml.v3@v3.0.1"
    );
    assert_eq!(
        purl("golang.org/x/text", "v0.14.0"),
        "pkg:golang/golang.org/x/text@v0.14.0"
    );
    // More than three elements: the rest is the subpath.
    assert_eq!(
        purl("github.com/cenkalti/backoff/v4", "v4.3.0"),
        "pkg:golang/github.com/cenkalti/backoff@v4.3.0#v4"
    );
    assert_eq!(
        purl("github.com/aws/aws-sdk-go-v2/service/s3", "v1.40.0"),
        "pkg:golang/github.com/aws/aws-sdk-go-v2@v1.40.0#service/s3"
    );
    // Versions as Go writes them, path-escaped (`+` stays, parentheses do not).
    assert_eq!(
        purl("github.com/docker/docker", "v24.0.7+incompatible"),
        "pkg:golang/github.com/docker/docker@v24.0.7+incompatible"
    );
    assert_eq!(
        purl("github.com/a/b", "v0.0.0-20210101000000-abcdef123456"),
        "pkg:golang/github.com/a/b@v0.0.0-20210101000000-abcdef123456"
    );
    assert_eq!(
        purl("example.com/hello", DEVEL),
        "pkg:golang/example.com/hello@%28devel%29"
    );
    // No version, no `@`.
    assert_eq!(
        purl("example.com/hello", ""),
        "pkg:golang/example.com/hello"
    );
}

#[test]
fn devel_main_module_takes_ldflags_then_vcs_then_stays() {
    let base = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
                dep\tgithub.com/docker/docker\tv24.0.7+incompatible\th1:x=\n";
    // Nothing to go by: `(devel)`, escaped.
    let info = inline("go1.21.5", base);
    assert_eq!(
        purls(&info),
        [
            "pkg:golang/example.com/app@%28devel%29",
            "pkg:golang/github.com/docker/docker@v24.0.7+incompatible",
            "pkg:golang/stdlib@1.21.5",
        ]
    );
    // VCS settings: Go's pseudo-version of the revision's first 12 characters, in UTC.
    let vcs = format!(
        "{base}build\tvcs=git\nbuild\tvcs.revision=0123456789abcdef0123\n\
         build\tvcs.time=2024-03-05T10:20:30+01:00\nbuild\tvcs.modified=false\n"
    );
    let info = inline("go1.21.5", &vcs);
    assert_eq!(
        info.setting("vcs.revision"),
        Some("0123456789abcdef0123"),
        "{:?}",
        info.settings
    );
    assert!(purls(&info)
        .contains(&"pkg:golang/example.com/app@v0.0.0-20240305092030-0123456789ab".to_string()));
    // -ldflags (quoted: it has spaces) wins over VCS; a missing `v` is added.
    let ld = format!("{vcs}build\t-ldflags=\"-s -w -X main.version=1.4.2\"\n");
    let info = inline("go1.21.5", &ld);
    assert_eq!(
        info.setting("-ldflags"),
        Some("-s -w -X main.version=1.4.2")
    );
    assert!(purls(&info).contains(&"pkg:golang/example.com/app@v1.4.2".to_string()));
    let tag = format!("{base}build\t-ldflags=\"-X github.com/x/y/pkg.Tag=v2.0.0-rc.1\"\n");
    assert!(purls(&inline("go1.21.5", &tag))
        .contains(&"pkg:golang/example.com/app@v2.0.0-rc".to_string()));
    // A tagged main module keeps its version whatever the settings say.
    let tagged = "mod\texample.com/app\tv1.0.0\th1:y=\nbuild\t-ldflags=\"-X main.version=9.9.9\"\n";
    assert!(purls(&inline("go1.21.5", tagged))
        .contains(&"pkg:golang/example.com/app@v1.0.0".to_string()));
}

#[test]
fn path_line_names_a_main_module_without_a_mod_line() {
    // `go build main.go`: syft lists `command-line-arguments` as `(devel)`.
    let info = inline("go1.22.0", "path\tcommand-line-arguments\n");
    assert_eq!(
        purls(&info),
        [
            "pkg:golang/command-line-arguments@%28devel%29",
            "pkg:golang/stdlib@1.22.0"
        ]
    );
}

#[test]
fn build_settings_unquote_as_go() {
    assert_eq!(
        build_setting("GOOS=linux"),
        Some(("GOOS".into(), "linux".into()))
    );
    assert_eq!(
        build_setting(r#"-tags="a b""#),
        Some(("-tags".into(), "a b".into()))
    );
    assert_eq!(
        build_setting(r#""odd=key"="v\tw\x41\u00e9\101""#),
        Some(("odd=key".into(), "v\twAéA".into()))
    );
    assert_eq!(
        build_setting("-gcflags=`raw \\n`"),
        Some(("-gcflags".into(), "raw \\n".into()))
    );
    for bad in [
        "",
        "=v",
        "novalue",
        r#"k="open"#,
        r#"k="a"b"#,
        r#"k="\q""#,
        r#""k"v"#,
    ] {
        assert_eq!(build_setting(bad), None, "{bad:?}");
    }
}

#[test]
fn binary_before_go_1_18_lists_its_modules() {
    let (bi, nd) = pointer_sections(true, false, b"go1.16.15", &framed(MODINFO));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old");
    std::fs::write(&path, elf(true, false, &bi, &nd, true)).unwrap();
    // Not executable: not read.
    assert!(binary(&path, "/usr/bin/old").is_empty());
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pkgs = binary(&path, "/usr/bin/old");
    let mut got: Vec<(&str, &str)> = pkgs
        .iter()
        .map(|p| (p.purl.as_str(), p.location.as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("pkg:golang/example.com/old@%28devel%29", "/usr/bin/old"),
            ("pkg:golang/github.com/pkg/errors@v0.9.1", "/usr/bin/old"),
            ("pkg:golang/stdlib@1.16.15", "/usr/bin/old"),
        ]
    );
}

#[test]
fn replacements_apply_except_local_directories() {
    let info = inline(
        "go1.20",
        "mod\tm\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.0\th1:x=\n=>\tgolang.org/x/text\tv0.3.8\th1:y=\n\
         dep\texample.com/fork\tv1.0.0\t\n=>\t../fork\t\t\n",
    );
    assert_eq!(
        info.deps,
        [
            Module {
                path: "golang.org/x/text".into(),
                version: "v0.3.8".into()
            },
            Module {
                path: "example.com/fork".into(),
                version: "v1.0.0".into()
            }
        ]
    );
}
