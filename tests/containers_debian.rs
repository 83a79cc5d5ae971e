//! A Debian build inside real containers (rootful podman, `support::podman`)
//! at levels 2 and 3 (issue 11, §3): the RUN `apt-get install`s a package
//! from the Debian mirror, adds a user and `chown`s to it; the image is
//! pushed to a local registry and runs there and on the host with those
//! owners. The base is `scripts/mkbase-debian.sh`'s rootfs, imported on the
//! host and pushed to the registry. Needs root, podman, runc, network
//! access to the Debian mirror.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::podman::{bin, docker_like_seccomp, job, tmp};
use support::{run_ok_all as run_ok, Auth, Registry};

const WANT: [&str; 4] = [
    "Hello, world!\n",
    "1234:1234 4750 /data/f\n",
    "0:0 755 /usr/bin/hello\n",
    "uid=1234(app) gid=1234(app)",
];

fn debian_in_a_container(security: &[&str], level: &str, tag: &str) {
    let reg = Registry::start(Auth::Plain);
    let dir = tempfile::Builder::new()
        .prefix("containers-debian-")
        .tempdir_in(tmp())
        .unwrap();
    let rootfs = tmp().join("debian-rootfs");
    run_ok(
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkbase-debian.sh"))
            .arg(&rootfs),
    );
    let host = |args: &[&str]| {
        run_ok(
            Command::new(bin())
                .env("BUILDER_ROOT", dir.path().join("host-store"))
                .env_remove("BUILDER_ISOLATION")
                .args(args),
        )
    };
    let base = format!("{}/debian:bookworm", reg.addr);
    let path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    host(&[
        "import",
        "--source-date-epoch",
        "0",
        "--env",
        path_env,
        "-t",
        &base,
        rootfs.to_str().unwrap(),
    ]);
    host(&["push", &base]);
    let ctx = dir.path().join("ctx");
    fs::create_dir(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {base}\n\
             RUN apt-get update && apt-get install -y --no-install-recommends hello \\\n \
             && rm -rf /var/lib/apt/lists/* && useradd -u 1234 app && mkdir /data \\\n \
             && echo x > /data/f && chown -R app:app /data && chmod 4750 /data/f\n\
             CMD [\"sh\", \"-c\", \"hello; stat -c '%u:%g %a %n' /data/f /usr/bin/hello; id app\"]\n"
        ),
    )
    .unwrap();
    let volume = format!("{}:/ctx:ro", ctx.display());
    let mut opts = security.to_vec();
    opts.extend(["-v", volume.as_str()]);
    let image = format!("{}/out:{tag}", reg.addr);
    let script = format!(
        "builder info | head -1 && builder build --progress plain --push -t {image} /ctx \
         && builder run --rm {image}"
    );
    let (ok, out) = job(&opts, None, &["sh", "-c", &script]);
    assert!(ok, "{out}");
    assert!(out.starts_with(&format!("isolation: {level}\n")), "{out}");
    for want in WANT {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    host(&["pull", &image]);
    let out = host(&["run", "--rm", &image]);
    for want in WANT {
        assert!(
            out.contains(want),
            "on the host: missing {want:?} in:\n{out}"
        );
    }
}

#[test]
fn debian_apt_get_build_at_the_rootless_level_in_a_container() {
    debian_in_a_container(
        &[
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "systempaths=unconfined",
        ],
        "rootless",
        "debian-rootless",
    );
}

#[test]
fn debian_apt_get_build_at_the_chroot_level_in_a_container() {
    let profile = format!("seccomp={}", docker_like_seccomp().display());
    debian_in_a_container(
        &["--security-opt", profile.as_str()],
        "chroot",
        "debian-chroot",
    );
}
