//! Shared by `tests/incremental.rs` and `tests/incremental_levels.rs`: a
//! context of 200 files, two stores (incremental and cold), builds, the
//! `snapshot: …` progress lines, and the exactness check of one change.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, run_ok, run_ok_all};

pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Later than every context mtime (so those stay as they are in the layers)
/// and earlier than the RUN's files (so its layer and the history are fixed).
pub const EPOCH: &str = "1700000000";
/// Context mtimes: pinned below the epoch, a new value for each version.
pub const PINNED: i64 = 1_600_000_000;

/// A context stage copied from the context and chowned by a build arg, and a
/// final stage copying it and listing what a RUN sees: every COPY is
/// followed by a RUN, so both the context COPY and the `COPY --from` need
/// their snapshot.
pub const DOCKERFILE: &str = "FROM base:1 AS src\n\
     COPY . /src/\n\
     ARG OWNER=0:0\n\
     RUN chown -R $OWNER /src/owned\n\
     FROM base:1\n\
     COPY --from=src /src/ /data/\n\
     RUN mkdir /out && find /data | sort | while read -r p; do stat -c '%n %f %u %g %s %Y' \"$p\"; done > /out/meta \\\n\
         && find /data -type f | sort | xargs sha256sum > /out/sums \\\n\
         && find /data -type l | sort | while read -r p; do echo \"$p -> $(readlink \"$p\")\"; done > /out/links\n";

pub struct World {
    pub dir: tempfile::TempDir,
    pub ctx: PathBuf,
    /// `--isolation` of every build, when not the default.
    pub isolation: Option<&'static str>,
}

impl World {
    /// Two stores with the busybox base imported and a context of 200
    /// files in nested dirs, a symlink, a hardlinked pair and three files
    /// the build arg chowns.
    pub fn new() -> World {
        let rootfs = support::busybox_rootfs("incremental-busybox");
        let dir = tempfile::Builder::new().prefix("incr-").tempdir().unwrap();
        for store in ["incr", "cold"] {
            import_base(dir.path(), store, &rootfs);
        }
        let ctx = dir.path().join("ctx");
        for i in 0..200 {
            let sub = ["a", "a/b", "c", "d/e/f"][i % 4];
            fs::create_dir_all(ctx.join(sub)).unwrap();
            let body = format!("file {i}\n").repeat(1 + i % 50);
            fs::write(ctx.join(format!("{sub}/f{i:03}")), body).unwrap();
        }
        fs::create_dir_all(ctx.join("owned")).unwrap();
        for n in ["x", "y", "z"] {
            fs::write(ctx.join("owned").join(n), n).unwrap();
        }
        symlink("../a/f000", ctx.join("c/link")).unwrap();
        fs::write(ctx.join("a/h1"), "linked pair\n").unwrap();
        fs::hard_link(ctx.join("a/h1"), ctx.join("a/h2")).unwrap();
        fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
        let w = World {
            dir,
            ctx,
            isolation: None,
        };
        w.pin(PINNED);
        w
    }

    /// Sets the mtime of every context entry changed since the last pin
    /// (all of them the first time) to `t`.
    pub fn pin(&self, t: i64) {
        let ts = nix::sys::time::TimeSpec::new(t, 0);
        let mut all: Vec<PathBuf> = walkdir::WalkDir::new(&self.ctx)
            .into_iter()
            .map(|e| e.unwrap().path().to_path_buf())
            .filter(|p| {
                use std::os::unix::fs::MetadataExt;
                fs::symlink_metadata(p).unwrap().mtime() > PINNED + 50_000_000
            })
            .collect();
        // Children first: setting a file's time does not move its dir's.
        all.reverse();
        for p in all {
            set_mtime(&p, ts);
        }
    }

    /// Builds the context into `store`; returns the image ID and the plain
    /// progress output.
    pub fn build(&self, store: &str, args: &[&str]) -> (String, String) {
        let iid = self.dir.path().join(format!("{store}.iid"));
        let out = run_ok_all(
            builder(self.dir.path(), store)
                .args(["build", "--progress", "plain", "--source-date-epoch", EPOCH])
                .args(self.isolation.iter().flat_map(|l| ["--isolation", l]))
                .args(args)
                .arg("--iidfile")
                .arg(&iid)
                .arg(&self.ctx),
        );
        (fs::read_to_string(&iid).unwrap(), out)
    }

    /// What the RUN of the final stage listed, from an image in `store`.
    pub fn listing(&self, store: &str, args: &[&str]) -> String {
        let dest = self.dir.path().join(format!("{store}-rootfs"));
        let _ = fs::remove_dir_all(&dest);
        run_ok_all(
            builder(self.dir.path(), store)
                .args(["build", "--progress", "plain", "--source-date-epoch", EPOCH])
                .args(self.isolation.iter().flat_map(|l| ["--isolation", l]))
                .args(args)
                .arg("--output")
                .arg(format!("type=local,dest={}", dest.display()))
                .arg(&self.ctx),
        );
        ["meta", "sums", "links"]
            .iter()
            .map(|f| fs::read_to_string(dest.join("out").join(f)).unwrap())
            .collect()
    }

