//! Incremental snapshots (`engine::incremental`, `layer::reuse`): after a
//! change to the files a COPY reads, the snapshot a later RUN needs is made
//! from the previous one. For each kind of change the context is built
//! (v1), changed and built again (v2) in one store, and built once, cold,
//! at v2 in a fresh store: the image IDs must be equal (every layer, the
//! RUN's listing of the tree it saw included: paths, modes, owners, sizes,
//! mtimes, contents, link targets), the store must pass `builder debug
//! check-store` (each snapshot equal to a fresh extraction of its layer),
//! and the plain progress output must show the incremental path taken with
//! the number of files it wrote. Needs root (overlay mounts) and
//! busybox-static.

mod support;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{run_ok, run_ok_all};

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Later than every context mtime (so those stay as they are in the layers)
/// and earlier than the RUN's files (so its layer and the history are fixed).
const EPOCH: &str = "1700000000";
/// Context mtimes: pinned below the epoch, a new value for each version.
const PINNED: i64 = 1_600_000_000;

/// A context stage copied from the context and chowned by a build arg, and a
/// final stage copying it and listing what a RUN sees: every COPY is
/// followed by a RUN, so both the context COPY and the `COPY --from` need
/// their snapshot.
const DOCKERFILE: &str = "FROM base:1 AS src\n\
     COPY . /src/\n\
     ARG OWNER=0:0\n\
     RUN chown -R $OWNER /src/owned\n\
     FROM base:1\n\
     COPY --from=src /src/ /data/\n\
     RUN mkdir /out && find /data | sort | while read -r p; do stat -c '%n %f %u %g %s %Y' \"$p\"; done > /out/meta \\\n\
         && find /data -type f | sort | xargs sha256sum > /out/sums \\\n\
         && find /data -type l | sort | while read -r p; do echo \"$p -> $(readlink \"$p\")\"; done > /out/links\n";

struct World {
    dir: tempfile::TempDir,
    ctx: PathBuf,
    /// `--isolation` of every build, when not the default.
    isolation: Option<&'static str>,
}

impl World {
    /// Two stores with the busybox base imported and a context of 200
    /// files in nested dirs, a symlink, a hardlinked pair and three files
    /// the build arg chowns.
    fn new() -> World {
        let rootfs = support::busybox_rootfs("incremental-busybox");
        let dir = tempfile::Builder::new().prefix("incr-").tempdir().unwrap();
        for store in ["incr", "cold"] {
            run_ok(
                builder(dir.path(), store)
                    .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
                    .args(["--cmd", "sh", "-t", "base:1"])
                    .arg(&rootfs),
            );
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
    fn pin(&self, t: i64) {
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
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                &p,
                &ts,
                &ts,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
    }

    /// Builds the context into `store`; returns the image ID and the plain
    /// progress output.
    fn build(&self, store: &str, args: &[&str]) -> (String, String) {
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
    fn listing(&self, store: &str, args: &[&str]) -> String {
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

    fn check_store(&self, store: &str) {
        let out = run_ok_all(builder(self.dir.path(), store).args(["debug", "check-store"]));
        assert!(out.contains(" 0 problems"), "check-store: {out}");
    }
}

fn builder(dir: &Path, store: &str) -> Command {
    support::builder(&dir.join(store), &dir.join("docker"))
}

/// One `snapshot: …` progress line: how a COPY/ADD layer's snapshot was made.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snap {
    /// A delta over the base (else a full snapshot cloned from it).
    delta: bool,
    /// The short diffID of the base.
    base: String,
    /// Files linked from (clone) or left to (delta) the base.
    kept: u64,
    written: u64,
    whiteouts: u64,
}

/// Every incremental snapshot line in `out`, in order: `snapshot: delta over
/// BASE (K files unchanged, W written, N whiteouts)` or `snapshot:
/// incremental (K files linked from BASE, W written)`.
fn snapshot_lines(out: &str) -> Vec<Snap> {
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
            })
        })
        .collect()
}

/// The written counts of `lines`, asserting each snapshot was made as a delta.
fn delta_written(lines: &[Snap], out: &str) -> Vec<u64> {
    assert!(
        lines.iter().all(|l| l.delta),
        "every snapshot is a delta:\n{out}"
    );
    lines.iter().map(|l| l.written).collect()
}

