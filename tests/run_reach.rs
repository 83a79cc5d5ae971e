//! What a RUN cannot reach, at each isolation level (issue 11): the store
//! (the builder root dir), the registry credentials (`$DOCKER_CONFIG/config.json`),
//! the secret of another build running at the same time in the same store,
//! builder's environment and file descriptors (builder is started with
//! descriptors 7 and 12 open without close-on-exec, as a CI runner may
//! leave them), or anything outside its root (`..`, `/proc/*/root`). The probing RUN searches every file it can
//! read; its checks print only computed strings, so the Dockerfile echoed in
//! the log never looks like a finding.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{run_ok, run_ok_all};

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SECRET: &str = "ALPHA-SECRET-VALUE-4471";
const CRED: &str = "CREDMARKER-9913";
const TOKEN: &str = "ENVTOKEN-5520";

fn probe_dockerfile(store: &Path) -> String {
    format!(
        r#"FROM busybox
RUN r=REACH; s=ALPHA-SECRET; c=CREDMARKER; t=ENVTOKEN; \
 for fd in $(seq 3 200); do /bin/true <&$fd 2>/dev/null && echo "$r:fd$fd"; done; \
 test -e {store} && echo "$r:store-path"; \
 find / \( -path /proc -o -path /sys \) -prune -o -name oci-layout -print 2>/dev/null \
   | sed "s/^/$r:layout:/"; \
 find / \( -path /proc -o -path /sys \) -prune -o -type f -print 2>/dev/null \
   | xargs grep -l -e "$s-VALUE" -e "$c-9913" 2>/dev/null | sed "s/^/$r:file:/"; \
 env | grep -q "$t-5520" && echo "$r:env"; \
 test -e /../../../work && echo "$r:dotdot"; cd / && cd ../../.. && test -e work && echo "$r:cd"; \
 test -e /proc/1/root/work && echo "$r:proc1root"; \
 ls -d /proc/*/root/work 2>/dev/null | sed "s/^/$r:procroot:/"; \
 echo "probe-$((1+1))-done"
"#,
        store = store.display()
    )
}

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn builder(&self, store: &Path) -> Command {
        let mut c = support::builder(store, &self.path("docker"));
        c.env_remove("BUILDER_ISOLATION")
            .env("BUILDER_TEST_TOKEN", TOKEN);
        c
    }
}

fn running(pattern: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn probe_at(level: &str, sleep: &str) {
    let w = World {
        dir: tempfile::Builder::new()
            .prefix("reach-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap(),
    };
    let store = w.path("store");
    fs::create_dir_all(w.path("docker")).unwrap();
    fs::write(
        w.path("docker/config.json"),
        format!(r#"{{"auths":{{"reg.example":{{"auth":"dTpw"}}}},"note":"{CRED}"}}"#),
    )
    .unwrap();
    run_ok(
        w.builder(&store)
            .args(["import", "--source-date-epoch", "0"])
            .args(["--env", PATH_ENV, "--cmd", "sh", "-t", "busybox"])
            .arg(support::busybox_rootfs("reach-busybox-rootfs")),
    );
    // Build A holds its secret while B probes.
    let (a, b) = (w.path("ctx-a"), w.path("ctx-b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(
        a.join("Dockerfile"),
        format!("FROM busybox\nRUN --mount=type=secret,id=a cat /run/secrets/a >/dev/null && sleep {sleep}\n"),
    )
    .unwrap();
    fs::write(w.path("secret"), SECRET).unwrap();
    fs::write(b.join("Dockerfile"), probe_dockerfile(&store)).unwrap();
    let mut build_a = w
        .builder(&store)
        .args(["build", "-q", "--isolation", level, "--secret"])
        .arg(format!("id=a,src={}", w.path("secret").display()))
        .arg(&a)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        running(&format!("sleep {sleep}"))
    });
    assert!(started, "build A's RUN never started at {level}");
    let mut probe = Command::new("bash");
    probe
        .args([
            "-c",
            "exec 7</etc/hostname 12</etc/hostname; exec \"$0\" \"$@\"",
        ])
        .arg(env!("CARGO_BIN_EXE_builder"))
        .args([
            "build",
            "--progress",
            "plain",
            "--no-cache",
            "--isolation",
            level,
        ])
        .arg(&b)
        .env("BUILDER_ROOT", &store)
        .env("DOCKER_CONFIG", w.path("docker"))
        .env("HOME", w.path("docker"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("BUILDER_ISOLATION")
        .env("BUILDER_TEST_TOKEN", TOKEN);
    let log = run_ok_all(&mut probe);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(build_a.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = build_a.wait();
    assert!(
        log.contains("probe-2-done"),
        "{level}: the probe did not finish:\n{log}"
    );
    let found: Vec<&str> = log.lines().filter(|l| l.contains("REACH:")).collect();
    assert!(found.is_empty(), "{level}: a RUN reached {found:#?}\n{log}");
}

#[test]
fn a_run_at_the_namespaces_level_reaches_nothing_of_builder() {
    probe_at("namespaces", "4.601");
}

#[test]
fn a_run_at_the_rootless_level_reaches_nothing_of_builder() {
    probe_at("rootless", "4.602");
}

#[test]
fn a_run_at_the_chroot_level_reaches_nothing_of_builder() {
    probe_at("chroot", "4.603");
}
