//! What a builder killed with SIGKILL leaves behind, through the real CLI:
//! a build killed while it writes a COPY layer tar, extracts a snapshot,
//! runs a RUN, or after a delay; a push killed while it compresses a layer
//! and while it uploads through a throttling proxy. Each time the leftovers
//! are checked to exist, the next command (build, push or prune) removes
//! them all, and the store still verifies. A live builder's temp area is
//! never removed by a build or a prune started beside it.
//! Needs root (overlay mounts, namespaces), busybox-static, docker-registry.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// A store with the busybox rootfs imported as `base:1`.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
        };
        fixtures::import_busybox(&mut w.cmd(), "crash-busybox-rootfs", "base:1");
        w
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn cmd(&self) -> Command {
        let home = self.dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        let mut c = builder(&self.root(), &home);
        c.stdin(Stdio::null());
        c
    }

    /// `builder build --progress plain ARGS` started in the background.
    fn spawn_build(&self, args: &[&str], ctx: &Path) -> Child {
        self.cmd()
            .args(["build", "--progress", "plain"])
            .args(args)
            .arg(ctx)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }
}

/// A context with `dockerfile`, a 48 MiB pseudo-random `big.bin` (every
/// byte written, incompressible) and `many/` holding 6000 small files.
fn context(dir: &Path, dockerfile: &str) -> PathBuf {
    let ctx = dir.join("ctx");
    fs::create_dir_all(ctx.join("many")).unwrap();
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    let mut big = Vec::with_capacity(48 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    while big.len() < 48 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big.extend_from_slice(&x.to_le_bytes());
    }
    fs::write(ctx.join("big.bin"), big).unwrap();
    for i in 0..6000 {
        fs::write(ctx.join(format!("many/f{i}")), format!("{i}\n").repeat(40)).unwrap();
    }
    ctx
}

