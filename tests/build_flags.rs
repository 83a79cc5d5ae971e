//! buildx `build` flags CI jobs use, through the real `builder build`:
//! `--build-context`, `--add-host`, `--shm-size`, `--annotation`, `--secret`
//! (buildx's parser) and `--network host`. Semantics are BuildKit's (0.13,
//! `frontend/dockerui/namedcontext.go`, `executor/oci/hosts.go`,
//! `dockerfile2llb` for `shm-size`) and buildx's (`build/opt.go`,
//! `util/buildflags`). Needs root (builds mount overlays), busybox-static,
//! docker-registry and skopeo.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::world::World;
use support::{run, run_ok, Auth, Registry};

impl World {
    fn dir_with(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let d = self.path(name);
        fs::create_dir_all(&d).unwrap();
        for (p, content) in files {
            if let Some(parent) = Path::new(p).parent() {
                fs::create_dir_all(d.join(parent)).unwrap();
            }
            fs::write(d.join(p), content).unwrap();
        }
        d
    }

    /// Builds to a local directory and returns it.
    fn build_local(&self, args: &[&str], ctx: &Path, out: &str) -> PathBuf {
        let dest = self.path(out);
        let o = self.build(
            &[
                args,
                &["-o", &format!("type=local,dest={}", dest.display())],
            ]
            .concat(),
            ctx,
        );
        assert!(
            o.status.success(),
            "build failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        dest
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// `--add-host` lines follow BuildKit's defaults in RUN's /etc/hosts
/// (`IP<TAB>NAME`); `--shm-size` sizes /dev/shm (64 MiB without it).
/// The hosts file and the sizes are Docker 26.1.5's for the same build.
#[test]
fn add_host_and_shm_size_reach_run() {
    let w = World::with_busybox("build-flags-");
    let ctx = w.dir_with(
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN cat /etc/hosts > /hosts && df -k /dev/shm | tail -1 > /shm\n",
        )],
    );
    let out = w.build_local(
        &[
            "--add-host",
            "db.internal:10.1.2.3",
            "--add-host",
            "cache=10.1.2.4",
            "--shm-size",
            "128m",
        ],
        &ctx,
        "out1",
    );
    let hosts = fs::read_to_string(out.join("hosts")).unwrap();
    assert_eq!(
        hosts,
        "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         10.1.2.3\tdb.internal\n10.1.2.4\tcache\n"
    );
    let shm = fs::read_to_string(out.join("shm")).unwrap();
    assert_eq!(shm.split_whitespace().nth(1), Some("131072"), "{shm}");

    // Without the flags: the defaults (and not a cache hit of the above).
    let out = w.build_local(&[], &ctx, "out2");
    let hosts = fs::read_to_string(out.join("hosts")).unwrap();
    assert!(!hosts.contains("db.internal"), "{hosts}");
    let shm = fs::read_to_string(out.join("shm")).unwrap();
    assert_eq!(shm.split_whitespace().nth(1), Some("65536"), "{shm}");
}

/// Bad values fail before any work, naming the flag.
#[test]
fn bad_values_fail_before_the_build() {
    let w = World::with_busybox("build-flags-");
    let ctx = w.dir_with("ctx", &[("Dockerfile", "FROM busybox\nRUN true\n")]);
    for (args, want) in [
        (
            &["--add-host", "nohost"][..],
            "--add-host nohost: invalid host",
        ),
        (
            &["--add-host", "h:host-gateway"],
            "host-gateway is not supported",
        ),
        (&["--add-host", "h:1.2.3"], "is not an IP address"),
        (&["--shm-size", "lots"], "--shm-size lots: invalid size"),
        (&["--annotation", "nokey"], "expected key=value"),
        (
            &["--annotation", "blob:k=v"],
            "unknown annotation type \"blob\"",
        ),
        (
            &["--build-context", "x=https://github.com/a/b.git"],
            "git, HTTP and bake sources are not supported",
        ),
        (
            &["--build-context", "x=/nonexistent/dir"],
            "is not a directory",
        ),
        (
            &["--build-context", "Bad Name=/tmp"],
            "invalid context name",
        ),
        // buildx parses NAME as an image name: a per-platform `NAME::PLATFORM`
        // key (BuildKit's form for bake targets) is refused there too.
        (
            &["--build-context", "alpine::linux/arm64=/tmp"],
            "per-platform names (NAME::PLATFORM) are not accepted",
        ),
        (
            &["--build-context", "x=git@github.com:a/b.git"],
            "--build-context x=git@github.com:a/b.git: git, HTTP and bake sources",
        ),
        (
            &["--build-context", "x=https://example.com/ctx.tar.gz"],
            "--build-context x=https://example.com/ctx.tar.gz: git, HTTP and bake sources",
        ),
        (&["--secret", "src=/etc/hostname"], "secret missing ID"),
        (
            &["--secret", "id=a,type=vault"],
            "unsupported secret type \"vault\"",
        ),
        (&["--secret", "id=a,foo=bar"], "unexpected key 'foo'"),
        (&["--call", "outline"], "--call outline: not supported"),
    ] {
        let o = w.build(args, &ctx);
        assert!(!o.status.success(), "{args:?} succeeded");
        let e = stderr(&o);
        assert!(e.contains(want), "{args:?}: {e}");
        assert!(!e.contains("RUN true"), "{args:?} started the build: {e}");
    }
}

/// `--secret type=env,src=VAR` reads the variable (buildx: with type=env,
/// src names it); `env=` as well; the id is what RUN mounts.
#[test]
fn secret_from_env_as_buildx() {
    let w = World::with_busybox("build-flags-");
    let ctx = w.dir_with(
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /tok\n\
             RUN --mount=type=secret,id=two cat /run/secrets/two > /two\n",
        )],
    );
    let dest = w.path("out");
    let o = run(w
        .builder()
        .env("BF_TOKEN", "s3cr3t")
        .env("BF_TWO", "second")
        .args(["build", "--progress", "plain"])
        .args(["--secret", "type=env,id=tok,src=BF_TOKEN"])
        .args(["--secret", "id=two,env=BF_TWO"])
        .args(["-o", &format!("type=local,dest={}", dest.display())])
        .arg(&ctx));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(dest.join("tok")).unwrap(), "s3cr3t");
    assert_eq!(fs::read_to_string(dest.join("two")).unwrap(), "second");
}

