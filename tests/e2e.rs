//! End-to-end tests of the `builder` binary: real builds (overlay mounts,
//! namespaces), a real registry (Debian's docker-registry via
//! `tests/support`), and outside tools that read what builder writes
//! (skopeo, umoci, runc, oci-image-tool).
//!
//! Needs root and the Debian packages docker-registry, busybox-static,
//! skopeo, umoci, runc and oci-image-tool (`scripts/install-deps.sh`).
//! The base image `ubuntu:16.04` is the busybox rootfs of
//! `scripts/mkrootfs-busybox.sh`, imported locally or served by a local
//! registry that mirrors docker.io, so nothing leaves the machine.

mod support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::world::{World, PATH_ENV};
use support::{run, run_ok, Auth, Registry};

/// The example of the README, `examples/hello`.
fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello")
}

/// The busybox rootfs (the demo uses the same script).
fn rootfs() -> PathBuf {
    support::busybox_rootfs("e2e-busybox-rootfs")
}

/// A fresh world whose store already holds `ubuntu:16.04` (the busybox
/// rootfs), imported locally.
fn with_base() -> World {
    let w = World::new("e2e-");
    w.import_busybox(PATH_ENV, "ubuntu:16.04", "e2e-busybox-rootfs");
    w
}

impl World {
    fn root(&self) -> PathBuf {
        self.path("store")
    }