/// The temp areas and every entry below them, with file sizes: up to two
/// levels deep (`area/step-x/upper`), enough to see what a kill left.
fn temp_entries(root: &Path) -> Vec<(PathBuf, u64)> {
    walkdir::WalkDir::new(root.join("tmp"))
        .min_depth(1)
        .max_depth(3)
        .into_iter()
        .flatten()
        .map(|e| {
            let n = e.metadata().map(|m| m.len()).unwrap_or(0);
            (e.into_path(), n)
        })
        .collect()
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Polls `ROOT/tmp` until `ready` says so, then SIGKILLs `child`. Fails if
/// the child ends first.
fn kill_when(child: &mut Child, root: &Path, what: &str, ready: impl Fn(&Path) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready(root) {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the command ended ({st}) before it could be killed {what}");
        }
        assert!(Instant::now() < deadline, "never got to {what}");
        thread::sleep(Duration::from_millis(3));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// Waits until no process carries `marker` in its environment (a killed
/// builder's RUN goes when its helper sees the lifeline close).
fn wait_gone(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut left = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = name_of(&e.path()).parse::<i32>() else {
                continue;
            };
            let env = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            if env.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                left.push(pid);
            }
        }
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            for p in &left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("processes of a killed build still running: {left:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Nothing left in `ROOT/tmp`, and every blob matches its digest.
fn assert_clean(root: &Path, after: &str) {
    let left = temp_entries(root);
    assert!(
        left.is_empty(),
        "temp entries left after {after}: {left:#?}"
    );
    verify_store(root);
}

/// Two COPY layers and a RUN that sleeps `$S` seconds with `marker` in
/// its environment.
fn dockerfile(marker: &str) -> String {
    format!(
        "FROM base:1\nCOPY big.bin /big.bin\nCOPY many/ /many/\nARG S=60\n\
         RUN touch /run-marker && {marker} sleep $S\n"
    )
}

/// A file named like `prefix*` at least `min` bytes long in an area.
fn has_file(root: &Path, prefix: &str, min: u64) -> bool {
    temp_entries(root)
        .iter()
        .any(|(p, n)| name_of(p).starts_with(prefix) && *n >= min && p.is_file())
}

/// A dir named like `prefix*` directly in an area.
fn has_dir(root: &Path, prefix: &str) -> bool {
    temp_entries(root)
        .iter()
        .any(|(p, _)| name_of(p).starts_with(prefix) && p.is_dir())
}

fn run_started(root: &Path) -> bool {
    temp_entries(root)
        .iter()
        .any(|(p, _)| name_of(p).starts_with("step-") && p.join("upper/run-marker").exists())
}

#[test]
fn a_build_killed_at_each_stage_leaves_temp_files_the_next_build_removes() {
    let scratch = tempfile::tempdir().unwrap();
    let ctx = context(scratch.path(), &dockerfile("CRASH_MARK=STAGES"));
    type Probe = fn(&Path) -> bool;
    let points: [(&str, Probe); 3] = [
        ("writing the COPY layer tar", |r| {
            has_file(r, ".layer-", 8 << 20)
        }),
        ("extracting a snapshot", |r| has_dir(r, "snap-")),
        ("in a RUN", run_started),
    ];
    for (what, ready) in points {
        // A fresh store each time, so every stage really happens.
        let w = World::new();
        let mut child = w.spawn_build(&["-t", "out"], &ctx);
        kill_when(&mut child, &w.root(), what, ready);
        wait_gone("CRASH_MARK=STAGES");
        let left = temp_entries(&w.root());
        assert!(
            ready(&w.root()),
            "killed {what}, but nothing left: {left:#?}"
        );
        eprintln!(
            "killed {what}: {} temp entries, {} bytes (two levels deep)",
            left.len(),
            left.iter().map(|(_, n)| n).sum::<u64>()
        );
        if what == "in a RUN" {
            // The overlay work dir, as the kernel leaves it (d---------).
            assert!(
                left.iter().any(|(p, _)| p.join("work/work").is_dir()),
                "{left:#?}"
            );
        }
        verify_store(&w.root());
        let log = run_ok_all(
            w.cmd()
                .args(["build", "--progress", "plain", "-t", "out"])
                .args(["--build-arg", "S=0"])
                .arg(&ctx),
        );
        assert!(log.contains("COPY many/ /many/"), "{log}");
        assert_clean(&w.root(), &format!("a build killed {what}, then a build"));
        let out = run_ok(w.cmd().args(["inspect", "out"]));
        assert!(out.contains("sha256:"), "{out}");
    }
}

#[test]
fn builds_killed_after_delays_leave_nothing_prune_does_not_remove() {
    let scratch = tempfile::tempdir().unwrap();
    let ctx = context(scratch.path(), &dockerfile("CRASH_MARK=DELAYS"));
    let w = World::new();
    let mut with_leftovers = 0;
    for delay_ms in [300, 1000, 2500, 6000] {
        let mut child = w.spawn_build(&["-t", "out"], &ctx);
        thread::sleep(Duration::from_millis(delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "build ended by {delay_ms} ms"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        wait_gone("CRASH_MARK=DELAYS");
        verify_store(&w.root());
        let left = temp_entries(&w.root()).len();
        let out = run_ok(w.cmd().arg("prune"));
        let removed: usize = out
            .lines()
            .find_map(|l| {
                l.strip_suffix(" temp files")?
                    .rsplit(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no temp count in {out}"));
        eprintln!("killed after {delay_ms} ms: {left} temp entries; prune removed {removed}");
        if left > 0 {
            with_leftovers += 1;
            assert_eq!(removed, 1, "one killed build, one temp area: {out}");
        }
        assert_clean(
            &w.root(),
            &format!("a build killed after {delay_ms} ms, then prune"),
        );
        // Prune kept the base; the next round starts from no build cache.
        run_ok(w.cmd().args(["inspect", "base:1"]));
    }
    // The early kills may come before anything was written (the temp area
    // is made on first use); the later ones cannot.
    assert!(with_leftovers >= 1, "no kill left anything");
}

#[test]
fn a_live_build_keeps_its_temp_area_while_a_build_and_a_prune_reclaim_dead_ones() {
    let scratch = tempfile::tempdir().unwrap();
    let w = World::new();
    let dead_ctx = scratch.path().join("dead");
    fs::create_dir_all(&dead_ctx).unwrap();
    fs::write(
        dead_ctx.join("Dockerfile"),
        "FROM base:1\nRUN touch /run-marker && CRASH_MARK=CRASH_DEAD sleep 60\n",
    )
    .unwrap();
    let kill_one = || -> Vec<PathBuf> {
        let before: Vec<PathBuf> = areas(&w.root());
        let mut child = w.spawn_build(&[], &dead_ctx);
        kill_when(&mut child, &w.root(), "in a RUN", run_started);
        wait_gone("CRASH_MARK=CRASH_DEAD");
        let dead: Vec<PathBuf> = areas(&w.root())
            .into_iter()
            .filter(|a| !before.contains(a))
            .collect();
        assert_eq!(dead.len(), 1, "{dead:?}");
        dead
    };
    let dead = kill_one();

    // The live build waits in its RUN until the test creates /c/go in its
    // cache mount.
    let live_ctx = scratch.path().join("live");
    fs::create_dir_all(&live_ctx).unwrap();
    fs::write(
        live_ctx.join("Dockerfile"),
        "FROM base:1\nRUN --mount=type=cache,target=/c touch /c/started && \
         i=0; while [ ! -e /c/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \
         [ -e /c/go ] && echo done > /live\n",
    )
    .unwrap();
    let mount = w
        .root()
        .join("cache/mounts")
        .join(builder::store::Digest::of(b"/c").hex());
    let mut live = w.spawn_build(&["-t", "live"], &live_ctx);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !mount.join("started").exists() {
        assert!(
            live.try_wait().unwrap().is_none(),
            "the live build ended early"
        );
        assert!(
            Instant::now() < deadline,
            "the live build's RUN never started"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let live_area: Vec<PathBuf> = areas(&w.root())
        .into_iter()
        .filter(|a| !dead.contains(a))
        .collect();
    assert_eq!(live_area.len(), 1, "{live_area:?}");
    let live_area = &live_area[0];

    // Another build beside it removes the dead area, not the live one.
    let other = scratch.path().join("other");
    fs::create_dir_all(&other).unwrap();
    fs::write(
        other.join("Dockerfile"),
        "FROM base:1\nRUN echo other > /other\n",
    )
    .unwrap();
    run_ok_all(w.cmd().args(["build", "-q", "-t", "other"]).arg(&other));
    assert!(!dead[0].exists(), "the next build left a dead area");
    assert!(
        fs::read_dir(live_area)
            .unwrap()
            .flatten()
            .any(|e| name_of(&e.path()).starts_with("step-")),
        "another build removed the live build's step dir"
    );

    // So does prune, which then waits for the live build to finish.
    let dead = kill_one();
    let mut prune = w.cmd().arg("prune").stdout(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while dead[0].exists() {
        assert!(
            Instant::now() < deadline,
            "prune did not reclaim the dead area"
        );
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    assert!(
        prune.try_wait().unwrap().is_none(),
        "prune ran beside a build"
    );
    assert!(live_area.is_dir(), "prune removed a live build's temp area");
    fs::write(mount.join("go"), b"").unwrap();
    let st = live.wait().unwrap();
    assert!(st.success(), "the live build failed: {st}");
    let out = prune.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_clean(&w.root(), "a live build and a prune");
    // Prune keeps tagged images; the live build's result is one of them.
    run_ok(w.cmd().args(["inspect", "live"]));
    run_ok(w.cmd().args(["inspect", "other"]));
}

/// The temp area dirs in `ROOT/tmp`.
fn areas(root: &Path) -> Vec<PathBuf> {
    fs::read_dir(root.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

#[test]
fn a_push_killed_compressing_or_uploading_leaves_temp_files_the_next_push_removes() {
    let reg = Registry::start(Auth::Plain);
    let proxy = Proxy::start(&reg.addr, ProxyMode::ThrottleUpload(2 << 20));
    let scratch = tempfile::tempdir().unwrap();
    let ctx = context(scratch.path(), "FROM base:1\nCOPY big.bin /big.bin\n");
    let w = World::new();
    let regcfg = scratch.path().join("registries.toml");
    fs::write(
        &regcfg,
        format!(
            "[registry.\"{}\"]\ninsecure = true\n[registry.\"{}\"]\ninsecure = true\n",
            reg.addr, proxy.addr
        ),
    )
    .unwrap();
    run_ok_all(w.cmd().args(["build", "-q", "-t", "big:1"]).arg(&ctx));
    let slow = format!("{}/crash/big:1", proxy.addr);
    let direct = format!("{}/crash/big:1", reg.addr);
    run_ok(w.cmd().args(["tag", "big:1", &slow]));
    run_ok(w.cmd().args(["tag", "big:1", &direct]));
    let push = |to: &str| {
        w.cmd()
            .args(["push", "--registry-config"])
            .arg(&regcfg)
            .arg(to)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // Killed while gzip-compressing the 48 MiB layer for the upload.
    let mut child = push(&slow);
    kill_when(&mut child, &w.root(), "compressing", |r| {
        has_file(r, ".blob-", 4 << 20)
    });
    let first = areas(&w.root());
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(has_file(&w.root(), ".blob-", 4 << 20));
    verify_store(&w.root());

    // Killed while uploading at 2 MiB/s; its start reclaimed the first one. The first push
    // streamed some bytes too (the upload overlaps the compression): count from here.
    let before = proxy.uploaded.load(std::sync::atomic::Ordering::SeqCst);
    let mut child = push(&slow);
    kill_when(&mut child, &w.root(), "uploading", |_| {
        proxy.uploaded.load(std::sync::atomic::Ordering::SeqCst) > before + (1 << 20)
    });
    assert!(
        !first[0].exists(),
        "the second push left the first one's area"
    );
    let second = fs::read_dir(w.root().join("tmp")).unwrap().count();
    assert!(second > 0, "an upload killed midway left no temp area");
    verify_store(&w.root());

    let out = run_ok(
        w.cmd()
            .args(["push", "--registry-config"])
            .arg(&regcfg)
            .arg(&direct),
    );
    assert_clean(&w.root(), "two killed pushes, then a push");
    assert_eq!(out.trim(), skopeo_digest(&direct, None));
}