/// `--network host` is the host's network without `--allow network.host`
/// (buildx adds the entitlement itself), and lets `RUN --network=host` run.
/// Recorded with Docker 26.1.5 (buildx 0.13.1): `docker buildx build
/// --network host` of this Dockerfile succeeds and both RUNs list the
/// host's interfaces; without `--network host` it fails `network.host is
/// not allowed`.
#[test]
fn network_host_needs_no_allow() {
    let w = World::with_busybox("build-flags-");
    let ctx = w.dir_with(
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN --network=host cat /proc/net/dev > /dev1\nRUN cat /proc/net/dev > /dev2\n",
        )],
    );
    let out = w.build_local(&["--network", "host"], &ctx, "out");
    // The host's interfaces, not a sandbox's lone `lo` (and tap0).
    let host = fs::read_to_string("/proc/net/dev").unwrap();
    let ifaces = |s: &str| -> Vec<String> {
        s.lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|n| n.trim().to_string())
            .collect()
    };
    let want = ifaces(&host);
    assert!(want.len() > 1, "the host has only {want:?}");
    for f in ["dev1", "dev2"] {
        let got = ifaces(&fs::read_to_string(out.join(f)).unwrap());
        assert_eq!(got, want, "{f}");
    }
}

/// `--build-context`: a directory (its own .dockerignore honoured, files
/// root's) for `COPY --from` and `RUN --mount=from`; `docker-image://` for
/// `FROM name`; a context named like a stage replaces the stage (its steps
/// do not run), as BuildKit's dispatch does. Recorded with Docker 26.1.5:
/// the same Dockerfile and flags build, the mount lists the directory
/// without its ignored file, and the copied file is owned 0:0 (though
/// owned 1234 on the host, as here).
#[test]
fn build_context_dir_image_and_stage_override() {
    let w = World::with_busybox("build-flags-");
    let extra = w.dir_with(
        "extra",
        &[
            ("conf/app.conf", "from the named context\n"),
            ("secret.key", "ignored\n"),
            (".dockerignore", "secret.key\n"),
        ],
    );
    std::os::unix::fs::chown(extra.join("conf/app.conf"), Some(1234), Some(1234)).unwrap();
    let ctx = w.dir_with(
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox AS base\nRUN exit 3\n\
             FROM base\n\
             COPY --from=extra /conf/app.conf /app.conf\n\
             RUN --mount=from=extra,target=/x ls -a /x > /listing\n\
             RUN stat -c %u:%g /app.conf > /owner\n\
             COPY --from=img /bin/busybox /copied-busybox\n",
        )],
    );
    let out = w.build_local(
        &[
            "--build-context",
            &format!("extra={}", extra.display()),
            "--build-context",
            "base=docker-image://busybox",
            "--build-context",
            "img=docker-image://busybox:latest",
        ],
        &ctx,
        "out",
    );
    assert_eq!(
        fs::read_to_string(out.join("app.conf")).unwrap(),
        "from the named context\n"
    );
    // Docker 26.1.5 lists `.\n..\n.dockerignore\nconf\n` for this mount.
    let listing = fs::read_to_string(out.join("listing")).unwrap();
    assert_eq!(listing, ".\n..\n.dockerignore\nconf\n");
    assert_eq!(fs::read_to_string(out.join("owner")).unwrap(), "0:0\n");
    assert!(out.join("copied-busybox").is_file());

    // Without the override the stage's `RUN exit 3` runs and fails.
    let o = w.build(
        &["--build-context", &format!("extra={}", extra.display())],
        &ctx,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("exit code: 3"), "{}", stderr(&o));
}

