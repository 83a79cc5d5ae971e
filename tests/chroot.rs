//! The chroot isolation level (issue 11, level 3): root without
//! CAP_SYS_ADMIN and without user namespaces. No mounts: RUN is chrooted
//! into a materialised copy of the stage, and layers are the difference
//! found by walking it. Forced here with `--isolation chroot` as root, the
//! images must equal level 1's to the layer digest (SOURCE_DATE_EPOCH set),
//! and `builder run` must work; with CAP_SYS_ADMIN dropped and user
//! namespaces disabled, auto-detection picks it by itself.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use support::{run, run_ok, run_ok_all};

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Creates, modifies, deletes files and dirs, chowns, chmods (setuid),
/// replaces dirs by dirs, files and back, hardlinks, symlinks, a fifo,
/// xattrs; COPY and WORKDIR between RUNs.
const DOCKERFILE: &str = r#"FROM busybox
RUN mkdir -p /a/b /r/x /gone/deep /f2d && echo hi > /a/b/f && echo 1 > /r/x/old \
 && touch /gone/deep/g && echo k > /keep && echo m > /mod && ln /keep /keep2 \
 && echo d > /d2f && mkdir /d2fdir && touch /d2fdir/x && ln -s /a/b/f /link && mkfifo /fifo \
 && echo same > /same && setfattr -n user.k -v v1 /a/b/f 2>/dev/null; true
RUN echo more >> /mod && rm -rf /gone && chown 1000:1000 /a/b/f && chmod 4755 /a/b/f \
 && rm -rf /r && mkdir -p /r/y && echo new > /r/y/n && rm -rf /d2fdir && echo now-a-file > /d2fdir \
 && rm /d2f && mkdir /d2f && ln -sf /mod /link && chown -h 7:7 /link && chmod 700 /a \
 && echo same > /same.tmp && mv /same.tmp /same && echo gone > /tmp/t && rm /tmp/t \
 && echo x > /bin/zz && rm /bin/zz && touch -d @1000000 /keep
COPY file /a/
COPY --chown=5:6 file /copied/deep/
WORKDIR /w/x
RUN rm /keep2 && echo ok > /w/x/o && chgrp 3 /w
"#;

struct World {
    dir: tempfile::TempDir,
}

