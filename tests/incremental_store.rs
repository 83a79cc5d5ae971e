//! The store's own commands over delta snapshots (`store::check_delta`,
//! `store::usage`): a real v1 build, a one-file change and a v2 build make a
//! delta for each COPY (see `tests/incremental.rs`); `builder debug
//! check-store` must compare each with its layer and report each kind of
//! damage (a changed or extra file in the tree, a bad record, a removed
//! base) with a non-zero exit, and `builder system df` must count the deltas
//! as prune sees them. Needs root (overlay mounts) and busybox-static.

mod incremental_world;
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use incremental_world::*;
use serde_json::Value;
use support::{run, run_ok_all};

/// A store whose v2 build (with `v2_args`) made a delta for each of the
/// two COPYs.
fn two_deltas(v2_args: &[&str]) -> (World, PathBuf) {
    let w = World::new();
    w.build("incr", &[]);
    fs::write(w.ctx.join("a/f000"), "FILE 0, changed\n").unwrap();
    w.pin(PINNED + 100);
    let (_, out) = w.build("incr", v2_args);
    assert_eq!(delta_written(&snapshot_lines(&out), &out).len(), 2, "{out}");
    let root = w.dir.path().join("incr");
    assert_eq!(deltas(&root).len(), 2);
    (w, root)
}

fn check_store(w: &World) -> (bool, String) {
    let o: Output = run(builder(w.dir.path(), "incr").args(["debug", "check-store"]));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

/// Asserts check-store fails with a problem line containing every one of `want`.
fn assert_problem(w: &World, want: &[&str]) {
    let (ok, out) = check_store(w);
    assert!(!ok, "check-store must fail:\n{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("problem: ") && want.iter().all(|s| l.contains(s))),
        "no problem line with {want:?}:\n{out}"
    );
}

/// The first regular file under `dir`.
fn some_file(dir: &Path) -> PathBuf {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .find(|e| e.file_type().is_file())
        .unwrap_or_else(|| panic!("no file in {}", dir.display()))
        .into_path()
}

#[test]
fn check_store_compares_deltas_and_reports_damage() {
    let (w, root) = two_deltas(&[]);
    let (ok, out) = check_store(&w);
    assert!(
        ok && out.contains(" and 2 deltas compared") && out.contains(" 0 problems"),
        "{out}"
    );
    let (tree, base) = deltas(&root).remove(0);
    let delta = tree.parent().unwrap().to_path_buf();
    let hex = delta.file_name().unwrap().to_string_lossy().into_owned();

    // A file the delta wrote, changed: [tree, base] no longer shows the layer.
    let file = some_file(&tree);
    let kept = fs::read(&file).unwrap();
    fs::write(&file, b"damaged").unwrap();
    assert_problem(&w, &[&hex, "differs from its layer", "expected"]);
    fs::write(&file, &kept).unwrap();
    assert!(check_store(&w).0, "restored");

    // A file the layer does not have, added to the tree.
    fs::write(tree.join("stray"), b"x").unwrap();
    assert_problem(&w, &[&hex, "/stray is not in the layer"]);
    fs::remove_file(tree.join("stray")).unwrap();

    // A whiteout over a file the delta leaves to the base hides it.
    let rel = walkdir::WalkDir::new(&base)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(&base).unwrap().to_path_buf())
        // Its directory must be in the delta (deltas hold only the dirs above what they write).
        .find(|rel| !tree.join(rel).exists() && tree.join(rel).parent().is_some_and(|d| d.is_dir()))
        .expect("a base file the delta leaves out, in a directory the delta has");
    let wh = tree.join(&rel);
    nix::sys::stat::mknod(
        &wh,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
    assert_problem(&w, &[&hex, &format!("/{} is missing", rel.display())]);
    fs::remove_file(&wh).unwrap();
    assert!(check_store(&w).0, "restored");

    // Records: a depth past the bound, itself as its base, no record.
    let record = delta.join("base");
    let text = fs::read_to_string(&record).unwrap();
    let base_id = text.lines().next().unwrap().to_string();
    let past = builder::store::MAX_DELTA_DEPTH + 1;
    fs::write(&record, format!("{base_id}\n{past}\n")).unwrap();
    let bound = format!("depth {past} is outside 1..={}", past - 1);
    assert_problem(&w, &[&hex, &bound]);
    fs::write(&record, format!("sha256:{hex}\n1\n")).unwrap();
    assert_problem(&w, &[&hex, "names itself as its base"]);
    fs::write(&record, "not a record").unwrap();
    assert_problem(&w, &[&hex, "base record"]);
    fs::write(&record, &text).unwrap();
    assert!(check_store(&w).0, "restored");

    // The base snapshot removed.
    let aside = w.dir.path().join("aside");
    fs::rename(&base, &aside).unwrap();
    assert_problem(&w, &[&hex, &format!("base snapshot {base_id} is gone")]);
    fs::rename(&aside, &base).unwrap();
    assert!(check_store(&w).0, "restored");
}

/// `system df --format json`'s row of `kind`.
fn df_row(w: &World, kind: &str) -> Value {
    let out = run_ok_all(builder(w.dir.path(), "incr").args(["system", "df", "--format", "json"]));
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["Type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} row:\n{out}"))
}

#[test]
fn system_df_counts_deltas_as_prune_sees_them() {
    // Tagged: an untagged image is no root, and would be pruned.
    let (w, root) = two_deltas(&["-t", "app:2"]);
    let human = |n: u64| builder::cli::format::human_size(n, 4);
    let row = df_row(&w, "Snapshot Deltas");
    assert_eq!(row["TotalCount"], "2", "{row}");
    assert_eq!(
        row["Size"],
        human(builder::store::du(&root.join("deltas"))),
        "{row}"
    );
    // The final image's COPY --from layer is the image's; the first stage's
    // COPY is only the build cache's: prune may take it.
    assert_eq!(row["Active"], "1", "{row}");
    let reclaimable = row["Reclaimable"].as_str().unwrap().to_string();
    assert!(!reclaimable.starts_with("0B"), "{row}");
    run_ok_all(builder(w.dir.path(), "incr").arg("prune"));
    let after = df_row(&w, "Snapshot Deltas");
    assert_eq!(
        (after["TotalCount"].as_str(), after["Reclaimable"].as_str()),
        (Some("1"), Some("0B (0%)")),
        "prune removes what df called reclaimable: {row} then {after}"
    );
    assert_eq!(deltas(&root).len(), 1);
    // The base of the kept delta is an active snapshot, kept by prune.
    let (_, base) = deltas(&root).remove(0);
    assert!(base.is_dir());
}
