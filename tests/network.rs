//! RUN's network (issue 18): by default a network namespace of its own,
//! reached through slirp4netns (BuildKit's `sandbox` mode): a listener on
//! the host's loopback is out of reach, the only interfaces are `lo` and
//! `tap0`, and the Debian mirror is reachable (apt-get update). The host's
//! network only with `--network host --allow network.host`, or
//! `RUN --network=host` with the same entitlement. Needs root, busybox-static
//! and slirp4netns (scripts/install-deps.sh); the apt test debootstraps a
//! Debian base once (scripts/mkbase-debian.sh, cached under the target dir).

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn builder(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_builder"));
    c.env("BUILDER_ROOT", root);
    c
}

/// A listener on the host's 127.0.0.1 that answers every connection with
/// `HOST-SECRET`; counts the connections.
fn host_listener() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            h.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(b"HOST-SECRET\n");
        }
    });
    (port, hits)
}

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
        };
        support::fixtures::import_busybox(&mut builder(&w.root()), "network-busybox", "bb:1");
        w
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn build(&self, dockerfile: &str, extra: &[&str]) -> Output {
        let ctx = self.dir.path().join("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        support::run(
            builder(&self.root())
                .args(["build", "--progress", "plain", "--no-cache"])
                .args(extra)
                .arg(&ctx),
        )
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn run_has_its_own_network_by_default() {
    let w = World::new();
    let (port, hits) = host_listener();
    let df = format!(
        "FROM bb:1\nRUN echo ifaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ,); \
         nc -w 3 127.0.0.1 {port}; nc -w 3 10.0.2.2 {port}; echo probed\n"
    );
    let o = w.build(&df, &[]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("ifaces: lo,tap0,"), "{out}");
    assert!(out.contains("probed"), "{out}");
    assert!(
        !out.contains("HOST-SECRET"),
        "RUN reached the host's loopback:\n{out}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "{out}");

    // The host's network when the build asks for it: buildx's `--network host`
    // grants the network.host entitlement itself (Docker 26.1.5 builds it without
    // `--allow`, recorded in tests/build_flags.rs network_host_needs_no_allow).
    for extra in [
        &["--network", "host"][..],
        &["--network", "host", "--allow", "network.host"],
    ] {
        let o = w.build(&df, extra);
        let out = text(&o);
        assert!(o.status.success(), "{extra:?}: {out}");
        assert!(out.contains("HOST-SECRET"), "{extra:?}: {out}");
        assert!(!out.contains("ifaces: lo,tap0,"), "{extra:?}: {out}");
    }

    // Per step, likewise.
    let df = format!("FROM bb:1\nRUN --network=host nc -w 3 127.0.0.1 {port}\n");
    let o = w.build(&df, &[]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("--allow network.host"), "{out}");
    let o = w.build(&df, &["--allow", "network.host"]);
    let out = text(&o);
    assert!(o.status.success() && out.contains("HOST-SECRET"), "{out}");

    // `builder run` gets the same default.
    let o = support::run(builder(&w.root()).args([
        "run",
        "--rm",
        "bb:1",
        "sh",
        "-c",
        &format!("nc -w 3 127.0.0.1 {port}; cat /proc/net/dev"),
    ]));
    let out = text(&o);
    assert!(
        out.contains("tap0") && !out.contains("HOST-SECRET"),
        "{out}"
    );
}

#[test]
fn apt_get_update_reaches_the_debian_mirror() {
    let rootfs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian-rootfs");
    support::run_ok_all(
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkbase-debian.sh"))
            .arg(&rootfs),
    );
    let w = World {
        dir: tempfile::tempdir().unwrap(),
    };
    support::run_ok_all(
        builder(&w.root())
            .args(["import", "-t", "debian:bookworm", "--cmd", "bash"])
            .arg(&rootfs),
    );
    let o = w.build(
        "FROM debian:bookworm\nRUN cat /proc/net/dev | grep -c tap0 && apt-get update && getent hosts localhost\n",
        &[],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Reading package lists"), "{out}");
    assert!(!out.contains("Err:"), "{out}");
}

/// `RUN --network=host` without `--allow network.host` is refused when the
/// build is planned, before any step runs (nothing is cached by it), at the
/// Dockerfile line. Docker 26.1 (buildx 0.13.1, docker driver), recorded
/// with the same Dockerfile: no step runs, exit status 1,
/// `ERROR: failed to solve: failed to load LLB: network.host is not allowed`
/// (without a line); the message here starts with BuildKit's words.
#[test]
fn run_network_host_is_refused_before_any_work() {
    let w = World::new();
    let df = "FROM bb:1\nRUN echo first-step-ran\nRUN --network=host echo hostnet\n";
    let o = w.build(df, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("network.host is not allowed"), "{out}");
    assert!(out.contains("Dockerfile:3"), "{out}");
    assert!(out.contains("--allow network.host"), "{out}");
    assert!(!out.contains("#1 "), "a step started: {out}");
    assert!(!out.contains("first-step-ran\n"), "{out}");

    // Allowed, and with the cache: every step runs (the refused build left
    // nothing behind).
    let o = support::run(
        builder(&w.root())
            .args(["build", "--progress", "plain", "--allow", "network.host"])
            .arg(w.dir.path().join("ctx")),
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(!out.contains("CACHED"), "{out}");
    assert!(
        out.contains("first-step-ran") && out.contains("hostnet"),
        "{out}"
    );
}
