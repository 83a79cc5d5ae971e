//! `builder prune` through the real CLI: it drops step-cache records and
//! cache mounts (all, or the least recently used beyond `--keep-storage`),
//! a cache hit counts as a use, and tagged images always survive.
//! Needs root (overlay mounts, namespaces) and busybox-static.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn builder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_builder"))
}

use support::run_ok_all as run_ok;

/// A store with the busybox rootfs imported as `base:1`, and build contexts.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = support::busybox_rootfs("prune-busybox-rootfs");
        let w = World { dir };
        run_ok(
            builder()
                .args(["import", "--root"])
                .arg(w.root())
                .args(["-t", "base:1"])
                .arg(&rootfs),
        );
        w
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A context `name` with `dockerfile` and a 1 MiB file `big.bin` whose
    /// content differs per context (so layers are never shared).
    fn context(&self, name: &str, dockerfile: &str) -> PathBuf {
        let ctx = self.dir.path().join(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        let mut big = Vec::with_capacity(1 << 20);
        let mut x: u32 = name.bytes().fold(7, |a, b| a.wrapping_mul(31) ^ b as u32);
        while big.len() < 1 << 20 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            big.extend_from_slice(&x.to_le_bytes());
        }
        fs::write(ctx.join("big.bin"), big).unwrap();
        ctx
    }

    /// Builds `ctx` (with `extra` args) and returns, per layer step (COPY,
    /// RUN), whether it came from the cache.
    fn build(&self, ctx: &Path, extra: &[&str]) -> Vec<bool> {
        let log = run_ok(
            builder()
                .args(["build", "--progress", "plain", "--root"])
                .arg(self.root())
                .args(extra)
                .arg(ctx),
        );
        let mut steps: Vec<(usize, bool, bool)> = Vec::new();
        for line in log.lines() {
            let Some((num, rest)) = line.split_once(' ') else {
                continue;
            };
            let Some(n) = num.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()) else {
                continue;
            };
            if rest.starts_with('[') {
                let layered = rest.contains(" COPY ") || rest.contains(" RUN ");
                steps.push((n, layered, false));
            } else if rest == "CACHED" {
                if let Some(s) = steps.iter_mut().find(|s| s.0 == n) {
                    s.2 = true;
                }
            }
        }
        steps.into_iter().filter(|s| s.1).map(|s| s.2).collect()
    }

    fn prune(&self, extra: &[&str]) -> String {
        run_ok(
            builder()
                .args(["prune", "--root"])
                .arg(self.root())
                .args(extra),
        )
    }

    fn count(&self, sub: &str) -> usize {
        fs::read_dir(self.root().join(sub))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

#[test]
fn prune_removes_all_cache_and_keeps_tagged_images() {
    let w = World::new();
    let ctx = w.context(
        "all",
        "FROM base:1\nCOPY big.bin /big.bin\nRUN --mount=type=cache,target=/var/cache/x echo hi > /var/cache/x/f && echo done > /done\n",
    );
    assert_eq!(w.build(&ctx, &["-t", "keep:1"]), vec![false, false]);
    assert_eq!(w.build(&ctx, &["-t", "keep:1"]), vec![true, true]);
    assert_eq!((w.count("cache/steps"), w.count("cache/mounts")), (2, 1));

    let out = w.prune(&[]);
    assert!(out.contains("Deleted build cache objects:"), "{out}");
    assert!(out.contains("(cache mount)"), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(w.count("cache/steps"), 0, "{out}");
    assert_eq!(w.count("cache/mounts"), 0, "{out}");
    let roots: Vec<_> = fs::read_dir(w.root().join("cache/roots"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(roots.is_empty(), "{roots:?}");

    // Tagged images survive, blobs and all: both still run.
    let images = run_ok(builder().args(["images", "--root"]).arg(w.root()));
    assert!(
        images.contains("base") && images.contains("keep"),
        "{images}"
    );
    let cat = run_ok(
        builder()
            .args(["run", "--rm", "--root"])
            .arg(w.root())
            .args(["keep:1", "cat", "/done"]),
    );
    assert!(cat.contains("done"), "{cat}");

    // With no records left every step runs again.
    assert_eq!(w.build(&ctx, &[]), vec![false, false]);
    assert_eq!(w.count("cache/mounts"), 1, "the cache mount comes back");
}

#[test]
fn keep_storage_keeps_the_most_recently_used() {
    let w = World::new();
    let a = w.context(
        "a",
        "FROM base:1\nCOPY big.bin /big.bin\nRUN echo a > /who\n",
    );
    let b = w.context(
        "b",
        "FROM base:1\nCOPY big.bin /big.bin\nRUN echo b > /who\n",
    );
    // Each Dockerfile's cache holds ~2 MiB (the COPY layer's blob and its
    // snapshot); the base image is tagged and not counted. 3MB (binary, as
    // in Docker) fits one.
    let keep = ["--keep-storage", "3MB"];

    assert_eq!(w.build(&a, &[]), vec![false, false]);
    assert_eq!(w.build(&b, &[]), vec![false, false]);
    let out = w.prune(&keep);
    assert!(out.contains("Kept 2 cache entries"), "{out}");
    assert_eq!(w.build(&b, &[]), vec![true, true], "newest kept\n{out}");
    assert_eq!(w.build(&a, &[]), vec![false, false], "older dropped\n{out}");

    // Now a's records are the newest written; a cache hit on b makes b the
    // most recently used, so b survives and a goes.
    assert_eq!(w.build(&b, &[]), vec![true, true]);
    let out = w.prune(&keep);
    assert_eq!(w.build(&b, &[]), vec![true, true], "hit refreshed b\n{out}");
    assert_eq!(w.build(&a, &[]), vec![false, false], "a dropped\n{out}");

    // A filter protects what was used recently, whatever the budget.
    let out = w.prune(&["--keep-storage", "1kB", "--filter", "until=1h"]);
    assert!(!out.contains("Deleted build cache objects"), "{out}");
    assert_eq!(w.build(&a, &[]), vec![true, true], "{out}");
    assert_eq!(w.build(&b, &[]), vec![true, true], "{out}");

    // Base survives every prune.
    let images = run_ok(builder().args(["images", "--root"]).arg(w.root()));
    assert!(images.contains("base"), "{images}");
}

#[test]
fn bad_flags_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--keep-storage", "10XB"][..],
        &["--keep-storage=-1"][..],
        &["--filter", "until=forever"][..],
        &["--filter", "type=regular"][..],
    ] {
        let o = builder()
            .args(["prune", "--root"])
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("invalid") || err.contains("filter"), "{err}");
    }
}

#[test]
fn prune_waits_for_other_store_users() {
    let dir = tempfile::tempdir().unwrap();
    // Any open store (a running build holds one) keeps prune from starting,
    // so it never removes a record a build is writing or about to use.
    let store = builder::store::Store::open(dir.path()).unwrap();
    let mut child = builder()
        .args(["prune", "--root"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "prune ran while the store was in use"
    );
    drop(store);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Total reclaimed space"));
}