/// `--build-context NAME=oci-layout://DIR:TAG` takes the image from an OCI
/// layout (never from a registry) for `FROM NAME`.
#[test]
fn build_context_oci_layout() {
    let w = World::with_busybox("build-flags-");
    let base = support::make_base_image(0);
    let ctx = w.dir_with(
        "ctx",
        &[("Dockerfile", "FROM base-img\nRUN echo ok > /ok\n")],
    );
    let out = w.build_local(
        &[
            "--platform",
            "linux/amd64",
            "--pull=always",
            "--build-context",
            &format!(
                "base-img=oci-layout://{}:amd64",
                base.layout.path().display()
            ),
        ],
        &ctx,
        "out",
    );
    assert_eq!(fs::read_to_string(out.join("ok")).unwrap(), "ok\n");
    assert!(out.join("bin/busybox").is_file());
}

/// `--annotation`: on the manifest by default, and per level and platform
/// in a multi-platform push (`index:`, `manifest-descriptor:`,
/// `manifest[linux/arm64]:`), read back from the registry with skopeo.
#[test]
fn annotations_are_pushed() {
    let reg = Registry::start(Auth::Plain);
    let w = World::with_busybox("build-flags-");
    let ctx = w.dir_with(
        "ctx",
        &[("Dockerfile", "FROM busybox\nCOPY a /a\n"), ("a", "a")],
    );
    let tag = format!("{}/ann/one:1", reg.addr);
    let o = w.build(
        &[
            "-t",
            &tag,
            "--push",
            "--annotation",
            "org.opencontainers.image.description=one image",
            "--annotation",
            "manifest:com.example.k=v",
        ],
        &ctx,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A push carries provenance by default (as buildx): the tag is an index
    // of the image and its attestation manifest; the annotations are the
    // image manifest's.
    let m = image_manifest(&tag);
    assert_eq!(
        m["annotations"]["org.opencontainers.image.description"],
        "one image"
    );
    assert_eq!(m["annotations"]["com.example.k"], "v");

    let base = support::make_base_image(0);
    let busybox = format!("{}/ann/busybox:1", reg.addr);
    base.push("index", &busybox, false, None);
    let ctx = w.dir_with(
        "ctx2",
        &[
            ("Dockerfile", &format!("FROM {busybox}\nCOPY a /a\n")),
            ("a", "a"),
        ],
    );
    let tag = format!("{}/ann/multi:1", reg.addr);
    let o = w.build(
        &[
            "-t",
            &tag,
            "--push",
            "--platform",
            "linux/amd64,linux/arm64",
            "--annotation",
            "index,manifest:org.opencontainers.image.title=t",
            "--annotation",
            "manifest-descriptor:d=1",
            "--annotation",
            "manifest[linux/arm64]:only.arm=yes",
        ],
        &ctx,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let idx = raw_manifest(&tag);
    assert_eq!(idx["annotations"]["org.opencontainers.image.title"], "t");
    // The index annotations and the image entries' descriptor annotations
    // are kept with the attestation manifests (one per platform) the push
    // adds, as buildx.
    let all = idx["manifests"].as_array().unwrap();
    let (entries, atts): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|e| e["platform"]["os"] != "unknown");
    assert_eq!((entries.len(), atts.len()), (2, 2), "{idx}");
    for e in entries {
        assert_eq!(e["annotations"]["d"], "1", "{e}");
        let arch = e["platform"]["architecture"].as_str().unwrap().to_string();
        let digest = e["digest"].as_str().unwrap();
        let m = raw_manifest(&format!("{}/ann/multi@{digest}", reg.addr));
        assert_eq!(m["annotations"]["org.opencontainers.image.title"], "t");
        assert_eq!(
            m["annotations"].get("only.arm").is_some(),
            arch == "arm64",
            "{arch}: {m}"
        );
    }
}

/// The image manifest `reference` names: itself, or the entry of its index
/// that is not an attestation (platform `unknown/unknown`).
fn image_manifest(reference: &str) -> Value {
    let m = raw_manifest(reference);
    let Some(entries) = m["manifests"].as_array() else {
        return m;
    };
    let image = entries
        .iter()
        .find(|e| e["platform"]["os"] != "unknown")
        .unwrap_or_else(|| panic!("no image entry in {m}"));
    let repo = reference.rsplit_once(':').map_or(reference, |(r, _)| r);
    raw_manifest(&format!("{repo}@{}", image["digest"].as_str().unwrap()))
}

fn raw_manifest(reference: &str) -> Value {
    let out = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{reference}")),
    );
    serde_json::from_str(&out).unwrap()
}