impl World {
    /// A store (its own, per level) holding `busybox`, and the context.
    fn new(prefix: &str) -> World {
        World {
            dir: support::fixtures::context_dir(prefix, DOCKERFILE),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn builder(&self, store: &str) -> Command {
        let mut c = support::builder(&self.path(store), &self.path("docker"));
        c.env_remove("BUILDER_ISOLATION");
        c
    }

    fn import(&self, store: &str) {
        run_ok(
            self.builder(store)
                .args(["import", "--source-date-epoch", "0"])
                .args(["--env", PATH_ENV, "--cmd", "sh", "-t", "busybox"])
                .arg(support::busybox_rootfs("chroot-busybox-rootfs")),
        );
    }

    /// Builds the context into `store` at `isolation`; returns the log.
    fn build(&self, store: &str, isolation: &str, tag: &str) -> String {
        self.import(store);
        run_ok_all(
            self.builder(store)
                .args(["build", "--progress", "plain", "--source-date-epoch", "0"])
                .args(["--isolation", isolation, "-t", tag])
                .arg(self.path("ctx")),
        )
    }

    fn diff_ids(&self, store: &str, tag: &str) -> Vec<String> {
        let out = run_ok(self.builder(store).args(["inspect", tag]));
        support::diff_ids(&out)
    }
}

#[test]
fn chroot_layers_equal_level_1_layers_and_the_image_runs() {
    let w = World::new("chroot-parity-");
    w.build("s1", "auto", "t");
    let log = w.build("s3", "chroot", "t");
    let (l1, l3) = (w.diff_ids("s1", "t"), w.diff_ids("s3", "t"));
    assert_eq!(l1.len(), 7, "busybox + 3 RUN + 2 COPY + WORKDIR: {l1:?}");
    assert_eq!(l3, l1, "chroot layers differ from level 1's:\n{log}");
    let out = run_ok(w.builder("s3").args([
        "run",
        "--isolation",
        "chroot",
        "--rm",
        "t",
        "sh",
        "-c",
        "cat /w/x/o /a/file /copied/deep/file /mod /d2fdir; stat -c '%a %u:%g' /a/b/f /a; \
         readlink /link; pwd; ls -d /gone /r/x /keep2 2>&1; true",
    ]));
    for want in [
        "ok\ncontent\ncontent\nm\nmore\nnow-a-file\n",
        "4755 1000:1000\n700 0:0\n/mod\n/w/x\n",
        "/gone: No such file or directory",
        "/r/x: No such file or directory",
        "/keep2: No such file or directory",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

/// What a RUN sees at the chroot level: a fresh copy of the stage, so the
/// store (the materialised root lives in it) is out of reach; the default
/// /dev nodes; no /proc; no way back out with chroot(2).
#[test]
fn a_chroot_run_cannot_reach_the_store_or_leave_its_root() {
    let w = World::new("chroot-reach-");
    let store = w.path("s3");
    let ctx = w.path("ctx-reach");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM busybox\nRUN test ! -e {store} && echo store-absent; ls /proc | wc -l; \
             echo x > /dev/null && head -c 4 /dev/zero | wc -c; \
             mkdir -p /jail && chroot /jail /bin/true 2>&1 || echo chroot-refused\n",
            store = store.display()
        ),
    )
    .unwrap();
    w.import("s3");
    let log = run_ok_all(
        w.builder("s3")
            .args(["build", "--progress", "plain", "--isolation", "chroot"])
            .arg(&ctx),
    );
    assert!(log.contains("store-absent"), "{log}");
    assert!(log.contains("chroot-refused"), "{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines.iter().any(|l| l.ends_with(" 0")) && lines.iter().any(|l| l.ends_with(" 4")),
        "/proc empty, /dev/zero readable:\n{log}"
    );
}

/// Root without CAP_SYS_ADMIN in a user namespace where no further one can
/// be made (max_user_namespaces = 0): auto-detection picks chroot, and the
/// built layers equal level 1's (no foreign owners: the namespace maps
/// only 0).
#[test]
fn without_sys_admin_and_user_namespaces_auto_picks_chroot() {
    let w = World::new("chroot-auto-");
    let ctx = w.path("ctx-auto");
    fs::create_dir_all(&ctx).unwrap();
    let dockerfile = "FROM busybox\nRUN mkdir -p /a/b /r/x && echo 1 > /a/b/f && echo 2 > /r/x/o \
                      && ln -s /a /l\nRUN rm -rf /r && mkdir /r && echo 3 >> /a/b/f && rm /l \
                      && chmod 700 /a\nCOPY file /c/\nWORKDIR /w\n";
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    fs::write(ctx.join("file"), "x\n").unwrap();
    w.import("s1");
    run_ok_all(
        w.builder("s1")
            .args(["build", "-q", "--source-date-epoch", "0", "-t", "t"])
            .arg(&ctx),
    );
    let b = env!("CARGO_BIN_EXE_builder");
    let drop = "setpriv --bounding-set -sys_admin --inh-caps -sys_admin";
    let rootfs = support::busybox_rootfs("chroot-busybox-rootfs");
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && {drop} {b} info && \
         {drop} {b} import --source-date-epoch 0 --env {PATH_ENV} --cmd sh -t busybox {rootfs} && \
         exec {drop} {b} build --progress plain --source-date-epoch 0 -t t {ctx}",
        rootfs = rootfs.display(),
        ctx = ctx.display()
    );
    let o = run(Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", &script])
        .env("BUILDER_ROOT", w.path("s3"))
        .env("DOCKER_CONFIG", w.path("docker"))
        .env_remove("BUILDER_ISOLATION"));
    let out = support::output_ok(&o, "build in a user namespace");
    assert!(out.starts_with("isolation: chroot\n"), "{out}");
    assert!(out.contains("root without CAP_SYS_ADMIN"), "{out}");
    // The base was imported in the namespace, whose single-ID map squashes
    // the rootfs' few non-root owners; every built layer must be equal.
    let (l1, l3) = (w.diff_ids("s1", "t"), w.diff_ids("s3", "t"));
    assert_eq!(l3.len(), 5, "{out}");
    assert_eq!(l3[1..], l1[1..], "{out}");
}

/// `RUN --mount` without mounts at the chroot level: a secret is a file, a
/// tmpfs an empty dir, a bind a copy of its source, a cache a copy copied
/// back; all gone before the diff, so the layers equal level 1's and hold
/// neither the secret nor what the RUN left under a mount target.
#[test]
fn run_mounts_leave_nothing_in_the_layers() {
    let w = World::new("chroot-secret-");
    let ctx = w.path("ctx-secret");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\n\
         RUN --mount=type=secret,id=tok cat /run/secrets/tok && echo kept > /kept\n\
         RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/junk && mkdir -p /tmp/t \\\n\
          && echo y > /tmp/t/y\n\
         RUN --mount=type=secret,id=tok,target=/etc/deep/tok,mode=0440,uid=7 \\\n\
          stat -c '%a %u' /etc/deep/tok\n\
         RUN --mount=type=bind,target=/ctx cat /ctx/Dockerfile > /dev/null && echo x > /ctx/w \\\n\
          && cp /ctx/tok.txt /from-bind 2>/dev/null; echo bound\n\
         RUN --mount=type=cache,target=/var/cache/c echo 1 >> /var/cache/c/n\n\
         RUN --mount=type=cache,target=/var/cache/c wc -l < /var/cache/c/n > /cache-lines\n",
    )
    .unwrap();
    let secret = w.path("tok.txt");
    fs::write(&secret, "s3cr3t-value").unwrap();
    let mut logs = Vec::new();
    for (store, level) in [("s1", "auto"), ("s3", "chroot")] {
        w.import(store);
        logs.push(run_ok_all(
            w.builder(store)
                .args(["build", "--progress", "plain", "--source-date-epoch", "0"])
                .args(["--isolation", level, "-t", "t"])
                .arg("--secret")
                .arg(format!("id=tok,src={}", secret.display()))
                .arg(&ctx),
        ));
    }
    let log = &logs[1];
    assert!(
        log.contains("s3cr3t-value"),
        "the RUN read the secret:\n{log}"
    );
    assert!(
        log.contains("440 7"),
        "mode and owner of the secret:\n{log}"
    );
    assert_eq!(w.diff_ids("s3", "t"), w.diff_ids("s1", "t"), "{log}");
    let out = run_ok(w.builder("s3").args([
        "run",
        "--rm",
        "t",
        "sh",
        "-c",
        "ls -d /run/secrets /etc/deep /scratch /ctx /var/cache/c 2>&1; \
         cat /kept /tmp/t/y /cache-lines; true",
    ]));
    for want in [
        "/run/secrets: No such file",
        "/etc/deep: No such file",
        "/scratch: No such file",
        "/ctx: No such file",
        "/var/cache/c: No such file",
        // The second cache RUN read what the first left: copied back.
        "kept\ny\n1\n",
    ] {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
}

/// Without a PID namespace nothing kills what a RUN started but the helper:
/// SIGTERM to builder (a cancelled job) ends the RUN's whole process group,
/// background children included.
#[test]
fn sigterm_ends_the_run_and_what_it_started() {
    let w = World::new("chroot-term-");
    let ctx = w.path("ctx-term");
    fs::create_dir_all(&ctx).unwrap();
    // Marker arguments so only this test's sleeps are looked for.
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN (sleep 3623 &) ; sleep 3621\n",
    )
    .unwrap();
    w.import("s3");
    let mut child = w
        .builder("s3")
        .args(["build", "-q", "--isolation", "chroot"])
        .arg(&ctx)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let running = |pat: &str| {
        Command::new("pgrep")
            .args(["-f", pat])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let started = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        running("sleep 3621") && running("sleep 3623")
    });
    assert!(started, "the RUN never started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the build was cancelled");
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !running("sleep 362[13]")
    });
    assert!(gone, "the RUN or its background child outlived the build");
}