    /// Like [`World::build`], asserting success.
    fn build_ok(&self, args: &[&str], ctx: &Path) -> Output {
        let o = self.build(args, ctx);
        assert!(
            o.status.success(),
            "build of {} failed ({:?}):\n{}",
            ctx.display(),
            o.status,
            text(&o.stderr)
        );
        o
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir` (recursively, symlinks not followed).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// The bytes of a blob, gunzipped when it is gzip.
fn blob_plain(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        bytes
    }
}

/// The paths in a (plain) tar.
fn tar_paths(bytes: &[u8]) -> Vec<String> {
    try_tar_paths(bytes).expect("not a tar")
}

/// The paths in `bytes` if they are a tar.
fn try_tar_paths(bytes: &[u8]) -> Option<Vec<String>> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .ok()?
        .map(|e| Some(e.ok()?.path().ok()?.to_string_lossy().into_owned()))
        .collect()
}

/// Unpacks an archive into `dest` with the system tar.
fn untar(archive: &Path, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(dest),
    );
}

/// `umoci unpack` of `layout:tag`, then `runc run` of the bundle; returns
/// the container's stdout.
fn runc_run(layout: &Path, tag: &str, scratch: &Path) -> String {
    let bundle = scratch.join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:{tag}", layout.display()))
            .arg(&bundle),
    );
    // umoci asks for a terminal; the test has none.
    let cfg_path = bundle.join("config.json");
    let mut cfg = read_json(&cfg_path);
    cfg["process"]["terminal"] = Value::Bool(false);
    fs::write(&cfg_path, cfg.to_string()).unwrap();
    // Unique per test: the world's temp dir name (runc ids are global).
    let world = scratch.parent().unwrap().file_name().unwrap();
    let id = format!("{}-{}", world.to_string_lossy(), std::process::id());
    let o = run(Command::new("runc")
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null()));
    let _ = Command::new("runc").args(["delete", "-f", &id]).output();
    assert!(
        o.status.success(),
        "runc run failed: {}\n{}",
        text(&o.stderr),
        text(&o.stdout)
    );
    text(&o.stdout)
}

/// (a) The README example end to end: the base comes from a local registry
/// acting as the docker.io mirror, `--push` sends the result to it,
/// `builder run` prints the greeting, and so does runc on what skopeo and
/// umoci make of the pushed image.
#[test]
fn example_builds_pushes_and_runs_everywhere() {
    let reg = Registry::start(Auth::Plain);
    let w = World::new("e2e-");
    let regcfg = w.path("registries.toml");
    fs::write(
        &regcfg,
        format!(
            "[registry.\"docker.io\"]\nmirrors = [\"http://{a}\"]\n[registry.\"{a}\"]\ninsecure = true\n",
            a = reg.addr
        ),
    )
    .unwrap();
    let regcfg_s = regcfg.to_str().unwrap();

    // The base image, pushed with builder from another store.
    let base = World::new("e2e-");
    let base_ref = format!("{}/library/ubuntu:16.04", reg.addr);
    run_ok(
        base.builder()
            .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
            .args(["--cmd", "sh", "-t", &base_ref])
            .arg(rootfs()),
    );
    run_ok(
        base.builder()
            .args(["push", "--registry-config", regcfg_s, &base_ref]),
    );

    let dest = format!("{}/e2e/hello:latest", reg.addr);
    let o = w.build_ok(
        &["--registry-config", regcfg_s, "-t", &dest, "--push"],
        &example_dir(),
    );
    let log = text(&o.stderr);
    assert!(log.contains("COPY helloworld"), "build log:\n{log}");

    // (`--push` pushes every -t name, as docker does, so only the registry name is given.)
    let out = run_ok(w.builder().args(["run", &dest]));
    assert_eq!(out, "Hello, World!\n");

    // Outside check: the registry's copy, read by other tools.
    let layout = w.path("layout");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false"])
            .arg(format!("docker://{dest}"))
            .arg(format!("oci:{}:latest", layout.display())),
    );
    let out = runc_run(&layout, "latest", &w.path("runc"));
    assert_eq!(out.trim_end(), "Hello, World!");
    drop(reg);
}

/// (b) A failing RUN: non-zero exit, the Dockerfile line, the exit code
/// and the command's last output lines.
#[test]
fn run_failure_names_line_code_and_output() {
    let w = with_base();
    let ctx = w.context(
        "ctx",
        "FROM ubuntu:16.04\nRUN echo fine\nRUN echo out-line-1; echo err-line-2 >&2; exit 3\nRUN echo never\n",
        &[],
    );
    let o = w.build(&["-t", "fail"], &ctx);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "build succeeded:\n{err}");
    assert!(err.contains("Dockerfile:3"), "no Dockerfile:3 in:\n{err}");
    assert!(
        err.contains("exit code 3") || err.contains("code: 3"),
        "no exit code in:\n{err}"
    );
    assert!(err.contains("out-line-1"), "no stdout tail in:\n{err}");
    assert!(err.contains("err-line-2"), "no stderr tail in:\n{err}");
    assert!(!err.contains("\nnever"), "a later step ran:\n{err}");
}

/// (c) A RUN step sees neither the host's files nor its processes and
/// cannot mount.
#[test]
fn run_is_isolated() {
    let w = with_base();
    let secret = format!("host-only-{}", std::process::id());
    let sentinel = w.path("sentinel");
    fs::write(&sentinel, &secret).unwrap();
    let df = format!(
        "FROM ubuntu:16.04\n\
         RUN (cat {s} 2>/dev/null || echo absent) > /r-sentinel; \
         (cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' ') > /r-cmdlines; \
         ls /proc | grep -E '^[0-9]+$' > /r-pids; \
         (mount -t tmpfs none /mnt 2>/dev/null && echo mounted || echo denied) > /r-mount\n",
        s = sentinel.display()
    );
    let ctx = w.context("ctx", &df, &[]);
    let out = w.path("out");
    w.build_ok(
        &["--output", &format!("type=local,dest={}", out.display())],
        &ctx,
    );
    let r = |f: &str| fs::read_to_string(out.join(f)).unwrap();
    assert_eq!(r("r-sentinel"), "absent\n");
    // Only the step's own shell and its children: a handful of small PIDs.
    let pids: Vec<u32> = r("r-pids").lines().map(|l| l.parse().unwrap()).collect();
    assert!(pids.contains(&1), "no PID 1 in {pids:?}");
    assert!(pids.len() <= 6, "RUN sees other processes: {pids:?}");
    let cmdlines = r("r-cmdlines");
    assert!(
        !cmdlines.contains("cargo") && !cmdlines.contains("builder build"),
        "host processes visible: {cmdlines}"
    );
    assert_eq!(r("r-mount"), "denied\n");
}

/// (d) A cache mount keeps its content from one build to the next and
/// never reaches the image.
#[test]
fn cache_mounts_persist_and_stay_out_of_the_image() {
    let w = with_base();
    let ctx = w.context(
        "ctx",
        "FROM ubuntu:16.04\nARG N\n\
         RUN --mount=type=cache,target=/var/cache/e2e echo \"run $N\" >> /var/cache/e2e/runs && \
         wc -l < /var/cache/e2e/runs > /seen\n",
        &[],
    );
    for n in 1..=2 {
        let out = w.path(&format!("out{n}"));
        w.build_ok(
            &[
                "--build-arg",
                &format!("N={n}"),
                "-t",
                "cached",
                "--output",
                &format!("type=local,dest={}", out.display()),
            ],
            &ctx,
        );
        let seen = fs::read_to_string(out.join("seen")).unwrap();
        assert_eq!(seen.trim(), n.to_string(), "build {n} saw {seen:?} runs");
        assert!(
            !out.join("var/cache/e2e/runs").exists(),
            "the cache mount's content is in the image"
        );
        let cache_dir = out.join("var/cache/e2e");
        if cache_dir.exists() {
            assert_eq!(fs::read_dir(&cache_dir).unwrap().count(), 0);
        }
    }
    // And no stored blob carries the cache's file.
    for f in files_under(&w.root().join("blobs")) {
        let b = blob_plain(fs::read(&f).unwrap());
        assert!(
            !contains(&b, b"run 1\n"),
            "{} has the cache content",
            f.display()
        );
    }
}

/// (e) A build secret is readable by its RUN and appears nowhere after:
/// not in any store file (layers, configs, history, cache), not in the log.
#[test]
fn secrets_leave_no_trace() {
    let w = with_base();
    let value = format!("s3cret-e2e-{}-{:?}", std::process::id(), Instant::now());
    let src = w.path("tok");
    fs::write(&src, &value).unwrap();
    let ctx = w.context(
        "ctx",
        "FROM ubuntu:16.04\n\
         RUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null\n\
         RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo read-ok > /proof\n",
        &[],
    );
    let o = w.build_ok(
        &[
            "--secret",
            &format!("id=tok,src={}", src.display()),
            "-t",
            "sec",
        ],
        &ctx,
    );
    let log = [o.stdout, o.stderr].concat();
    assert!(!contains(&log, value.as_bytes()), "secret in the build log");

    let mut layers_seen = 0;
    for f in files_under(&w.root()) {
        let bytes = fs::read(&f).unwrap();
        let plain = blob_plain(bytes);
        assert!(
            !contains(&plain, value.as_bytes()),
            "secret in {}",
            f.display()
        );
        if f.starts_with(w.root().join("blobs")) && plain.len() > 512 {
            if let Some(paths) = try_tar_paths(&plain) {
                layers_seen += 1;
                assert!(
                    !paths.iter().any(|p| p.contains("run/secrets")),
                    "a layer has the secret mount point: {paths:?}"
                );
            }
        }
    }
    assert!(layers_seen >= 2, "found only {layers_seen} layer tars");
    // The secret really was there for the step.
    let proof = run_ok(w.builder().args(["run", "sec", "cat", "/proof"]));
    assert_eq!(proof, "read-ok\n", "the RUN could not read its secret");
    // Config and history (inspect) do not name the value either.
    let inspect = run_ok(w.builder().args(["inspect", "sec"]));
    assert!(!inspect.contains(&value));
}

/// PIDs of processes whose environment contains `marker`.
fn processes_with_env(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(env) = fs::read(format!("/proc/{pid}/environ")) {
            if contains(&env, marker.as_bytes()) {
                out.push(pid);
            }
        }
    }
    out
}

/// (f) SIGINT stops a build promptly, with no process and no mount left.
#[test]
fn ctrl_c_stops_everything() {
    let w = with_base();
    let marker = format!("E2E_SIGINT_MARK=m{}", std::process::id());
    let ctx = w.context(
        "ctx",
        format!("FROM ubuntu:16.04\nRUN {marker} sleep 100\n"),
        &[],
    );
    let mut child = support::default_sigint(&mut w.builder())
        .args(["build", "--progress", "plain", "-t", "slow"])
        .arg(&ctx)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_with_env(&marker).is_empty() {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("build ended before its RUN started ({st:?}):\n{err}");
        }
        assert!(Instant::now() < deadline, "the RUN never started");
        thread::sleep(Duration::from_millis(100));
    }
    let sent = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("builder still running 10 s after SIGINT");
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "builder exited 0 after SIGINT");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "builder took {:?} to stop",
        sent.elapsed()
    );
    // The sandbox may need a moment to reap after its parent is gone.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = processes_with_env(&marker);
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            for p in &left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*p as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("processes left after SIGINT: {left:?}");
        }
        thread::sleep(Duration::from_millis(100));
    }
    let root = w.root().canonicalize().unwrap();
    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    let left: Vec<&str> = mounts
        .lines()
        .filter(|l| l.contains(root.to_str().unwrap()))
        .collect();
    assert!(left.is_empty(), "mounts left after SIGINT: {left:#?}");
}

/// The manifest digest a build reports in `--metadata-file`.
fn manifest_digest(meta: &Path) -> String {
    read_json(meta)["containerimage.digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// (g) The same context built in two places (copies, different stores)
/// gives the same manifest digest.
#[test]
fn builds_are_reproducible() {
    let w = with_base();
    let ctx = w.context(
        "ctx-a",
        "FROM ubuntu:16.04\nCOPY . /app\nRUN echo built > /app/stamp && mkdir -p /var/e2e\n\
         ENV GREETING=hi\nCMD [\"cat\", \"/app/stamp\"]\n",
        &[("data/one.txt", "one\n"), ("two.txt", "two\n")],
    );
    let copy = w.path("elsewhere/ctx-b");
    fs::create_dir_all(copy.parent().unwrap()).unwrap();
    run_ok(Command::new("cp").arg("-a").arg(&ctx).arg(&copy));
    let other = with_base();
    let meta_a = w.path("meta-a.json");
    let meta_b = w.path("meta-b.json");
    let epoch = ["--source-date-epoch", "1700000000"];
    w.build_ok(
        &[&epoch[..], &["--metadata-file", meta_a.to_str().unwrap()]].concat(),
        &ctx,
    );
    other.build_ok(
        &[&epoch[..], &["--metadata-file", meta_b.to_str().unwrap()]].concat(),
        &copy,
    );
    let (a, b) = (manifest_digest(&meta_a), manifest_digest(&meta_b));
    assert!(a.starts_with("sha256:"), "{a}");
    assert_eq!(a, b, "two builds of one context differ");
}

/// (h) What builder writes validates with outside tools: `save --format
/// oci` read by skopeo, `--output type=oci` unpacked by umoci and checked by
/// oci-image-tool, `--output type=docker` read by skopeo.
#[test]
fn images_validate_with_outside_tools() {
    let w = with_base();
    let oci_tar = w.path("out-oci.tar");
    let docker_tar = w.path("out-docker.tar");
    w.build_ok(
        &[
            "-t",
            "hello:v1",
            "--output",
            &format!("type=oci,dest={},name=hello:v1", oci_tar.display()),
            "--output",
            &format!("type=docker,dest={},name=hello:v1", docker_tar.display()),
        ],
        &example_dir(),
    );

    let saved = w.path("saved-oci.tar");
    run_ok(
        w.builder()
            .args(["save", "--format", "oci", "-o"])
            .arg(&saved)
            .arg("hello:v1"),
    );
    for archive in [&saved, &oci_tar] {
        let info: Value = serde_json::from_str(&run_ok(
            Command::new("skopeo")
                .arg("inspect")
                .arg("--config")
                .arg(format!("oci-archive:{}", archive.display())),
        ))
        .unwrap();
        assert_eq!(info["config"]["Cmd"][0], "helloworld", "{info}");
        assert_eq!(
            info["rootfs"]["diff_ids"].as_array().unwrap().len(),
            3,
            "{info}"
        );
    }
    let info: Value = serde_json::from_str(&run_ok(
        Command::new("skopeo")
            .arg("inspect")
            .arg("--config")
            .arg(format!("docker-archive:{}", docker_tar.display())),
    ))
    .unwrap();
    assert_eq!(info["config"]["Cmd"][0], "helloworld", "{info}");

    // The OCI layout inside the archive: its ref names, umoci, oci-image-tool.
    let layout = w.path("layout");
    untar(&oci_tar, &layout);
    let index = read_json(&layout.join("index.json"));
    let refs: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(str::to_string)
        .collect();
    assert!(!refs.is_empty(), "no ref name in {index}");
    let tag = &refs[0];
    let out = runc_run(&layout, tag, &w.path("runc"));
    assert_eq!(out.trim_end(), "Hello, World!");

    if Command::new("oci-image-tool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        // Debian's oci-image-tool validates an image (layout + ref), not a bare layout.
        let o = run(Command::new("oci-image-tool")
            .args(["validate", "--type", "image", "--ref"])
            .arg(format!("name={tag}"))
            .arg(&layout));
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert!(o.status.success(), "oci-image-tool validate: {all}");
    }
}

/// (i) `--output type=local` and `type=tar` hold the image's files.
#[test]
fn local_and_tar_outputs_hold_the_files() {
    let w = with_base();
    let dir = w.path("local");
    let tarf = w.path("rootfs.tar");
    w.build_ok(
        &[
            "--output",
            &format!("type=local,dest={}", dir.display()),
            "--output",
            &format!("type=tar,dest={}", tarf.display()),
        ],
        &example_dir(),
    );
    let hello = dir.join("usr/local/bin/helloworld");
    assert_eq!(
        fs::read(&hello).unwrap(),
        fs::read(example_dir().join("helloworld")).unwrap()
    );
    assert_eq!(
        fs::metadata(&hello).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(dir.join("bin/busybox").is_file());
    assert!(fs::symlink_metadata(dir.join("bin/sh"))
        .unwrap()
        .file_type()
        .is_symlink());

    let paths = tar_paths(&fs::read(&tarf).unwrap());
    let norm: Vec<&str> = paths
        .iter()
        .map(|p| p.trim_start_matches("./").trim_end_matches('/'))
        .collect();
    for want in [
        "usr/local/bin/helloworld",
        "bin/busybox",
        "bin/sh",
        "etc/passwd",
    ] {
        assert!(
            norm.contains(&want),
            "{want} missing from the tar: {norm:?}"
        );
    }
    let unpacked = w.path("untarred");
    untar(&tarf, &unpacked);
    assert_eq!(
        fs::read(unpacked.join("usr/local/bin/helloworld")).unwrap(),
        fs::read(&hello).unwrap()
    );
}

/// (j) `--iidfile` and `-q` give the same image ID, the one the store has.
#[test]
fn iidfile_and_quiet_agree() {
    let w = with_base();
    let iid = w.path("iid");
    let o = run(w
        .builder()
        .args(["build", "-q", "-t", "hello", "--iidfile"])
        .arg(&iid)
        .arg(example_dir()));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let id = fs::read_to_string(&iid).unwrap();
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "iidfile: {id:?}"
    );
    assert_eq!(stdout, format!("{id}\n"), "-q printed more than the ID");
    assert!(
        !text(&o.stderr).contains("COPY"),
        "-q still shows progress: {}",
        text(&o.stderr)
    );
    let inspect: Value =
        serde_json::from_str(&run_ok(w.builder().args(["inspect", "hello"]))).unwrap();
    assert_eq!(
        inspect["Manifest"]["config"]["digest"].as_str(),
        Some(id.as_str()),
        "the ID is not the stored image's config digest"
    );
}

/// `--compression` decides how built (stored plain) layers leave: zstd and
/// uncompressed variants reach the registry with matching media types.
#[test]
fn push_compression_variants() {
    let reg = Registry::start(Auth::Plain);
    let w = with_base();
    let regcfg = w.path("registries.toml");
    fs::write(
        &regcfg,
        format!("[registry.\"{a}\"]\ninsecure = true\n", a = reg.addr),
    )
    .unwrap();
    let ctx = w.context("ctx", "FROM ubuntu:16.04\nRUN echo data > /data\n", &[]);
    for (algo, media) in [
        ("zstd", "application/vnd.oci.image.layer.v1.tar+zstd"),
        ("uncompressed", "application/vnd.oci.image.layer.v1.tar"),
        ("gzip", "application/vnd.oci.image.layer.v1.tar+gzip"),
    ] {
        let dest = format!("{}/e2e/comp:{algo}", reg.addr);
        w.build_ok(
            &[
                "--registry-config",
                regcfg.to_str().unwrap(),
                "-t",
                &dest,
                "--push",
                "--compression",
                algo,
            ],
            &ctx,
        );
        let raw = run_ok(
            Command::new("skopeo")
                .args(["inspect", "--raw", "--tls-verify=false"])
                .arg(format!("docker://{dest}")),
        );
        // A push carries provenance by default (as buildx): an index whose
        // first entry is the image.
        let index: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            index["manifests"][1]["annotations"]["vnd.docker.reference.type"],
            "attestation-manifest",
            "{index}"
        );
        let image = index["manifests"][0]["digest"].as_str().unwrap();
        let raw = run_ok(
            Command::new("skopeo")
                .args(["inspect", "--raw", "--tls-verify=false"])
                .arg(format!("docker://{}/e2e/comp@{image}", reg.addr)),
        );
        let manifest: Value = serde_json::from_str(&raw).unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        let last = layers.last().unwrap();
        assert_eq!(last["mediaType"], media, "{algo}: {manifest}");
    }
}
