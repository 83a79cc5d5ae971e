//! Multi-platform builds (`--platform linux/amd64,linux/arm64`) with real
//! parts: the builder binary, a real registry (`tests/support`), skopeo
//! reading what was pushed, and the busybox base published as an OCI index
//! for amd64 and arm64/v8. A foreign RUN runs through QEMU user emulation on
//! a real multi-arch busybox (`support::multiarch`); the emulation itself is
//! tested at every isolation level in `tests/emulation.rs`.
//!
//! Needs root and docker-registry, busybox-static and skopeo
//! (`scripts/install-deps.sh`).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{run, run_ok, Auth, Registry};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// One test's private directory: store, docker config, contexts, outputs.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            dir: tempfile::Builder::new().prefix("mplat-").tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The builder binary on store `store` (several stores per world).
    fn builder_in(&self, store: &str) -> Command {
        support::builder(&self.path(store), &self.path("docker"))
    }

    fn builder(&self) -> Command {
        self.builder_in("store")
    }

    fn context(&self, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> PathBuf {
        let ctx = self.path(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        for (p, c) in files {
            fs::write(ctx.join(p), c).unwrap();
        }
        ctx
    }

    fn build(&self, store: &str, args: &[&str], ctx: &Path) -> Output {
        run(self
            .builder_in(store)
            .args(["build", "--progress", "plain"])
            .args(args)
            .arg(ctx))
    }

    fn build_ok(&self, store: &str, args: &[&str], ctx: &Path) -> String {
        support::output_ok(&self.build(store, args, ctx), "build")
    }
}

/// A registry holding the two-platform base image (see
/// [`support::make_base_image`]) pushed as the index `REG/mp/busybox:1`:
/// the registry (stopped on drop), the base and that reference.
fn registry_with_base() -> (Registry, support::BaseImage, String) {
    let reg = Registry::start(Auth::Plain);
    let base = support::make_base_image(0);
    let busybox = format!("{}/mp/busybox:1", reg.addr);
    base.push("index", &busybox, false, None);
    (reg, base, busybox)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// `skopeo inspect ARGS docker://REF` parsed.
fn skopeo(args: &[&str], reference: &str) -> Value {
    let out = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .args(args)
            .arg(format!("docker://{reference}")),
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo output {out:?}: {e}"))
}

/// `(os/arch[/variant], media type)` of each image entry of an index
/// (attestation manifests, `vnd.docker.reference.type=attestation-manifest`,
/// left out: `attestation_entries` counts them).
fn entries(index: &Value) -> Vec<(String, String)> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !is_attestation(m))
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p.get("variant").and_then(Value::as_str) {
                s = format!("{s}/{v}");
            }
            (s, m["mediaType"].as_str().unwrap().to_string())
        })
        .collect()
}

fn is_attestation(entry: &Value) -> bool {
    entry["annotations"]["vnd.docker.reference.type"] == "attestation-manifest"
}

/// How many attestation manifests an index lists (one per platform when
/// pushed with the default `--provenance`, as buildx).
fn attestation_entries(index: &Value) -> usize {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| is_attestation(m))
        .count()
}

fn env_of(config: &Value, name: &str) -> Option<String> {
    config["config"]["Env"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|e| e.strip_prefix(&format!("{name}=")).map(str::to_string))
}

/// Reads one file of an OCI layout tar (`index.json`, `blobs/sha256/…`).
fn tar_file(archive: &Path, name: &str) -> Vec<u8> {
    let mut a = tar::Archive::new(fs::File::open(archive).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == name {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut b).unwrap();
            return b;
        }
    }
    panic!("{name} not in {}", archive.display())
}

fn blob(archive: &Path, digest: &str) -> Value {
    let b = tar_file(archive, &format!("blobs/sha256/{}", &digest[7..]));
    assert_eq!(support::digest(&b), digest, "blob content");
    serde_json::from_slice(&b).unwrap()
}