/// Builds v1, applies `change`, builds v2 (with `v2_args`) incrementally and
/// cold, and checks everything the module docs list. `written` is what each
/// incremental snapshot must have written (`None`: that snapshot is not
/// expected to be made), each a delta over the v1 snapshot; returns the
/// incremental build's listing and its snapshot lines.
fn case(
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

#[test]
fn changed_content_of_the_same_size() {
    let (l, _) = case(
        |w| fs::write(w.ctx.join("a/f000"), "FILE 0\n").unwrap(),
        &[],
        Some(1),
        1,
    );
    assert!(l.contains("/data/a/f000 81a4 0 0 7 1600000100"), "{l}");
}

#[test]
fn added_files_and_dirs() {
    let (l, _) = case(
        |w| {
            fs::write(w.ctx.join("c/new"), "new\n").unwrap();
            fs::create_dir_all(w.ctx.join("newdir/sub")).unwrap();
            fs::write(w.ctx.join("newdir/sub/n"), "n\n").unwrap();
        },
        &[],
        Some(2),
        2,
    );
    assert!(l.contains("/data/newdir/sub/n "), "{l}");
}

#[test]
fn removed_files_and_a_removed_dir() {
    let (l, lines) = case(
        |w| {
            fs::remove_file(w.ctx.join("a/f004")).unwrap();
            fs::remove_dir_all(w.ctx.join("d")).unwrap();
        },
        &[],
        Some(0),
        0,
    );
    assert!(!l.contains("/data/a/f004") && !l.contains("/data/d"), "{l}");
    // One whiteout for the file, one for the topmost removed dir.
    assert_eq!(
        lines.iter().map(|l| l.whiteouts).collect::<Vec<_>>(),
        [2, 2]
    );
}

#[test]
fn renamed_file() {
    let (l, lines) = case(
        |w| fs::rename(w.ctx.join("a/f008"), w.ctx.join("a/renamed")).unwrap(),
        &[],
        Some(1),
        1,
    );
    assert!(
        l.contains("/data/a/renamed ") && !l.contains("/data/a/f008"),
        "{l}"
    );
    assert!(lines.iter().all(|l| l.whiteouts == 1), "{lines:?}");
}

#[test]
fn mode_only_change() {
    let (l, _) = case(
        |w| fs::set_permissions(w.ctx.join("a/f012"), fs::Permissions::from_mode(0o750)).unwrap(),
        &[],
        Some(1),
        1,
    );
    assert!(l.contains("/data/a/f012 81e8 0 0 "), "{l}");
}

/// The context COPY is cached; the chown RUN changes owners only, which the
/// `COPY --from` keeps: its layer differs in the three owned files.
#[test]
fn owner_only_change() {
    let (l, _) = case(|_| {}, &["--build-arg", "OWNER=5:6"], None, 3);
    assert!(l.contains("/data/owned/x 81a4 5 6 "), "{l}");
}

/// A file becomes a directory (v2), then a file again (v3, new content);
/// each version equals its cold build.
#[test]
fn file_replaced_by_a_dir_and_back() {
    let f = "a/f016";
    let (l, _) = case(
        |w| {
            fs::remove_file(w.ctx.join(f)).unwrap();
            fs::create_dir(w.ctx.join(f)).unwrap();
            fs::write(w.ctx.join(f).join("inside"), "inside\n").unwrap();
        },
        &[],
        Some(1),
        1,
    );
    assert!(l.contains("/data/a/f016/inside "), "{l}");
    // Back: a v3 over v2 in the same store, against a cold v3.
    let w = World::new();
    w.build("incr", &[]);
    fs::remove_file(w.ctx.join(f)).unwrap();
    fs::create_dir(w.ctx.join(f)).unwrap();
    fs::write(w.ctx.join(f).join("inside"), "inside\n").unwrap();
    w.pin(PINNED + 100);
    w.build("incr", &[]);
    fs::remove_dir_all(w.ctx.join(f)).unwrap();
    fs::write(w.ctx.join(f), "a file again\n").unwrap();
    w.pin(PINNED + 200);
    let (v3, out) = w.build("incr", &[]);
    let lines = snapshot_lines(&out);
    assert_eq!(delta_written(&lines, &out), vec![1, 1], "{out}");
    assert_eq!(v3, w.build("cold", &[]).0, "incremental and cold v3 differ");
    w.check_store("incr");
}

#[test]
fn symlink_target_changed() {
    let (l, _) = case(
        |w| {
            fs::remove_file(w.ctx.join("c/link")).unwrap();
            symlink("../a/f004", w.ctx.join("c/link")).unwrap();
        },
        &[],
        Some(0),
        0,
    );
    assert!(l.contains("/data/c/link -> ../a/f004"), "{l}");
}

/// A hardlinked pair split into two files with the same content: the new
/// snapshot must not join them through the old inode (a later reader would
/// see a hardlink the layer does not have).
#[test]
fn hardlinked_pair_split() {
    let w = World::new();
    w.build("incr", &[]);
    fs::remove_file(w.ctx.join("a/h2")).unwrap();
    fs::write(w.ctx.join("a/h2"), "linked pair\n").unwrap();
    w.pin(PINNED + 100);
    // The same content, mode and mtime as h1 (so the old inode fits both
    // names), and a new file: the context digest does not see link structure,
    // so only the new file makes this a new layer.
    let ts = nix::sys::time::TimeSpec::new(PINNED, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &w.ctx.join("a/h2"),
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
    fs::write(w.ctx.join("c/bump"), "bump\n").unwrap();
    w.pin(PINNED + 100);
    let (v2, out) = w.build("incr", &[]);
    let lines = snapshot_lines(&out);
    assert!(!lines.is_empty() && lines.iter().all(|l| l.delta), "{out}");
    assert_eq!(
        v2,
        w.build("cold", &[]).0,
        "incremental and cold builds differ"
    );
    w.check_store("incr");
    // The two names are separate inodes in the new layer's tree (a delta:
    // what it lacks shows through from its base), as extracted.
    let mut split = 0;
    for (tree, base) in deltas(&w.dir.path().join("incr")) {
        if !tree.join("src/c/bump").exists() {
            continue;
        }
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &str| {
            let top = tree.join(p);
            let at = if top.exists() { top } else { base.join(p) };
            fs::symlink_metadata(at).unwrap().ino()
        };
        assert_ne!(
            ino("src/a/h1"),
            ino("src/a/h2"),
            "{} joined h1 and h2",
            tree.display()
        );
        split += 1;
    }
    assert_eq!(split, 1, "one delta holds the split pair");
}

/// `(tree, base snapshot dir)` of every delta snapshot in the store at `root`.
fn deltas(root: &Path) -> Vec<(PathBuf, PathBuf)> {
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

/// `prune` drops the snapshots and with them the hints that named them: the
/// next change extracts in full (no incremental line) and still builds the
/// cold image.
#[test]
fn prune_forgets_hints_of_removed_snapshots() {
    let w = World::new();
    w.build("incr", &[]);
    let hints = w.dir.path().join("incr/cache/similar");
    assert_eq!(
        fs::read_dir(&hints).unwrap().count(),
        2,
        "one hint per COPY"
    );
    run_ok_all(builder(w.dir.path(), "incr").arg("prune"));
    assert_eq!(
        fs::read_dir(&hints).unwrap().count(),
        0,
        "hints left after prune"
    );
    fs::write(w.ctx.join("a/f000"), "FILE 0\n").unwrap();
    w.pin(PINNED + 100);
    let (v2, out) = w.build("incr", &[]);
    assert!(snapshot_lines(&out).is_empty(), "{out}");
    assert_eq!(v2, w.build("cold", &[]).0);
    w.check_store("incr");
}

/// A series of edits: each change is a delta over the last full snapshot
/// until `MAX_DELTA_DEPTH` (4) deltas in a row, then the next is a full
/// snapshot again (cloned), and the one after is a delta over that. Every
/// version equals its cold build.
#[test]
fn series_of_edits_past_the_squash_bound() {
    let w = World::new();
    w.build("incr", &[]);
    let mut kinds = Vec::new();
    let mut bases = Vec::new();
    for i in 1..=6 {
        fs::write(w.ctx.join("a/f000"), format!("version {i}\n")).unwrap();
        w.pin(PINNED + 100 * i);
        let (_, out) = w.build("incr", &[]);
        let lines = snapshot_lines(&out);
        assert_eq!(lines.len(), 2, "both COPY snapshots are made:\n{out}");
        // The delta holds what changed since its base: the one file.
        assert!(lines.iter().all(|l| l.written == 1), "{out}");
        kinds.push(lines[0].delta);
        bases.push(lines[0].base.clone());
    }
    // Every delta sits on a full snapshot (two lowers per layer, never a
    // chain), at most 4 edits after it.
    let root = w.dir.path().join("incr");
    for (tree, base) in deltas(&root) {
        assert!(base.is_dir(), "{}", base.display());
        let record = fs::read_to_string(tree.parent().unwrap().join("base")).unwrap();
        let depth: u32 = record.lines().nth(1).unwrap().parse().unwrap();
        assert!((1..=4).contains(&depth), "{record}");
    }
    assert_eq!(kinds, [true, true, true, true, false, true]);
    assert!(bases[..5].iter().all(|b| *b == bases[0]), "{bases:?}");
    assert_ne!(
        bases[5], bases[0],
        "the sixth edit is a delta over the fifth"
    );
    let (v6, _) = w.build("incr", &[]);
    assert_eq!(v6, w.build("cold", &[]).0, "incremental and cold differ");
    w.check_store("incr");
    assert_eq!(w.listing("incr", &[]), w.listing("cold", &[]));
}

/// A delta of a tagged image keeps its base snapshot through `prune` (the
/// base's own image is gone), and a later change still builds as a delta over
/// it and equals its cold build; once nothing references the delta, `prune`
/// removes both.
#[test]
fn prune_keeps_the_base_of_a_referenced_delta() {
    let w = World::new();
    w.build("incr", &[]);
    fs::write(w.ctx.join("a/f000"), "FILE 0\n").unwrap();
    w.pin(PINNED + 100);
    let (_, out) = w.build("incr", &["-t", "keep:1"]);
    assert!(snapshot_lines(&out).iter().all(|l| l.delta), "{out}");
    let root = w.dir.path().join("incr");
    let all = deltas(&root);
    assert_eq!(all.len(), 2, "one delta per COPY");
    // The image holds the final stage's COPY layer, not the first stage's.
    let before: Vec<_> = all
        .into_iter()
        .filter(|d| d.0.join("data").is_dir())
        .collect();
    assert_eq!(before.len(), 1);
    run_ok_all(builder(w.dir.path(), "incr").arg("prune"));
    assert_eq!(deltas(&root), before, "prune kept the wrong deltas");
    for (tree, base) in &before {
        assert!(tree.is_dir() && base.is_dir(), "{} lost", base.display());
    }
    w.check_store("incr");
    fs::write(w.ctx.join("a/f004"), "FILE 4\n").unwrap();
    w.pin(PINNED + 200);
    let (v3, out) = w.build("incr", &[]);
    let lines = snapshot_lines(&out);
    // The first stage's COPY lost its base to prune (a full extraction, no
    // line); the final one is a delta over the kept base.
    assert_eq!(delta_written(&lines, &out), [2], "{out}");
    assert_eq!(v3, w.build("cold", &[]).0, "incremental and cold differ");
    assert_eq!(w.listing("incr", &[]), w.listing("cold", &[]));
    w.check_store("incr");
    run_ok_all(builder(w.dir.path(), "incr").args(["rmi", "keep:1"]));
    run_ok_all(builder(w.dir.path(), "incr").arg("prune"));
    assert!(deltas(&root).is_empty(), "unreferenced deltas left");
    for (_, base) in &before {
        assert!(!base.exists(), "{} kept", base.display());
    }
    w.check_store("incr");
}

/// Every kind of change at once (content, added, removed file and dir, a file
/// replaced by a dir, a symlink target), built at the other isolation levels:
/// rootless (a user namespace; the deltas' whiteouts must be overlay's there
/// too) and chroot (no mounts: the lowers, delta and base, are merged by
/// copying). Each is a delta and equals its cold build at the same level.
#[test]
fn all_changes_at_the_rootless_and_chroot_levels() {
    for level in ["rootless", "chroot"] {
        let mut w = World::new();
        w.isolation = Some(level);
        w.build("incr", &[]);
        fs::write(w.ctx.join("a/f000"), "FILE 0\n").unwrap();
        fs::write(w.ctx.join("c/new"), "new\n").unwrap();
        fs::remove_file(w.ctx.join("a/f004")).unwrap();
        fs::remove_dir_all(w.ctx.join("d")).unwrap();
        fs::remove_file(w.ctx.join("a/f016")).unwrap();
        fs::create_dir(w.ctx.join("a/f016")).unwrap();
        fs::write(w.ctx.join("a/f016/inside"), "inside\n").unwrap();
        fs::remove_file(w.ctx.join("c/link")).unwrap();
        symlink("../a/f008", w.ctx.join("c/link")).unwrap();
        w.pin(PINNED + 100);
        let (v2, out) = w.build("incr", &[]);
        let lines = snapshot_lines(&out);
        assert_eq!(delta_written(&lines, &out), [3, 3], "{level}: {out}");
        assert!(lines.iter().all(|l| l.whiteouts == 2), "{level}: {out}");
        assert_eq!(
            v2,
            w.build("cold", &[]).0,
            "{level}: incremental and cold differ"
        );
        w.check_store("incr");
        let listing = w.listing("incr", &[]);
        assert!(listing.contains("/data/a/f016/inside "), "{listing}");
        assert!(listing.contains("/data/c/link -> ../a/f008"), "{listing}");
        assert_eq!(listing, w.listing("cold", &[]), "{level}");
    }
}
