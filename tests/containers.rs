//! builder inside real containers (Debian's rootful `podman`, as CI runners
//! run jobs), with the store on a volume and on the container's own
//! overlayfs root.
//!
//! The job image is a busybox rootfs (`tests/support` `busybox_rootfs`)
//! plus the shared libraries `ldd` lists for the built `builder`, which is
//! bind-mounted read-only into the container. The base image comes from a
//! local registry reached with `--network host`. podman keeps its own
//! storage under the target dir (overlay driver, so the container's root is
//! overlayfs as under Docker), with cgroupfs, the file events backend, runc
//! (crun 1.8 refuses this host's hybrid cgroups) and rlimits this host
//! allows: nothing in /etc is changed. Needs root, podman, runc, skopeo,
//! docker-registry, busybox-static (scripts/install-deps.sh).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{run_ok_all as run_ok, Auth, Registry};

use support::podman::{bin, docker_like_seccomp, job, tmp};

/// A registry holding `busybox:latest`; the Dockerfile's context, written
/// into a dir the container sees as /ctx.
struct Fixture {
    reg: Registry,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let reg = Registry::start(Auth::Plain);
        let base = support::make_base_image(0);
        base.push(
            "amd64",
            &format!("{}/busybox:latest", reg.addr),
            false,
            None,
        );
        let dir = tempfile::Builder::new()
            .prefix("containers-")
            .tempdir_in(tmp())
            .unwrap();
        let ctx = dir.path().join("ctx");
        fs::create_dir(&ctx).unwrap();
        fs::write(
            ctx.join("Dockerfile"),
            format!(
                "FROM {}/busybox:latest\n\
                 RUN echo built in a container > /hello && chown 1000:33 /hello\n\
                 COPY f.txt /f.txt\n\
                 CMD [\"sh\", \"-c\", \"cat /hello /f.txt; stat -c %u:%g /hello\"]\n",
                reg.addr
            ),
        )
        .unwrap();
        fs::write(ctx.join("f.txt"), "copied\n").unwrap();
        fs::create_dir(dir.path().join("store")).unwrap();
        Fixture { reg, dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The build command pushing `tag`, and the context volume it needs.
    fn build(&self, security: &[&str], store: Option<&Path>, tag: &str) -> (bool, String) {
        let volume = format!("{}:/ctx:ro", self.dir.path().join("ctx").display());
        let mut opts = security.to_vec();
        opts.extend(["-v", volume.as_str()]);
        let tag = format!("{}/out:{tag}", self.reg.addr);
        let cmd = [
            "builder",
            "build",
            "--source-date-epoch",
            "0",
            "--progress",
            "plain",
            "--push",
            // The images are compared to the byte across tags; default
            // provenance would name each tag (tests/attestations.rs covers it).
            "--provenance=false",
            "-t",
            &tag,
            "/ctx",
        ];
        job(&opts, store, &cmd)
    }
}

/// Builds in a container with `security` options: builder picks `level`
/// for `why`, builds, pushes, and the image runs there and on the host.
fn builds_pushes_and_runs(security: &[&str], tag: &str, (level, why): (&str, &str)) {
    let f = Fixture::new();
    let (ok, info) = job(security, Some(&f.store()), &["builder", "info"]);
    assert!(ok, "{info}");
    assert!(info.starts_with(&format!("isolation: {level}\n")), "{info}");
    assert!(info.contains(why), "{info}");

    let (ok, log) = f.build(security, Some(&f.store()), tag);
    assert!(ok, "build in the container failed:\n{log}");
    let image = format!("{}/out:{tag}", f.reg.addr);
    let pushed = support::skopeo_digest(&image, None);
    assert!(pushed.starts_with("sha256:"), "{pushed}");

    let (ok, out) = job(
        security,
        Some(&f.store()),
        &["builder", "run", "--rm", &image],
    );
    assert!(ok, "{out}");
    assert_eq!(out, "built in a container\ncopied\n1000:33\n");

    // The pushed image runs on the host too (pulled into a fresh store).
    let host_store = f.dir.path().join("host-store");
    let host = |args: &[&str]| {
        run_ok(
            Command::new(bin())
                .env("BUILDER_ROOT", &host_store)
                .args(args),
        )
    };
    host(&["pull", &image]);
    let out = host(&["run", "--rm", &image]);
    assert!(
        out.contains("built in a container\ncopied\n1000:33"),
        "{out}"
    );

    // Level 1 on the host builds the same image, to the byte.
    let level1 = format!("{}/out:{tag}-host", f.reg.addr);
    let ctx = f.dir.path().join("ctx");
    host(&[
        "build",
        "--source-date-epoch",
        "0",
        "--push",
        "--provenance=false",
        "-t",
        &level1,
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(support::skopeo_digest(&level1, None), pushed);
}

const ROOTLESS: (&str, &str) = ("rootless", "root without CAP_SYS_ADMIN");

/// `--privileged`, the store on a volume: level 1.
#[test]
fn namespaces_level_in_a_privileged_container_builds_pushes_and_runs() {
    builds_pushes_and_runs(
        &["--privileged"],
        "privileged",
        ("namespaces", "root with CAP_SYS_ADMIN"),
    );
}

/// seccomp unconfined (as Docker needs) and /proc unmasked.
#[test]
fn rootless_level_in_an_unconfined_container_builds_pushes_and_runs() {
    builds_pushes_and_runs(
        &[
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "systempaths=unconfined",
        ],
        "unconfined",
        ROOTLESS,
    );
}

/// podman's own default seccomp profile allows `unshare`: unmasking /proc
/// is enough.
#[test]
fn rootless_level_with_podmans_default_seccomp_and_unmasked_proc() {
    builds_pushes_and_runs(
        &["--security-opt", "systempaths=unconfined"],
        "podman-default",
        ROOTLESS,
    );
}

/// The README's seed example (`FROM ubuntu:16.04`, examples/hello) at
/// level 2 in a container: docker.io comes from a local mirror holding the
/// busybox base as `library/ubuntu:16.04`, as in scripts/demo.sh.
#[test]
fn seed_example_builds_and_runs_at_the_rootless_level_in_a_container() {
    let f = Fixture::new();
    let base = support::make_base_image(0);
    base.push(
        "amd64",
        &format!("{}/library/ubuntu:16.04", f.reg.addr),
        false,
        None,
    );
    let config = f.dir.path().join("registries.toml");
    fs::write(
        &config,
        format!(
            "[registry.\"docker.io\"]\nmirrors = [\"http://{}\"]\n",
            f.reg.addr
        ),
    )
    .unwrap();
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello");
    let volumes = [
        format!("{}:/etc/builder/registries.toml:ro", config.display()),
        format!("{}:/ctx:ro", hello.display()),
    ];
    let opts = [
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "systempaths=unconfined",
        "-v",
        &volumes[0],
        "-v",
        &volumes[1],
    ];
    let script = "builder build -q -t hello /ctx >/dev/null && builder run --rm hello";
    let (ok, out) = job(&opts, Some(&f.store()), &["sh", "-c", script]);
    assert!(ok, "{out}");
    assert_eq!(out.trim_end(), "Hello, World!");
}

/// podman's defaults alone (its seccomp profile, /proc masked): level 2 is
/// picked but a RUN cannot mount /proc, and the error says how to unmask it.
#[test]
fn podmans_default_profile_with_masked_proc_names_the_fix() {
    let f = Fixture::new();
    let (ok, log) = f.build(&[], Some(&f.store()), "masked");
    assert!(!ok, "{log}");
    assert!(
        log.contains("mounting /proc in the user namespace")
            && log.contains("systempaths=unconfined")
            && log.contains("procMount: Unmasked"),
        "{log}"
    );
}

/// Docker's default profile: no CAP_SYS_ADMIN, no user namespaces. builder
/// says why and what to change — or, once the chroot level exists, builds.
#[test]
fn default_docker_profile_picks_what_it_can() {
    let f = Fixture::new();
    let profile = format!("seccomp={}", docker_like_seccomp().display());
    let sec = ["--security-opt", profile.as_str()];
    let (ok, info) = job(&sec, Some(&f.store()), &["builder", "info"]);
    assert!(ok, "{info}");
    assert!(info.starts_with("isolation: chroot"), "{info}");
    assert!(
        // Docker answers EPERM, this profile (podman's default action) ENOSYS.
        info.contains("user namespaces: unavailable: unshare(CLONE_NEWUSER): "),
        "{info}"
    );
    let (ok, log) = f.build(&sec, Some(&f.store()), "level3");
    if info.contains("not implemented yet") {
        assert!(!ok, "{log}");
        for what in [
            "no isolation level works here",
            "root without CAP_SYS_ADMIN",
            "user namespaces are not available",
            "seccomp=unconfined",
            "hostUsers: false",
        ] {
            assert!(log.contains(what), "no {what:?} in:\n{log}");
        }
    } else {
        assert!(ok, "build at the chroot level failed:\n{log}");
        let image = format!("{}/out:level3", f.reg.addr);
        let (ok, out) = job(&sec, Some(&f.store()), &["builder", "run", "--rm", &image]);
        assert!(ok, "{out}");
        assert_eq!(out, "built in a container\ncopied\n1000:33\n");
    }
}

/// No volume for the store: it is on the container's overlayfs root. The
/// build works at `level` all the same (copies instead of overlay mounts),
/// in one container with its run, and pushes level 1's image to the byte.
fn builds_on_the_containers_overlay_root(security: &[&str], tag: &str, level: &str) {
    let f = Fixture::new();
    let volume = format!("{}:/ctx:ro", f.dir.path().join("ctx").display());
    let mut opts = security.to_vec();
    opts.extend(["-v", volume.as_str()]);
    let image = format!("{}/out:{tag}", f.reg.addr);
    let script = format!(
        "builder info && builder build --source-date-epoch 0 --progress plain --push \
         --provenance=false -t {image} \
         /ctx && builder run --rm {image} && ls -A /var/lib/builder/snapshots | wc -l"
    );
    let (ok, out) = job(&opts, None, &["sh", "-c", &script]);
    assert!(ok, "{out}");
    assert!(out.starts_with(&format!("isolation: {level}\n")), "{out}");
    assert!(
        out.contains("store filesystem: 0x794c7630 (overlayfs: steps work on copies"),
        "{out}"
    );
    assert!(
        out.contains("built in a container\ncopied\n1000:33\n"),
        "{out}"
    );
    let pushed = support::skopeo_digest(&image, None);
    let host = format!("{}/out:{tag}-host", f.reg.addr);
    run_ok(
        Command::new(bin())
            .env("BUILDER_ROOT", f.dir.path().join("host-store"))
            .args([
                "build",
                "--source-date-epoch",
                "0",
                "--push",
                "--provenance=false",
            ])
            .args(["-t", &host])
            .arg(f.dir.path().join("ctx")),
    );
    assert_eq!(support::skopeo_digest(&host, None), pushed, "{out}");
}

#[test]
fn store_on_the_containers_overlay_root_at_the_namespaces_level() {
    builds_on_the_containers_overlay_root(&["--privileged"], "ovl-privileged", "namespaces");
}

#[test]
fn store_on_the_containers_overlay_root_at_the_rootless_level() {
    builds_on_the_containers_overlay_root(
        &[
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "systempaths=unconfined",
        ],
        "ovl-rootless",
        "rootless",
    );
}

#[test]
fn store_on_the_containers_overlay_root_at_the_chroot_level() {
    let profile = format!("seccomp={}", docker_like_seccomp().display());
    builds_on_the_containers_overlay_root(
        &["--security-opt", profile.as_str()],
        "ovl-chroot",
        "chroot",
    );
}