const SCRATCH_DOCKERFILE: &str = "FROM scratch\n\
ARG TARGETARCH\n\
ARG TARGETPLATFORM\n\
ARG BUILDARCH\n\
COPY hello.txt /hello.txt\n\
ENV ARCH=$TARGETARCH PLAT=$TARGETPLATFORM BUILT_ON=$BUILDARCH\n";

/// `FROM scratch` + COPY/ARG/ENV for two platforms: an index with one
/// manifest per platform (OCI by default, a Docker manifest list with
/// `--format docker`), each config with its platform and TARGET* values;
/// the same inputs give the same index digest in another store; oci and
/// local outputs hold both platforms.
#[test]
fn scratch_image_for_two_platforms() {
    let reg = Registry::start(Auth::Plain);
    let w = World::new();
    let ctx = w.context("ctx", SCRATCH_DOCKERFILE, &[("hello.txt", "hello\n")]);
    let tag = format!("{}/mp/scratch:1", reg.addr);
    let oci = w.path("out.tar");
    let local = w.path("local");
    let iid = w.path("iid");
    let args = [
        "--platform",
        "linux/amd64,arm64",
        "--source-date-epoch",
        "0",
        "-t",
        &tag,
        "--push",
        "--iidfile",
        iid.to_str().unwrap(),
        "--output",
        &format!("type=oci,dest={}", oci.display()),
        "--output",
        &format!("type=local,dest={}", local.display()),
    ];
    w.build_ok("store", &args, &ctx);

    // The pushed index: two OCI manifests, amd64 first, platforms as BuildKit writes them.
    let raw = skopeo(&["--raw"], &tag);
    assert_eq!(raw["mediaType"], OCI_INDEX);
    assert_eq!(raw["schemaVersion"], 2);
    assert_eq!(
        entries(&raw),
        [
            ("linux/amd64".to_string(), OCI_MANIFEST.to_string()),
            ("linux/arm64".to_string(), OCI_MANIFEST.to_string())
        ]
    );
    assert_eq!(attestation_entries(&raw), 2, "{raw}");
    for (arch, want_arch) in [("amd64", "amd64"), ("arm64", "arm64")] {
        let cfg = skopeo(&["--config", "--override-arch", arch], &tag);
        assert_eq!(cfg["architecture"], want_arch);
        assert_eq!(cfg["os"], "linux");
        assert!(cfg.get("variant").is_none(), "{cfg}");
        assert_eq!(env_of(&cfg, "ARCH").as_deref(), Some(want_arch));
        assert_eq!(env_of(&cfg, "PLAT").unwrap(), format!("linux/{want_arch}"));
        // BUILD* are the machine's own in every platform's build.
        assert_eq!(env_of(&cfg, "BUILT_ON").as_deref(), Some("amd64"));
        let summary = skopeo(&["--override-arch", arch], &tag);
        assert_eq!(summary["Architecture"], want_arch);
    }

    // The iidfile holds the index digest, the one pushed.
    let index_digest = fs::read_to_string(&iid).unwrap();
    let raw_bytes = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{tag}")),
    );
    assert_eq!(support::digest(raw_bytes.as_bytes()), index_digest);

    // type=oci: index.json names the image index, which lists both manifests.
    let top: Value = serde_json::from_slice(&tar_file(&oci, "index.json")).unwrap();
    assert_eq!(top["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(top["manifests"][0]["mediaType"], OCI_INDEX);
    let idx = blob(&oci, top["manifests"][0]["digest"].as_str().unwrap());
    assert_eq!(entries(&idx).len(), 2);
    for m in idx["manifests"].as_array().unwrap() {
        let man = blob(&oci, m["digest"].as_str().unwrap());
        let cfg = blob(&oci, man["config"]["digest"].as_str().unwrap());
        assert_eq!(cfg["architecture"], m["platform"]["architecture"]);
    }

    // type=docker,name=…: the index too, and manifest.json lists both
    // platforms' configs, the tags on the machine's own.
    let dock = w.path("docker.tar");
    w.build_ok(
        "store",
        &[
            "--platform",
            "linux/arm64,linux/amd64",
            "--source-date-epoch",
            "0",
            "--output",
            &format!("type=docker,name=mp/dock:1,dest={}", dock.display()),
        ],
        &ctx,
    );
    let top: Value = serde_json::from_slice(&tar_file(&dock, "index.json")).unwrap();
    assert_eq!(top["manifests"][0]["mediaType"], OCI_INDEX);
    let idx = blob(&dock, top["manifests"][0]["digest"].as_str().unwrap());
    let order: Vec<String> = entries(&idx).into_iter().map(|e| e.0).collect();
    assert_eq!(order, ["linux/arm64", "linux/amd64"]);
    let list: Value = serde_json::from_slice(&tar_file(&dock, "manifest.json")).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["RepoTags"][0], "mp/dock:1");
    assert_eq!(list[1]["RepoTags"].as_array().unwrap().len(), 0);
    let first = tar_file(&dock, list[0]["Config"].as_str().unwrap());
    let first: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(first["architecture"], "amd64");

    // type=local: one directory per platform, named as buildx names them.
    let mut dirs: Vec<String> = fs::read_dir(&local)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["linux_amd64", "linux_arm64"]);
    for d in &dirs {
        assert_eq!(
            fs::read_to_string(local.join(d).join("hello.txt")).unwrap(),
            "hello\n"
        );
    }

    // Reproducible: a fresh store pushes the same index digest, and a
    // cached rebuild in the first store stores the same index as the fresh
    // store's build.
    // (The same tag: attestation subjects name it.)
    let again = tag.clone();
    let (iid2, iid3) = (w.path("iid2"), w.path("iid3"));
    let common = [
        "--platform",
        "linux/amd64,linux/arm64",
        "--source-date-epoch",
        "0",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        common.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let a = with(&["-t", &again, "--push", "--iidfile", iid2.to_str().unwrap()]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    w.build_ok("store2", &a, &ctx);
    assert_eq!(fs::read_to_string(&iid2).unwrap(), index_digest);
    let b = with(&["--iidfile", iid2.to_str().unwrap()]);
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    w.build_ok("store2", &b, &ctx);
    let c = with(&["--iidfile", iid3.to_str().unwrap()]);
    let c: Vec<&str> = c.iter().map(String::as_str).collect();
    w.build_ok("store", &c, &ctx);
    let stored = fs::read_to_string(&iid2).unwrap();
    assert_eq!(fs::read_to_string(&iid3).unwrap(), stored);
    assert_ne!(stored, index_digest, "stored layers are uncompressed");

    // `builder images` lists the platforms of the tagged index.
    let images = run_ok(w.builder().arg("images"));
    assert!(
        images.contains("linux/amd64,linux/arm64"),
        "images: {images}"
    );

    // --format docker: a Docker manifest list over schema2 manifests.
    let dtag = format!("{}/mp/scratch:docker", reg.addr);
    w.build_ok(
        "store",
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--source-date-epoch",
            "0",
            "--format",
            "docker",
            // Attestations would turn OCI media types on, as in BuildKit.
            "--provenance=false",
            "-t",
            &dtag,
            "--push",
        ],
        &ctx,
    );
    let raw = skopeo(&["--raw"], &dtag);
    assert_eq!(raw["mediaType"], DOCKER_LIST);
    assert_eq!(
        entries(&raw),
        [
            ("linux/amd64".to_string(), DOCKER_MANIFEST.to_string()),
            ("linux/arm64".to_string(), DOCKER_MANIFEST.to_string())
        ]
    );
    let cfg = skopeo(&["--config", "--override-arch", "arm64"], &dtag);
    assert_eq!(env_of(&cfg, "ARCH").as_deref(), Some("arm64"));
}

