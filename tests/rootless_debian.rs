//! Level 2 as a real non-root user on a Debian base (issue 11, §3): the
//! user `builder-rl` (useradd, an /etc/subuid and /etc/subgid range,
//! Debian's setuid newuidmap/newgidmap) runs builder through `setpriv` with
//! its own store under `$XDG_DATA_HOME`. The RUN installs a package with
//! `apt-get` from the Debian mirror (apt drops to its `_apt` user, so the
//! id map must hold more than one id), adds a user with `useradd` and
//! `chown`s to it; the layer keeps the image's owners (0 and the new
//! user's uid), never the host ids they are stored under.
//! The base is `scripts/mkbase-debian.sh` (debootstrap, cached under the
//! target dir). Needs root, network access to the Debian mirror, uidmap.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::fixtures::sh;
use support::run_ok_all as run_ok;

const USER: &str = "builder-rl";

/// The user with the range 300000-365535 (as `tests/rootless.rs` makes it).
fn user() -> u32 {
    sh(
        "command -v newuidmap >/dev/null || apt-get install -y -q uidmap >/dev/null 2>&1 || \
        (apt-get update -q >/dev/null && apt-get install -y -q uidmap >/dev/null)",
    );
    sh(&format!(
        "id -u {USER} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin {USER}"
    ));
    for f in ["/etc/subuid", "/etc/subgid"] {
        sh(&format!(
            "grep -qx '{USER}:300000:65536' {f} || {{ sed -i '/^{USER}:/d' {f}; \
             echo {USER}:300000:65536 >> {f}; }}"
        ));
    }
    let out = Command::new("id").args(["-u", USER]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The Debian bookworm rootfs of scripts/mkbase-debian.sh (made once).
fn debian_rootfs() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian-rootfs");
    run_ok(
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkbase-debian.sh"))
            .arg(&dir),
    );
    dir
}

fn as_user(home: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid", USER, "--regid", USER, "--init-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_builder"))
        .env_remove("BUILDER_ROOT")
        .env_remove("BUILDER_ISOLATION")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"));
    c
}

const DOCKERFILE: &str = "\
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends hello \\
 && rm -rf /var/lib/apt/lists/* && useradd -m -u 1234 app && mkdir /data \\
 && echo x > /data/f && chown -R app:app /data && chmod 4750 /data/f
";

#[test]
fn apt_get_useradd_and_chown_as_a_real_user_keep_the_images_owners() {
    let host_uid = user();
    let rootfs = debian_rootfs();
    let dir = tempfile::Builder::new()
        .prefix("rootless-debian-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let home = dir.path().join("home");
    let store = home.join("data/builder");
    // Root imports the base (it alone reads the rootfs with its owners),
    // then the store is the user's.
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_builder"))
            .env("BUILDER_ROOT", &store)
            .args([
                "import",
                "--source-date-epoch",
                "0",
                "-t",
                "debian:bookworm",
            ])
            .args([
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ])
            .arg(&rootfs),
    );
    sh(&format!("chown -R {USER}: {}", home.display()));
    let ctx = dir.path().join("ctx");
    fs::create_dir(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    sh(&format!("chmod -R a+rX {}", ctx.display()));

    let log = run_ok(
        as_user(&home)
            .args(["build", "--progress", "plain", "-t", "deb"])
            .arg(&ctx),
    );
    // Only the network's warning (RUN shares the host's network at the chroot
    // level, or where /dev/net/tun is root-only) is expected.
    assert!(
        log.lines()
            .filter(|l| l.contains("warning"))
            .all(|l| l.contains("share the host's network")),
        "{log}"
    );
    let out = run_ok(as_user(&home).args([
        "run",
        "--rm",
        "deb",
        "sh",
        "-c",
        "hello; stat -c '%u:%g %a %n' /data /data/f /home/app /usr/bin/hello; id app",
    ]));
    for want in [
        "Hello, world!\n",
        "1234:1234 755 /data\n",
        "1234:1234 4750 /data/f\n",
        "1234:1234 755 /home/app\n",
        "0:0 755 /usr/bin/hello\n",
        "uid=1234(app) gid=1234(app)",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}\n{log}");
    }

    // The RUN's layer, read from the user's store: the image's owners.
    let inspect = run_ok(as_user(&home).args(["inspect", "deb"]));
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let layers = v["Manifest"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{inspect}");
    let digest = layers[1]["digest"].as_str().unwrap();
    let blob = fs::read(store.join("blobs/sha256").join(&digest[7..])).unwrap();
    let plain = builder::layer::decompress(std::io::Cursor::new(blob))
        .unwrap()
        .1;
    let mut archive = tar::Archive::new(plain);
    let mut owners = std::collections::BTreeMap::new();
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let (uid, gid) = (h.uid().unwrap() as u32, h.gid().unwrap() as u32);
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        assert!(
            uid < 65536 && gid < 65536 && uid != host_uid,
            "{path} is owned by {uid}:{gid}, a host id"
        );
        owners.insert(path, (uid, gid, h.mode().unwrap()));
    }
    assert_eq!(
        owners.get("data/f"),
        Some(&(1234, 1234, 0o4750)),
        "{owners:?}"
    );
    assert_eq!(owners.get("home/app/").map(|o| o.0), Some(1234));
    assert_eq!(owners.get("usr/bin/hello").map(|o| o.0), Some(0));
    assert!(owners.contains_key("etc/passwd"), "{owners:?}");
}
