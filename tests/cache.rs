//! The step cache through the real CLI: a change to a copied file, a build
//! arg a step uses, the base image, or a Dockerfile line invalidates exactly
//! the steps from that point on; mtime-only changes invalidate nothing.
//! Needs root (overlay mounts, namespaces) and busybox-static.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn builder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_builder"))
}

use support::run_ok_all as run_ok;

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let w = World { dir };
        w.import("base:1", "one");
        w
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Imports the rootfs as `tag`, with a marker env so two imports differ.
    fn import(&self, tag: &str, marker: &str) {
        run_ok(
            builder()
                .arg("import")
                .arg("--root")
                .arg(self.root())
                .args(["--env", &format!("MARKER={marker}"), "-t", tag])
                .arg(support::busybox_rootfs("cache-busybox-rootfs")),
        );
    }

    fn ctx(&self) -> PathBuf {
        self.dir.path().join("ctx")
    }

    /// Builds and returns, per step line `[stage-0 N/M] …`, whether it was CACHED.
    fn build(&self, extra: &[&str]) -> Vec<(String, bool)> {
        let log = run_ok(
            builder()
                .args(["build", "--progress", "plain", "--root"])
                .arg(self.root())
                .args(extra)
                .args(["-t", "out"])
                .arg(self.ctx()),
        );
        let mut steps: Vec<(usize, String, bool)> = Vec::new();
        for line in log.lines() {
            let mut parts = line.splitn(2, ' ');
            let (Some(num), Some(rest)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some(n) = num.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()) else {
                continue;
            };
            if rest.starts_with('[') {
                steps.push((n, rest.to_string(), false));
            } else if rest == "CACHED" {
                if let Some(s) = steps.iter_mut().find(|s| s.0 == n) {
                    s.2 = true;
                }
            }
        }
        steps
            .into_iter()
            .map(|(_, name, cached)| (name, cached))
            .collect()
    }
}

/// Which of the layer steps (COPY a, RUN using ARG, COPY b, RUN) came from the cache.
fn cached(steps: &[(String, bool)]) -> Vec<bool> {
    steps
        .iter()
        .filter(|(name, _)| name.contains("COPY") || name.contains("RUN"))
        .map(|(_, c)| *c)
        .collect()
}

#[test]
fn invalidation_is_exact() {
    let w = World::new();
    fs::create_dir_all(w.ctx()).unwrap();
    fs::write(w.ctx().join("a.txt"), "a1").unwrap();
    fs::write(w.ctx().join("b.txt"), "b1").unwrap();
    let dockerfile = "FROM base:1\nCOPY a.txt /a\nARG V=1\nRUN echo $V > /v\nCOPY b.txt /b\nRUN cat /a /b /v > /all\n";
    fs::write(w.ctx().join("Dockerfile"), dockerfile).unwrap();

    assert_eq!(
        cached(&w.build(&[])),
        vec![false, false, false, false],
        "cold build"
    );
    assert_eq!(
        cached(&w.build(&[])),
        vec![true, true, true, true],
        "unchanged rebuild"
    );

    // mtime only (touch, a fresh checkout): nothing changes.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(w.ctx().join("a.txt"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    assert_eq!(cached(&w.build(&[])), vec![true, true, true, true], "touch");

    // A copied file: that step and everything after it.
    fs::write(w.ctx().join("b.txt"), "b2").unwrap();
    assert_eq!(
        cached(&w.build(&[])),
        vec![true, true, false, false],
        "b.txt changed"
    );

    // A build arg a RUN uses: from that RUN on.
    assert_eq!(
        cached(&w.build(&["--build-arg", "V=2"])),
        vec![true, false, false, false],
        "build arg"
    );

    // A Dockerfile line: from that line on.
    let changed = dockerfile.replace("cat /a /b /v", "cat /v /b /a");
    fs::write(w.ctx().join("Dockerfile"), changed).unwrap();
    assert_eq!(
        cached(&w.build(&[])),
        vec![true, true, true, false],
        "last line changed"
    );

    // The base image (same tag, new digest): everything.
    w.import("base:1", "two");
    assert_eq!(
        cached(&w.build(&[])),
        vec![false, false, false, false],
        "new base digest"
    );

    // --no-cache runs everything even when nothing changed.
    assert_eq!(
        cached(&w.build(&["--no-cache"])),
        vec![false, false, false, false],
        "--no-cache"
    );
}

/// Each build context has its own metadata index (`cache/context-index.d/`): a build of
/// one context neither reads nor rewrites another's, and a build that copies nothing from
/// its context opens none. The single index of older versions is removed.
#[test]
fn each_context_has_its_own_metadata_index() {
    let w = World::new();
    let indexes = w.root().join("cache/context-index.d");
    let files = || -> Vec<(PathBuf, Vec<u8>)> {
        let mut v: Vec<_> = fs::read_dir(&indexes)
            .map(|d| {
                d.map(|e| {
                    let p = e.unwrap().path();
                    let bytes = fs::read(&p).unwrap();
                    (p, bytes)
                })
                .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    fs::create_dir_all(w.root().join("cache")).unwrap();
    fs::write(
        w.root().join("cache/context-index"),
        "an index of an older version",
    )
    .unwrap();
    let make = |name: &str, dockerfile: &str| {
        let ctx = w.dir.path().join(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("f.txt"), name).unwrap();
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        ctx
    };
    let build = |ctx: &PathBuf| {
        run_ok(
            builder()
                .args(["build", "--progress", "plain", "--root"])
                .arg(w.root())
                .arg(ctx),
        )
    };
    let a = make("a", "FROM base:1\nCOPY f.txt /f\n");
    let b = make("b", "FROM base:1\nCOPY . /ctx/\n");
    let none = make("none", "FROM base:1\nRUN echo no copy > /x\n");
    build(&a);
    let after_a = files();
    assert_eq!(after_a.len(), 1, "{after_a:?}");
    assert!(!w.root().join("cache/context-index").exists());
    build(&b);
    let after_b = files();
    assert_eq!(after_b.len(), 2, "{after_b:?}");
    assert!(
        after_b.contains(&after_a[0]),
        "a's index was rewritten by b's build"
    );
    build(&none);
    assert_eq!(
        files(),
        after_b,
        "a build that copies nothing touched an index"
    );
}