/// `RUN --mount=type=ssh` at the chroot level: no bind mount, a socket in
/// the root relaying to the host's agent (a real `ssh-agent` holding a
/// key); `ssh-add -l` in the RUN lists the key, and neither the socket nor
/// its dir reaches the layer. `RUN --network=none` stops at its Dockerfile
/// line saying what to change.
#[test]
fn ssh_agent_relayed_and_network_none_refused_with_the_fix() {
    let w = World::new("chroot-ssh-");
    let ctx = w.path("ctx-ssh");
    let sshroot = ctx.join("sshroot");
    // ssh-add and the libraries it links, laid out as on the host.
    let ldd = run_ok(Command::new("ldd").arg("/usr/bin/ssh-add"));
    let files = ldd
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .chain(["/usr/bin/ssh-add"]);
    for f in files {
        let dest = sshroot.join(f.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(f, &dest).unwrap();
    }
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY sshroot/ /\n\
         RUN --mount=type=ssh ssh-add -l && ls -ln $SSH_AUTH_SOCK\n",
    )
    .unwrap();
    let agent = w.path("agent.sock");
    let out = run_ok(Command::new("ssh-agent").arg("-a").arg(&agent).arg("-s"));
    let pid: i32 = out
        .split("SSH_AGENT_PID=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    struct Kill(i32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    let _agent = Kill(pid);
    let key = w.path("id_ed25519");
    run_ok(
        Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "relay-test-key",
                "-f",
            ])
            .arg(&key),
    );
    run_ok(
        Command::new("ssh-add")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &agent),
    );
    w.import("s3");
    let log = run_ok_all(
        w.builder("s3")
            .args(["build", "--progress", "plain", "--source-date-epoch", "0"])
            .args(["--isolation", "chroot", "-t", "ssh", "--ssh"])
            .arg(format!("default={}", agent.display()))
            .arg(&ctx),
    );
    assert!(log.contains("relay-test-key (ED25519)"), "{log}");
    assert!(log.contains("srw-------    1 0        0"), "{log}");
    let out = run_ok(w.builder("s3").args([
        "run",
        "--rm",
        "ssh",
        "sh",
        "-c",
        "ls -d /run/buildkit 2>&1; true",
    ]));
    assert!(out.contains("/run/buildkit: No such file"), "{out}");

    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN true\nRUN --network=none echo off$((1+1))line\n",
    )
    .unwrap();
    let o = run(w
        .builder("s3")
        .args(["build", "--progress", "plain", "--isolation", "chroot"])
        .arg(&ctx));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    for want in [
        "Dockerfile:3",
        "--network=none needs a network namespace",
        "seccomp=unconfined",
        "hostUsers: false",
    ] {
        assert!(err.contains(want), "no {want:?} in:\n{err}");
    }
    assert!(!err.contains("off2line"), "the RUN never ran:\n{err}");
}