    pub fn check_store(&self, store: &str) {
        let out = run_ok_all(builder(self.dir.path(), store).args(["debug", "check-store"]));
        assert!(out.contains(" 0 problems"), "check-store: {out}");
    }
}

/// Sets the access and modification times of `path` (not following a symlink) to `t`.
pub fn set_mtime(path: &Path, t: nix::sys::time::TimeSpec) {
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// Imports the busybox rootfs as `base:1` into `store`.
pub fn import_base(dir: &Path, store: &str, rootfs: &Path) {
    run_ok(
        builder(dir, store)
            .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
            .args(["--cmd", "sh", "-t", "base:1"])
            .arg(rootfs),
    );
}

pub fn builder(dir: &Path, store: &str) -> Command {
    support::builder(&dir.join(store), &dir.join("docker"))
}

/// One `snapshot: …` progress line: how a COPY/ADD layer's snapshot was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snap {
    /// A delta over the base (else a full snapshot cloned from it).
    pub delta: bool,
    /// The short diffID of the base.
    pub base: String,
    /// Files linked from (clone) or left to (delta) the base.
    pub kept: u64,
    pub written: u64,
    pub whiteouts: u64,
    /// Directories a delta left to its base.
    pub dirs_left: u64,
    /// Whether the delta was planned from the two layer tars (no base file read).
    pub from_tars: bool,
}

/// Every incremental snapshot line in `out`, in order: `snapshot: delta over
/// BASE (K files unchanged, W written, N whiteouts, D dirs left, by the tars|files)` or `snapshot:
/// incremental (K files linked from BASE, W written)`.
pub fn snapshot_lines(out: &str) -> Vec<Snap> {
    let num = |s: &str| s.trim().split(' ').next().unwrap().parse::<u64>().unwrap();
    out.lines()
        .filter_map(|l| {
            if let Some((_, rest)) = l.split_once("snapshot: delta over ") {
                let (base, inside) = rest.split_once(" (").unwrap();
                let parts: Vec<&str> = inside.trim_end_matches(')').split(", ").collect();
                return Some(Snap {
                    delta: true,
                    base: base.to_string(),
                    kept: num(parts[0]),
                    written: num(parts[1]),
                    whiteouts: num(parts[2]),
                    dirs_left: num(parts[3]),
                    from_tars: parts[4] == "by the tars",
                });
            }
            let (inside, _) = l.split_once("snapshot: incremental (")?.1.split_once(')')?;
            let (linked, rest) = inside.split_once(" files linked from ").unwrap();
            let (base, written) = rest.split_once(", ").unwrap();
            Some(Snap {
                delta: false,
                base: base.to_string(),
                kept: num(linked),
                written: num(written),
                whiteouts: 0,
                dirs_left: 0,
                from_tars: false,
            })
        })
        .collect()
}

/// The written counts of `lines`, asserting each snapshot was made as a delta planned
/// from the layer tars.
pub fn delta_written(lines: &[Snap], out: &str) -> Vec<u64> {
    assert!(
        lines.iter().all(|l| l.delta && l.from_tars),
        "every snapshot is a delta planned from the tars:\n{out}"
    );
    lines.iter().map(|l| l.written).collect()
}

/// Builds v1, applies `change`, builds v2 (with `v2_args`) incrementally and
/// cold, and checks everything the module docs list. `written` is what each
/// incremental snapshot must have written (`None`: that snapshot is not
/// expected to be made), each a delta over the v1 snapshot; returns the
/// incremental build's listing and its snapshot lines.
pub fn case(
    change: impl FnOnce(&World),
    v2_args: &[&str],
    src_written: Option<u64>,
    data_written: u64,
) -> (String, Vec<Snap>) {
    let w = World::new();
    let (v1, first) = w.build("incr", &[]);
    assert!(
        snapshot_lines(&first).is_empty(),
        "nothing to reuse on a cold build:\n{first}"
    );
    change(&w);
    w.pin(PINNED + 100);
    let (v2, out) = w.build("incr", v2_args);
    assert_ne!(v1, v2, "the change must change the image");
    let lines = snapshot_lines(&out);
    let want: Vec<u64> = src_written.into_iter().chain([data_written]).collect();
    assert_eq!(
        delta_written(&lines, &out),
        want,
        "files written by each delta snapshot:\n{out}"
    );
    for l in &lines {
        assert!(l.kept >= 150, "most files are left to the base:\n{out}");
    }
    let (cold, _) = w.build("cold", v2_args);
    assert_eq!(v2, cold, "incremental and cold builds differ");
    w.check_store("incr");
    let listing = w.listing("incr", v2_args);
    assert_eq!(listing, w.listing("cold", v2_args));
    (listing, lines)
}

/// `(tree, base snapshot dir)` of every delta snapshot in the store at `root`.
pub fn deltas(root: &Path) -> Vec<(PathBuf, PathBuf)> {
    let Ok(entries) = fs::read_dir(root.join("deltas")) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let d = e.unwrap().path();
            let record = fs::read_to_string(d.join("base")).unwrap();
            let hex = record.lines().next().unwrap().trim_start_matches("sha256:");
            (d.join("tree"), root.join("snapshots").join(hex))
        })
        .collect()
}
