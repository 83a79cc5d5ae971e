//! Incremental snapshots (`engine::incremental`, `layer::delta`,
//! `layer::reuse`): after a change to the files a COPY reads, the snapshot a
//! later RUN needs is made as a delta over the previous one. For each kind of change the context is built
//! (v1), changed and built again (v2) in one store, and built once, cold,
//! at v2 in a fresh store: the image IDs must be equal (every layer, the
//! RUN's listing of the tree it saw included: paths, modes, owners, sizes,
//! mtimes, contents, link targets), the store must pass `builder debug
//! check-store` (each snapshot equal to a fresh extraction of its layer),
//! and the plain progress output must show the delta path taken with the
//! number of files it wrote. Needs root (overlay mounts) and
//! busybox-static.

mod incremental_world;
mod support;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use incremental_world::*;
use support::run_ok_all;

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
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.delta && l.from_tars),
        "{out}"
    );
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

/// `prune` drops the snapshots and with them the hints that named them: the
/// next change extracts in full (no incremental line) and still builds the
/// cold image.
#[test]
fn prune_forgets_hints_of_removed_snapshots() {
    let w = World::new();
    w.build("incr", &[]);
    let hints = w.dir.path().join("incr/cache/similar");
    // The context COPY's under its own context dir's name and the shared one, the
    // `COPY --from`'s under one.
    assert_eq!(
        fs::read_dir(&hints).unwrap().count(),
        3,
        "two hints for the context COPY, one for the COPY --from"
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

/// A delta holds only what changed and the directories above it: a one-file
/// change leaves every other directory to the base (overlayfs merges only the
/// dirs both lowers hold, so a RUN's walk over the rest costs what it costs
/// over one lower), and the delta was planned from the two layer tars.
#[test]
fn delta_holds_only_the_changed_file_and_its_dirs() {
    let w = World::new();
    w.build("incr", &[]);
    fs::write(w.ctx.join("d/e/f/f003"), "FILE 3\n").unwrap();
    w.pin(PINNED + 100);
    let (v2, out) = w.build("incr", &[]);
    let lines = snapshot_lines(&out);
    assert_eq!(delta_written(&lines, &out), [1, 1], "{out}");
    // Left: a, a/b, c, owned (d, d/e, d/e/f are above the change).
    assert!(lines.iter().all(|l| l.dirs_left == 4), "{lines:?}\n{out}");
    let mut trees = deltas(&w.dir.path().join("incr"));
    trees.sort();
    assert_eq!(trees.len(), 2);
    for (tree, _) in trees {
        let mut got: Vec<String> = walkdir::WalkDir::new(&tree)
            .min_depth(1)
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                e.path().strip_prefix(&tree).unwrap().display().to_string()
            })
            .collect();
        got.sort();
        let top = &got[0];
        let want: Vec<String> = ["", "/d", "/d/e", "/d/e/f", "/d/e/f/f003"]
            .iter()
            .map(|s| format!("{top}{s}"))
            .collect();
        assert_eq!(got, want, "{}", tree.display());
    }
    assert_eq!(v2, w.build("cold", &[]).0, "incremental and cold differ");
    w.check_store("incr");
    assert_eq!(w.listing("incr", &[]), w.listing("cold", &[]));
}

/// A COPY's layer takes the contents of unchanged files from the same step's previous
/// layer (no source opened), and reads the changed one from the context, even when the
/// change keeps the file's size and mtime (its tar header is the previous layer's, byte for
/// byte: only the content digest tells them apart). The layer equals the cold build's.
#[test]
fn the_copy_takes_unchanged_contents_from_its_previous_layer() {
    let w = World::new();
    let (_, out) = w.build("incr", &[]);
    assert!(!out.contains("taken from the previous layer"), "{out}");
    let f = w.ctx.join("a/b/f001");
    let upper = fs::read_to_string(&f).unwrap().to_uppercase();
    fs::write(&f, upper).unwrap();
    // Back to the pinned mtime: the same size and time, so the entry's header does not
    // change.
    set_mtime(&f, nix::sys::time::TimeSpec::new(PINNED, 0));
    let (v2, out) = w.build("incr", &[]);
    let taken = taken_lines(&out);
    // The context COPY only: the `COPY --from` stage's files have no known digests.
    assert_eq!(taken.len(), 1, "{out}");
    let (n, m) = taken[0];
    assert!(m > 200 && n == m - 1, "{out}");
    assert_eq!(v2, w.build("cold", &[]).0, "incremental and cold differ");
    assert_eq!(w.listing("incr", &[]), w.listing("cold", &[]));
    w.check_store("incr");
}

/// Two context directories with the same Dockerfile in one store (two projects, two
/// checkouts): each COPY takes its contents from, and makes its delta over, its own
/// context's last layer, not the other's that was built in between.
#[test]
fn another_context_in_between_keeps_each_its_own_previous_layer() {
    let w = World::new();
    w.build("incr", &[]);
    let other = w.dir.path().join("ctx-other");
    support::run_ok(
        std::process::Command::new("cp")
            .arg("-a")
            .arg(&w.ctx)
            .arg(&other),
    );
    for i in (0..200).step_by(4) {
        let f = other.join(format!("a/f{i:03}"));
        fs::write(&f, format!("other {i}\n")).unwrap();
    }
    run_ok_all(
        builder(w.dir.path(), "incr")
            .args(["build", "--progress", "plain", "--source-date-epoch", EPOCH])
            .arg(&other),
    );
    fs::write(w.ctx.join("c/f002"), "FILE 2, changed\n").unwrap();
    w.pin(PINNED + 100);
    let (v2, out) = w.build("incr", &[]);
    let taken = taken_lines(&out);
    assert_eq!(taken.len(), 1, "{out}");
    assert_eq!(taken[0].0, taken[0].1 - 1, "{out}");
    let lines = snapshot_lines(&out);
    assert_eq!(
        lines[0].written, 1,
        "the context COPY's delta holds the one file:\n{out}"
    );
    assert_eq!(v2, w.build("cold", &[]).0, "incremental and cold differ");
    w.check_store("incr");
}

/// The (taken, files) of every `layer: N of M files' contents taken from the previous layer`
/// progress line.
fn taken_lines(out: &str) -> Vec<(u64, u64)> {
    out.lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once("layer: ")?;
            let (n, rest) = rest.split_once(" of ")?;
            let (m, rest) = rest.split_once(' ')?;
            rest.contains("taken from the previous layer")
                .then(|| Some((n.parse().ok()?, m.parse().ok()?)))
                .flatten()
        })
        .collect()
}
