//! Rootful podman for the container tests: its own storage under the
//! target dir (overlay driver, so a container's root is overlayfs as under
//! Docker), cgroupfs, the file events backend, runc; the job image is the
//! busybox rootfs plus the libraries `ldd` lists for `builder`, which is
//! bind-mounted read-only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::run_ok_all as run_ok;

const IMAGE: &str = "localhost/builder-test-job:1";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_builder")
}

pub fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// `podman` with the test's own storage and settings.
pub fn podman() -> Command {
    let mut c = Command::new("podman");
    c.arg("--root")
        .arg(tmp().join("podman-storage"))
        .arg("--runroot")
        .arg(tmp().join("podman-run"))
        .args([
            "--storage-driver",
            "overlay",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--runtime",
            "runc",
        ]);
    c
}

/// The job image, imported once per test process.
pub fn job_image() -> &'static str {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let rootfs = super::busybox_rootfs("containers-job-rootfs");
        let ldd = run_ok(Command::new("ldd").arg(bin()));
        for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
            let dest = rootfs.join(lib.trim_start_matches('/'));
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copying {lib}: {e}"));
        }
        let tar = tmp().join("containers-job-rootfs.tar");
        run_ok(
            Command::new("tar")
                .arg("-C")
                .arg(&rootfs)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
        );
        run_ok(podman().arg("import").arg(&tar).arg(IMAGE));
    });
    IMAGE
}

/// This process's hard limit for `resource`: without CAP_SYS_RESOURCE the
/// container cannot get podman's defaults (1048576 open files).
fn hard_limit(resource: libc::__rlimit_resource_t) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    assert_eq!(unsafe { libc::getrlimit(resource, &mut r) }, 0);
    r.rlim_max
}

/// `podman run --rm` of the job image with `security` options, the store
/// at `store` (a volume) when given, and `args` as the command.
pub fn job(security: &[&str], store: Option<&Path>, args: &[&str]) -> (bool, String) {
    let nofile = hard_limit(libc::RLIMIT_NOFILE).min(1 << 20);
    let nproc = hard_limit(libc::RLIMIT_NPROC).min(32768);
    let mut c = podman();
    c.args(["run", "--rm", "--network", "host"])
        .arg(format!("--ulimit=nofile={nofile}:{nofile}"))
        .arg(format!("--ulimit=nproc={nproc}:{nproc}"))
        .args(security)
        .arg("-v")
        .arg(format!("{}:/usr/local/bin/builder:ro", bin()));
    if let Some(s) = store {
        c.arg("-v").arg(format!("{}:/var/lib/builder", s.display()));
    }
    c.arg(job_image()).args(args);
    let o = super::run(&mut c);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // The job image has no slirp4netns: RUN shares the job container's
    // network and builder says so in one warning line, dropped here so the
    // tests compare the commands' own output.
    let text = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("warning: slirp4netns is not installed"))
        .collect();
    (o.status.success(), text)
}

/// A seccomp profile like Docker's default for a container without
/// CAP_SYS_ADMIN: podman's own default allows `unshare`, Docker's does not
/// (nor `clone` with namespace flags; `clone3` gets ENOSYS).
pub fn docker_like_seccomp() -> PathBuf {
    let mut p: serde_json::Value =
        serde_json::from_slice(&fs::read("/usr/share/containers/seccomp.json").unwrap()).unwrap();
    let gated = ["unshare", "clone", "clone3"];
    for s in p["syscalls"].as_array_mut().unwrap() {
        s["names"]
            .as_array_mut()
            .unwrap()
            .retain(|n| !gated.contains(&n.as_str().unwrap()));
    }
    let calls = p["syscalls"].as_array_mut().unwrap();
    calls.push(serde_json::json!({
        "names": ["clone"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    }));
    calls
        .push(serde_json::json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}));
    let path = tmp().join("containers-docker-like-seccomp.json");
    fs::write(&path, p.to_string()).unwrap();
    path
}
