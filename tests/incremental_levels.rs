//! Incremental snapshots as deltas over time and across the isolation
//! levels (see `tests/incremental.rs` for the exactness of each change):
//! a series of edits past the delta depth bound, `prune` while a delta
//! references its base, and every kind of change at once at the rootless
//! and chroot levels and in a store on overlayfs. Needs root.

mod incremental_world;
mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;

use incremental_world::*;
use support::{run_ok, run_ok_all};

/// A series of edits: each change is a delta over the last full snapshot
/// until `MAX_DELTA_DEPTH` deltas in a row, then the next is a full
/// snapshot again (cloned), and the one after is a delta over that. Every
/// version equals its cold build.
#[test]
fn series_of_edits_past_the_squash_bound() {
    let max = builder::store::MAX_DELTA_DEPTH as usize;
    let w = World::new();
    w.build("incr", &[]);
    let mut kinds = Vec::new();
    let mut bases = Vec::new();
    for i in 1..=max + 2 {
        fs::write(w.ctx.join("a/f000"), format!("version {i}\n")).unwrap();
        w.pin(PINNED + 100 * i as i64);
        let (_, out) = w.build("incr", &[]);
        let lines = snapshot_lines(&out);
        assert_eq!(lines.len(), 2, "both COPY snapshots are made:\n{out}");
        // The delta holds what changed since its base: the one file.
        assert!(lines.iter().all(|l| l.written == 1), "{out}");
        kinds.push(lines[0].delta);
        bases.push(lines[0].base.clone());
    }
    // Every delta sits on a full snapshot (two lowers per layer, never a
    // chain), at most `max` edits after it.
    let root = w.dir.path().join("incr");
    for (tree, base) in deltas(&root) {
        assert!(base.is_dir(), "{}", base.display());
        let record = fs::read_to_string(tree.parent().unwrap().join("base")).unwrap();
        let depth: usize = record.lines().nth(1).unwrap().parse().unwrap();
        assert!((1..=max).contains(&depth), "{record}");
    }
    let mut want = vec![true; max];
    want.extend([false, true]);
    assert_eq!(kinds, want);
    assert!(bases[..=max].iter().all(|b| *b == bases[0]), "{bases:?}");
    assert_ne!(
        bases[max + 1],
        bases[0],
        "the edit after the clone is a delta over the clone"
    );
    let (last, _) = w.build("incr", &[]);
    assert_eq!(last, w.build("cold", &[]).0, "incremental and cold differ");
    w.check_store("incr");
    assert_eq!(w.listing("incr", &[]), w.listing("cold", &[]));
}

/// A change of most files (every mtime touched) is not made a delta: that
/// would rewrite the whole layer now and again at every later edit. It is a
/// full snapshot (cloned), and the next one-file edit is a small delta over
/// it. Every version equals its cold build.
#[test]
fn a_change_of_most_files_makes_a_full_snapshot() {
    let w = World::new();
    w.build("incr", &[]);
    // One file changed and every file, link and dir touched (a fresh checkout): the
    // COPY runs again (its key ignores mtimes, not content) and its layer's headers all
    // change.
    fs::write(w.ctx.join("a/f004"), "changed\n").unwrap();
    let at = format!("@{}", PINNED + 1000);
    run_ok(
        Command::new("find")
            .arg(&w.ctx)
            .args(["-exec", "touch", "-h", "-d", &at, "{}", "+"]),
    );
    let (_, out) = w.build("incr", &[]);
    let lines = snapshot_lines(&out);
    assert!(!lines.is_empty() && lines.iter().all(|l| !l.delta), "{out}");
    assert!(
        out.contains("no delta") && out.contains("files changed"),
        "{out}"
    );
    let clone_base = lines[0].base.clone();
    fs::write(w.ctx.join("a/f000"), "one more edit\n").unwrap();
    w.pin(PINNED + 1100);
    let (v, out) = w.build("incr", &[]);
    let lines = snapshot_lines(&out);
    assert!(lines.iter().all(|l| l.delta && l.written == 1), "{out}");
    assert_ne!(
        lines[0].base, clone_base,
        "the delta is over the new full snapshot"
    );
    assert_eq!(v, w.build("cold", &[]).0, "incremental and cold differ");
    assert_eq!(w.listing("incr", &[]), w.listing("cold", &[]));
    w.check_store("incr");
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
    // line); the final one is a delta over the kept base, by its files: prune
    // keeps a delta's base snapshot, not the base's tar.
    assert!(lines.iter().all(|l| l.delta && !l.from_tars), "{out}");
    assert_eq!(lines.iter().map(|l| l.written).collect::<Vec<_>>(), [2]);
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

/// Every kind of change at once: content, an added file, a removed file and
/// dir, a file replaced by a dir, a symlink target.
fn all_changes(w: &World) {
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
}

/// Builds v1 into `store`, makes [`all_changes`], builds v2 there: both
/// COPY snapshots must be deltas, and v2 equal its cold build.
fn all_changes_in(w: &World, store: &str, what: &str) {
    w.build(store, &[]);
    all_changes(w);
    let (v2, out) = w.build(store, &[]);
    let lines = snapshot_lines(&out);
    assert_eq!(delta_written(&lines, &out), [3, 3], "{what}: {out}");
    assert!(lines.iter().all(|l| l.whiteouts == 2), "{what}: {out}");
    assert_eq!(
        v2,
        w.build("cold", &[]).0,
        "{what}: incremental and cold differ"
    );
    w.check_store(store);
    let listing = w.listing(store, &[]);
    assert!(listing.contains("/data/a/f016/inside "), "{listing}");
    assert!(listing.contains("/data/c/link -> ../a/f008"), "{listing}");
    assert_eq!(listing, w.listing("cold", &[]), "{what}");
}

/// [`all_changes`] built at the other isolation levels: rootless (a user
/// namespace; the deltas' whiteouts must be overlay's there too) and chroot
/// (no mounts: the lowers, delta and base, are merged by copying).
#[test]
fn all_changes_at_the_rootless_and_chroot_levels() {
    for level in ["rootless", "chroot"] {
        let mut w = World::new();
        w.isolation = Some(level);
        all_changes_in(&w, "incr", level);
    }
}

/// [`all_changes`] in a store on overlayfs (a container's root): deltas hold
/// whiteouts as `.wh.` files there, as every snapshot of such a store.
#[test]
fn all_changes_in_a_store_on_overlayfs() {
    let w = World::new();
    let ovl = w.dir.path().join("ovl");
    for d in ["l", "u", "w", "m"] {
        fs::create_dir_all(ovl.join(d)).unwrap();
    }
    let opts = format!("lowerdir={0}/l,upperdir={0}/u,workdir={0}/w", ovl.display());
    run_ok(
        Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(ovl.join("m")),
    );
    let _mounted = Unmount(ovl.join("m"));
    import_base(
        w.dir.path(),
        "ovl/m/s",
        &support::busybox_rootfs("incremental-busybox"),
    );
    all_changes_in(&w, "ovl/m/s", "store on overlayfs");
    let store = ovl.join("m/s");
    let trees: Vec<_> = deltas(&store).into_iter().map(|d| d.0).collect();
    assert_eq!(trees.len(), 2);
    for t in trees {
        assert!(t.join("data/a/.wh.f004").is_file() || t.join("src/a/.wh.f004").is_file());
    }
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