/// A single foreign platform (`--platform linux/arm64`, no RUN) gives the
/// config and manifest shapes Docker 26.1 gives (recorded in
/// `tests/multiplatform/`): architecture, no variant, TARGET*/BUILD* values,
/// history; only the layer differs (see the README there).
#[test]
fn foreign_single_platform_matches_docker() {
    let w = World::new();
    let ctx = w.context("ctx", SCRATCH_DOCKERFILE, &[("hello.txt", "hello\n")]);
    let oci = w.path("out.tar");
    w.build_ok(
        "store",
        &[
            "--platform",
            "linux/arm64",
            "--source-date-epoch",
            "0",
            "--output",
            &format!("type=oci,dest={}", oci.display()),
        ],
        &ctx,
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/multiplatform");
    let read =
        |n: &str| -> Value { serde_json::from_slice(&fs::read(dir.join(n)).unwrap()).unwrap() };
    let top: Value = serde_json::from_slice(&tar_file(&oci, "index.json")).unwrap();
    let mut man = blob(&oci, top["manifests"][0]["digest"].as_str().unwrap());
    let mut cfg = blob(&oci, man["config"]["digest"].as_str().unwrap());
    let (mut want_cfg, mut want_man) = (
        read("docker26-scratch-arm64.config.json"),
        read("docker26-scratch-arm64.manifest.json"),
    );
    for c in [&mut cfg, &mut want_cfg] {
        c["rootfs"]["diff_ids"] = Value::Null;
    }
    assert_eq!(cfg, want_cfg);
    for m in [&mut man, &mut want_man] {
        m["config"]["digest"] = Value::Null;
        m["config"]["size"] = Value::Null;
        m["layers"][0]["digest"] = Value::Null;
        m["layers"][0]["size"] = Value::Null;
        m["layers"][0]["mediaType"] = Value::Null;
    }
    assert_eq!(man, want_man);
}

/// The cross-compilation pattern: a `FROM --platform=$BUILDPLATFORM` stage
/// with a RUN runs once, natively, and both platforms' images copy its
/// result. `--no-cache`, so only the build's own merging of equal steps
/// can make the two platforms see the same random token.
#[test]
fn buildplatform_stage_runs_once_for_every_platform() {
    let (_reg, _base, busybox) = registry_with_base();
    let w = World::new();
    // No `ARG TARGETARCH` in the build stage: a RUN that sees it runs per
    // platform (its environment differs), as in BuildKit.
    let df = format!(
        "FROM --platform=$BUILDPLATFORM {busybox} AS build\n\
         RUN head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /token\n\
         FROM scratch\n\
         ARG TARGETARCH\n\
         COPY --from=build /token /token\n\
         ENV ARCH=$TARGETARCH\n"
    );
    let ctx = w.context("ctx", &df, &[]);
    let local = w.path("local");
    let log = w.build_ok(
        "store",
        &[
            "--no-cache",
            "--platform",
            "linux/amd64,linux/arm64",
            "--output",
            &format!("type=local,dest={}", local.display()),
        ],
        &ctx,
    );
    let a = fs::read_to_string(local.join("linux_amd64/token")).unwrap();
    let b = fs::read_to_string(local.join("linux_arm64/token")).unwrap();
    assert_eq!(a.len(), 32, "token {a:?}");
    assert_eq!(a, b, "the $BUILDPLATFORM stage ran twice:\n{log}");
    // Progress names carry each stage's platform.
    assert!(log.contains("[linux/amd64 build 2/2] RUN"), "{log}");
}

/// FROM takes each platform's manifest from a base index; a platform the
/// base lacks is an error at the FROM line naming it and the image.
#[test]
fn from_picks_each_platform_of_a_base_index() {
    let (reg, base, busybox) = registry_with_base();
    let w = World::new();
    let ctx = w.context(
        "ctx",
        &format!("FROM {busybox}\nCOPY f /f\n"),
        &[("f", "x")],
    );
    let tag = format!("{}/mp/onbase:1", reg.addr);
    w.build_ok(
        "store",
        &[
            "--platform",
            "linux/arm64,linux/amd64",
            "-t",
            &tag,
            "--push",
        ],
        &ctx,
    );
    let raw = skopeo(&["--raw"], &tag);
    let plats: Vec<String> = entries(&raw).into_iter().map(|e| e.0).collect();
    assert_eq!(plats, ["linux/arm64", "linux/amd64"]);
    let arm = skopeo(&["--config", "--override-arch", "arm64"], &tag);
    let amd = skopeo(&["--config", "--override-arch", "amd64"], &tag);
    // Each was built on its own platform's base config; the platform fields are the
    // normalised target's, as BuildKit writes them (arm64 without the base's `v8`:
    // tests/parity/cases/140-emulated-run-arm64, recorded from Docker 26.1).
    assert_eq!(arm["architecture"], "arm64");
    assert_eq!(arm.get("variant"), None, "{arm}");
    assert_eq!(amd["architecture"], "amd64");
    assert_eq!(arm["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(arm["rootfs"]["diff_ids"][0], base.diff_id.as_str());

    // The store keeps the base's index; a single-platform arm64 build of
    // the same Dockerfile finds its base there without a registry.
    drop(reg);
    w.build_ok(
        "store",
        &["--platform", "linux/arm64", "--pull", "never"],
        &ctx,
    );

    let reg = Registry::start(Auth::Plain);
    let busybox = format!("{}/mp/busybox:1", reg.addr);
    base.push("index", &busybox, false, None);
    let ctx = w.context(
        "ctx2",
        &format!("FROM {busybox}\nCOPY f /f\n"),
        &[("f", "x")],
    );
    let o = w.build("store", &["--platform", "linux/amd64,linux/s390x"], &ctx);
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("linux/s390x"), "{err}");
    assert!(err.contains("mp/busybox:1"), "{err}");
    assert!(err.contains("Dockerfile:1"), "{err}");
    assert!(err.contains("FROM failed"), "{err}");
}

/// Both platforms' RUN steps execute, the foreign one through QEMU: each
/// image holds what its own platform's `uname -m` and TARGETARCH said.
#[test]
fn two_platforms_run_their_own_run_steps() {
    let reg = Registry::start(Auth::Plain);
    let base = support::multiarch::make_multiarch_busybox();
    let repo = format!("{}/mp/realbusybox", reg.addr);
    base.publish(&repo);
    let w = World::new();
    let ctx = w.context(
        "ctx",
        &format!("FROM {repo}:multi\nARG TARGETARCH\nRUN echo \"$(uname -m) $TARGETARCH\" > /m\n"),
        &[],
    );
    w.build_ok(
        "store",
        &["--platform", "linux/amd64,linux/arm64", "-t", "two"],
        &ctx,
    );
    for (p, want) in [
        ("linux/amd64", "x86_64 amd64"),
        ("linux/arm64", "aarch64 arm64"),
    ] {
        let out = run_ok(
            w.builder()
                .args(["run", "--rm", "--platform", p, "two", "cat", "/m"])
                .env_remove("BUILDER_ISOLATION"),
        );
        assert_eq!(out.trim(), want, "{p}");
    }
}

/// `builder pull --platform a,b` and `--all-platforms` keep the index with
/// both platforms; `builder run --platform` picks one (the native one runs).
#[test]
fn pull_platforms_and_run_one() {
    let (_reg, base, busybox) = registry_with_base();
    for how in [
        &["--platform", "linux/amd64,linux/arm64"][..],
        &["--all-platforms"][..],
    ] {
        let w = World::new();
        run_ok(w.builder().arg("pull").args(how).arg(&busybox));
        let idx: Value =
            serde_json::from_slice(&fs::read(w.path("store/index.json")).unwrap()).unwrap();
        let tagged = &idx["manifests"][0];
        assert_eq!(tagged["digest"], base.index.as_str(), "{how:?}");
        for d in [&base.amd64, &base.arm64] {
            assert!(w.path(&format!("store/blobs/sha256/{}", &d[7..])).is_file());
        }
        let images = run_ok(w.builder().arg("images"));
        assert!(images.contains("linux/amd64,linux/arm64/v8"), "{images}");
        let out = run_ok(
            w.builder()
                .args(["run", "--platform", "linux/amd64"])
                .arg(&busybox)
                .args(["echo", "native"]),
        );
        assert_eq!(out.trim(), "native");
        // A platform the index lacks is an error naming it.
        let o = run(w
            .builder()
            .args(["run", "--platform", "linux/s390x"])
            .arg(&busybox)
            .arg("true"));
        assert!(!o.status.success());
        assert!(
            text(&o.stderr).contains("no image for linux/s390x"),
            "{}",
            text(&o.stderr)
        );
        support::verify_store(&w.path("store"));
    }
    // A single-platform pull (the tag is the arm64 manifest) has no amd64 image.
    let w = World::new();
    run_ok(
        w.builder()
            .args(["pull", "--platform", "arm64"])
            .arg(&busybox),
    );
    let o = run(w
        .builder()
        .args(["run", "--platform", "linux/amd64"])
        .arg(&busybox)
        .arg("true"));
    assert!(
        text(&o.stderr).contains("is an image for linux/arm64, not linux/amd64"),
        "{}",
        text(&o.stderr)
    );
    {}
}

/// `--cache-to` of a multi-platform build holds every platform's step
/// records (keys include the platform); a fresh store importing it with
/// `--cache-from` runs nothing and pushes the same index (a re-run RUN
/// would write a new random token).
#[test]
fn shared_cache_serves_every_platform() {
    let (reg, _base, busybox) = registry_with_base();
    let w = World::new();
    let df = format!(
        "FROM --platform=$BUILDPLATFORM {busybox} AS build\n\
         RUN head -c 16 /dev/urandom | od -An -tx1 > /token\n\
         FROM {busybox}\n\
         ARG TARGETARCH\n\
         COPY --from=build /token /token\n\
         COPY f /f-$TARGETARCH\n"
    );
    let ctx = w.context("ctx", &df, &[("f", "x")]);
    let cache = format!("{}/mp/cache:1", reg.addr);
    let (iid1, iid2) = (w.path("iid1"), w.path("iid2"));
    let common = [
        "--platform",
        "linux/amd64,linux/arm64",
        "--source-date-epoch",
        "0",
    ];
    // Attestation subjects name the tags, which differ here.
    let common = [&common[..], &["--provenance=false"]].concat();
    let mut a: Vec<&str> = common.to_vec();
    let to = format!("type=registry,ref={cache},mode=max");
    // Pushed digests compare: the stores differ in layer compression (built
    // layers stay plain, imported ones arrive compressed).
    let (t1, t2) = (
        format!("{}/mp/c:1", reg.addr),
        format!("{}/mp/c:2", reg.addr),
    );
    a.extend(["--cache-to", &to, "--iidfile", iid1.to_str().unwrap()]);
    a.extend(["-t", &t1, "--push"]);
    w.build_ok("store", &a, &ctx);
    let mut b: Vec<&str> = common.to_vec();
    b.extend(["--cache-from", &cache, "--iidfile", iid2.to_str().unwrap()]);
    b.extend(["-t", &t2, "--push"]);
    let log = w.build_ok("store2", &b, &ctx);
    assert_eq!(
        fs::read_to_string(&iid1).unwrap(),
        fs::read_to_string(&iid2).unwrap(),
        "{log}"
    );
}
