//! A `builder prune` killed (SIGKILL) at any moment leaves a store that the
//! next build trusts only where it is right: build an image, `rmi` it and
//! its base, start `prune`, kill it 0–300 ms in, re-import the base and
//! build the same Dockerfile again with `SOURCE_DATE_EPOCH` set. The image
//! digest must equal a clean build's, the image must run and give the same
//! output, and `builder debug check-store` (every blob against its digest,
//! every snapshot against a fresh extraction of its layer) must pass.
//!
//! `kills_at_random_moments` runs 10 kills (CI); the `#[ignore]`d
//! `fifty_kills` runs 50. Needs root (overlay mounts, namespaces) and
//! busybox-static.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

const EPOCH: &str = "1700000000";

/// The builder under test; `PRUNE_KILL_BIN` runs the kills and builds with
/// another binary (e.g. an older release, to count its wrong rebuilds),
/// while the store check stays this build's.
fn builder(root: &Path) -> Command {
    let bin =
        std::env::var_os("PRUNE_KILL_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_builder").into());
    let mut c = Command::new(bin);
    c.env("BUILDER_ROOT", root).env("SOURCE_DATE_EPOCH", EPOCH);
    c
}

/// A base rootfs with enough files (busybox plus 3000 small files in 60
/// dirs with assorted modes) that removing its snapshot takes a while.
fn base_rootfs(dir: &Path) -> PathBuf {
    let bb = support::busybox_rootfs("prune-kill-busybox");
    let root = dir.join("rootfs");
    support::run_ok(Command::new("cp").arg("-a").arg(&bb).arg(&root));
    for d in 0..60 {
        let sub = root.join(format!("data/d{d:02}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..50 {
            let p = sub.join(format!("f{f:02}"));
            fs::write(&p, format!("{d}-{f}\n").repeat(f + 1)).unwrap();
            use std::os::unix::fs::PermissionsExt;
            let mode = [0o644, 0o600, 0o755, 0o444][(d + f) % 4];
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        }
    }
    root
}

struct World {
    dir: tempfile::TempDir,
    rootfs: PathBuf,
    ctx: PathBuf,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = base_rootfs(dir.path());
        let ctx = dir.path().join("ctx");
        fs::create_dir_all(&ctx).unwrap();
        fs::write(
            ctx.join("Dockerfile"),
            "FROM base:1\n\
             RUN find /bin /etc /data | sort | xargs stat -c '%n %a %u %g %s' | md5sum > /tree && cat /data/d*/f* | md5sum >> /tree\n\
             COPY big.bin /big.bin\n\
             RUN --mount=type=cache,target=/var/cache/x sh -c 'ls /var/cache/x >/dev/null; echo x > /var/cache/x/f' && echo done > /done\n",
        )
        .unwrap();
        fs::write(ctx.join("big.bin"), vec![7u8; 1 << 20]).unwrap();
        World { dir, rootfs, ctx }
    }

    fn root(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn import(&self, root: &Path) {
        support::run_ok_all(
            builder(root)
                .args(["import", "-t", "base:1"])
                .arg(&self.rootfs),
        );
    }

    /// Builds `app:1`; returns its image ID, or the build's output on failure.
    fn build(&self, root: &Path) -> Result<String, String> {
        let iid = self.dir.path().join("iid");
        let _ = fs::remove_file(&iid);
        let o = support::run(
            builder(root)
                .args(["build", "--progress", "plain", "-t", "app:1", "--iidfile"])
                .arg(&iid)
                .arg(&self.ctx),
        );
        if !o.status.success() {
            return Err(format!(
                "build failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(fs::read_to_string(&iid).unwrap().trim().to_string())
    }

    /// What the image prints, or why it did not run.
    fn run(&self, root: &Path) -> Result<String, String> {
        let o = support::run(builder(root).args(["run", "--rm", "app:1", "cat", "/tree", "/done"]));
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        } else {
            Err(format!(
                "run failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    }

    fn check_store(&self, root: &Path) -> Result<String, String> {
        let o = support::run(
            Command::new(env!("CARGO_BIN_EXE_builder"))
                .env("BUILDER_ROOT", root)
                .args(["debug", "check-store"]),
        );
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() {
            Ok(out)
        } else {
            Err(format!(
                "check-store: {out}{}",
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    }
}

fn kill_prune_and_rebuild(kills: usize) {
    let w = World::new();
    // The reference: a clean build in a store of its own.
    let clean = w.root("clean");
    w.import(&clean);
    let want_id = w.build(&clean).unwrap();
    let want_out = w.run(&clean).unwrap();
    assert!(want_out.contains("done"), "{want_out}");
    w.check_store(&clean).unwrap();
    fs::remove_dir_all(&clean).unwrap();

    let root = w.root("store");
    w.import(&root);
    assert_eq!(w.build(&root).unwrap(), want_id, "not reproducible");
    let mut seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut wrong = Vec::new();
    let mut prune_finished = 0;
    let started = Instant::now();
    for i in 0..kills {
        support::run_ok_all(builder(&root).args(["rmi", "app:1", "base:1"]));
        // Spread over 0–300 ms, with jitter (xorshift).
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let ms = (i as u64 * 300 / kills as u64) + seed % (300 / kills as u64).max(1);
        let mut prune = builder(&root)
            .arg("prune")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = prune.kill();
        let status = prune.wait().unwrap();
        if status.success() {
            prune_finished += 1;
        }
        w.import(&root);
        let outcome = w
            .build(&root)
            .and_then(|id| {
                if id == want_id {
                    Ok(())
                } else {
                    Err(format!("image {id}, a clean build gives {want_id}"))
                }
            })
            .and_then(|()| w.run(&root))
            .and_then(|out| {
                if out == want_out {
                    Ok(())
                } else {
                    Err(format!("the image prints {out:?}, expected {want_out:?}"))
                }
            })
            .and_then(|()| w.check_store(&root).map(|_| ()));
        if let Err(e) = outcome {
            eprintln!("kill {i} at {ms} ms: WRONG: {e}");
            wrong.push(format!("kill {i} at {ms} ms: {e}"));
        }
    }
    eprintln!(
        "{kills} kills of prune (0-300 ms), {prune_finished} finished before the kill, {} wrong rebuilds, {:.1} s",
        wrong.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn kills_at_random_moments() {
    kill_prune_and_rebuild(10);
}

#[test]
#[ignore = "50 kills take a few minutes; run with --ignored"]
fn fifty_kills() {
    kill_prune_and_rebuild(50);
}
