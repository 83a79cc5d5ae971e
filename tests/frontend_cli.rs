//! The Dockerfile front end and `--platform` through the real `builder build`: Dockerfiles
//! that are not UTF-8, the 64 KiB line limit, stage names in the engine, and target platforms.
//! Expected values were recorded from Docker 26.1.5 (BuildKit 0.13; docker CLI 26.1.5 + buildx
//! 0.13.1) building the same Dockerfiles. Needs root (builds mount overlays) and busybox-static.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use builder::plan::Platform;
use serde_json::Value;
use support::world::World;
use support::{run, run_ok};

impl World {
    fn build_ok(&self, args: &[&str], ctx: &Path) {
        let o = self.build(args, ctx);
        assert!(
            o.status.success(),
            "build failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// The image config of a tag.
    fn config(&self, tag: &str) -> Value {
        let out = run_ok(self.builder().args(["inspect", tag]));
        let v: Value = serde_json::from_str(&out).unwrap();
        v["Config"].clone()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn latin1_dockerfile_builds_like_docker() {
    let w = World::with_busybox("frontend-");
    let df = b"# caf\xe9 comment\nFROM busybox\nLABEL l=caf\xe9 \"k\xe9y\"=\"v\xe2\x82\"\nENV e=caf\xe9\n\
RUN printf \"%s\" \"$e\" > /env.txt && echo caf\xe9 > /run.txt\nWORKDIR /w\xe9\n\
COPY <<EOF /h1.txt\ncaf\xe9\nEOF\nCOPY <<\"EOF\" /h2.txt\ncaf\xe9\nEOF\n\
RUN cat <<'EOF' > /h5.txt\ncaf\xe9\nEOF\nCMD echo caf\xe9\n";
    let ctx = w.context("latin1", df, &[]);
    w.build_ok(
        &[
            "-t",
            "latin1",
            "-o",
            &format!("type=local,dest={}", w.path("out").display()),
        ],
        &ctx,
    );
    let out = |f: &str| fs::read(w.path("out").join(f)).unwrap();
    // Docker 26.1: U+FFFD (ef bf bd) for each invalid byte, except in the file of a quoted
    // COPY heredoc, which keeps the byte.
    assert_eq!(out("env.txt"), b"caf\xef\xbf\xbd");
    assert_eq!(out("run.txt"), b"caf\xef\xbf\xbd\n");
    assert_eq!(out("h1.txt"), b"caf\xef\xbf\xbd\n");
    assert_eq!(out("h2.txt"), b"caf\xe9\n");
    assert_eq!(out("h5.txt"), b"caf\xef\xbf\xbd\n");
    assert!(w.path("out/w\u{fffd}").is_dir());
    let c = w.config("latin1");
    assert_eq!(c["config"]["Labels"]["l"], "caf\u{fffd}");
    assert_eq!(c["config"]["Labels"]["k\u{fffd}y"], "v\u{fffd}\u{fffd}");
    assert_eq!(c["config"]["WorkingDir"], "/w\u{fffd}");
    assert_eq!(
        c["config"]["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "echo caf\u{fffd}"])
    );
    let env: Vec<&str> = c["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"e=caf\u{fffd}"), "{env:?}");
}

#[test]
fn invalid_bytes_in_errors_are_located() {
    let w = World::new("frontend-");
    // Docker 26.1 fails here with an INTERNAL gRPC error (its message holds the raw byte).
    let ctx = w.context("badkw", b"FROM scratch\nRU\xe9N echo\n", &[]);
    let o = w.build(&["--dry-run"], &ctx);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("Dockerfile:2:1:"), "{e}");
    assert!(e.contains("RU\u{fffd}N"), "{e}");
}

#[test]
fn physical_lines_over_64k_fail_continuations_do_not() {
    let w = World::new("frontend-");
    let long = |n: usize| format!("LABEL a={}", "x".repeat(n - 8));
    // Docker 26.1: 65535 bytes build; 65536 fail with this message.
    let ctx = w.context(
        "ok",
        format!("FROM scratch\n{}\n", long(65535)).as_bytes(),
        &[],
    );
    w.build_ok(&["-t", "ok"], &ctx);
    let ctx = w.context(
        "long",
        format!("FROM scratch\n{}\n", long(65536)).as_bytes(),
        &[],
    );
    let o = w.build(&["-t", "long"], &ctx);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("Dockerfile:2:1: dockerfile line greater than max allowed size of 65535"),
        "{e}"
    );
    assert!(e.contains("line 2 is 65536 bytes long"), "{e}");
    // Lines under the limit joined by continuations into a 100,000-byte instruction.
    let half = "y".repeat(50_000);
    let ctx = w.context(
        "joined",
        format!("FROM scratch\nLABEL a={half}\\\n{half}\n").as_bytes(),
        &[],
    );
    w.build_ok(&["-t", "joined"], &ctx);
    let c = w.config("joined");
    assert_eq!(c["config"]["Labels"]["a"].as_str().unwrap().len(), 100_000);
}

#[test]
fn repeated_stage_names_use_the_last_stage() {
    let w = World::new("frontend-");
    // Docker 26.1 copied "2" (the later of the stages named a / A).
    let df = b"FROM scratch AS a\nCOPY one /x\nFROM scratch AS A\nCOPY two /x\nFROM scratch\nCOPY --from=a /x /x\n";
    let ctx = w.context("dup", df, &[("one", "1"), ("two", "2")]);
    let dest = w.path("dup-out");
    w.build_ok(
        &["-o", &format!("type=local,dest={}", dest.display())],
        &ctx,
    );
    assert_eq!(fs::read_to_string(dest.join("x")).unwrap(), "2");
    // --target finds the last one too.
    let dest = w.path("dup-target");
    w.build_ok(
        &[
            "--target",
            "A",
            "-o",
            &format!("type=local,dest={}", dest.display()),
        ],
        &ctx,
    );
    assert_eq!(fs::read_to_string(dest.join("x")).unwrap(), "2");
}

#[test]
fn from_an_upper_case_stage_name_fails_like_docker() {
    let w = World::new("frontend-");
    let ctx = w.context("upper", b"FROM scratch AS Builder\nFROM Builder\n", &[]);
    let o = w.build(&[], &ctx);
    assert!(!o.status.success());
    assert!(stderr(&o).contains(
        "Dockerfile:2:6: failed to parse stage name \"Builder\": invalid reference format: \
         repository name (library/Builder) must be lowercase"
    ));
}

#[test]
fn foreign_platform_builds_without_run_and_bad_lists_are_refused_before_any_work() {
    let w = World::new("frontend-");
    let ctx = w.context("pf", b"FROM scratch\nCOPY x /x\n", &[("x", "x")]);
    // A copy-only build for another platform needs no emulation (RUN steps do:
    // tests/emulation.rs).
    for (p, arch, variant) in [("linux/arm64/v8", "arm64", ""), ("linux/arm", "arm", "v7")] {
        w.build_ok(&["--platform", p, "-t", "pf"], &ctx);
        let c = w.config("pf");
        assert_eq!(c["architecture"], arch, "{p}: {c}");
        assert_eq!(
            c.get("variant").and_then(|v| v.as_str()).unwrap_or(""),
            variant,
            "{p}: {c}"
        );
    }
    let _ = fs::remove_dir_all(w.path("store"));
    let mut cases = vec![(
        "linux/amd64,windows/amd64",
        "--platform linux/amd64,windows/amd64: windows/amd64 is not a Linux platform",
    )];
    for p in ["linux/z80", "linux/amd64,", "linux/amd64,linux/arm64/v8/x"] {
        cases.push((p, "--platform failed to parse platform"));
    }
    for (p, want) in cases {
        let o = w.build(&["--platform", p, "-t", "pf"], &ctx);
        assert!(!o.status.success(), "{p}");
        let e = stderr(&o);
        assert!(e.contains(want), "{p}: {e}");
        // Nothing was done: not even the store was created.
        assert!(!w.path("store").exists(), "{p}");
    }
}

/// A foreign platform builds when no RUN must execute for it (issue 12):
/// the refusal is at the RUN line (`tests/multiplatform.rs`).
#[test]
fn foreign_platform_without_run_builds() {
    let w = World::new("frontend-");
    let ctx = w.context("pf", b"FROM scratch\nCOPY x /x\n", &[("x", "x")]);
    let foreign = if Platform::host().architecture == "arm64" {
        ("linux/amd64", "amd64")
    } else {
        ("linux/arm64", "arm64")
    };
    w.build_ok(&["--platform", foreign.0, "-t", "pf"], &ctx);
    assert_eq!(w.config("pf")["architecture"], foreign.1);
}

#[test]
fn host_platform_in_any_spelling_builds() {
    let w = World::new("frontend-");
    let df = b"FROM --platform=$BUILDPLATFORM scratch AS b\nCOPY x /x\n\
FROM --platform=$TARGETPLATFORM scratch\nCOPY --from=b /x /y\n";
    let ctx = w.context("host", df, &[("x", "x")]);
    let host = Platform::host();
    let spellings: Vec<String> = if host.to_string() == "linux/amd64" {
        ["linux/amd64", "amd64", "linux/x86_64", "Linux/AMD64"]
            .map(String::from)
            .to_vec()
    } else {
        vec![host.to_string()]
    };
    for (i, p) in spellings.iter().enumerate() {
        let tag = format!("host{i}");
        w.build_ok(&["--platform", p, "-t", &tag], &ctx);
        let c = w.config(&tag);
        assert_eq!(
            (c["os"].as_str(), c["architecture"].as_str()),
            (Some("linux"), Some(host.architecture.as_str())),
            "{p}"
        );
    }
    w.build_ok(&["-t", "noflag"], &ctx);
    assert_eq!(
        w.config("noflag")["architecture"],
        host.architecture.as_str()
    );
}

/// `--iidfile iid` (a bare file name, parent "") writes the ID and the build succeeds, as with
/// `docker build --iidfile iid`; `builder images | head -1` ends quietly when the pipe closes
/// (SIGPIPE, as docker), never with a panic.
#[test]
fn iidfile_in_the_current_dir_and_a_closed_stdout_pipe() {
    let w = World::with_busybox("frontend-");
    let ctx = w.context("ctx-iid", b"FROM busybox\nLABEL a=b\n", &[]);
    let o = run(w
        .builder()
        .current_dir(w.path(""))
        .args([
            "build",
            "-q",
            "--iidfile",
            "iid",
            "--metadata-file",
            "meta.json",
        ])
        .arg(&ctx));
    assert!(o.status.success(), "{}", stderr(&o));
    let iid = fs::read_to_string(w.path("iid")).unwrap();
    assert!(iid.starts_with("sha256:"), "{iid}");
    assert!(fs::read_to_string(w.path("meta.json"))
        .unwrap()
        .contains(&iid));

    let o = run(std::process::Command::new("sh").arg("-c").arg(format!(
        "BUILDER_ROOT={} {} images | head -c 1 >/dev/null; echo \"rc=${{PIPESTATUS:-x}}\"",
        w.path("store").display(),
        env!("CARGO_BIN_EXE_builder")
    )));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
}

/// Docker 26.1 keeps the image ID of a rebuild with no layer step: `FROM base` alone is the
/// base's own ID, and `FROM base` + LABEL gets the same ID each time (its time is the base's).
#[test]
fn rebuilds_without_layer_steps_keep_their_image_id() {
    let w = World::with_busybox("frontend-");
    let base = run_ok(w.builder().args(["inspect", "busybox"]));
    let base: Value = serde_json::from_str(&base).unwrap();
    let id = |df: &[u8], name: &str| {
        let ctx = w.context(name, df, &[]);
        let o = run(w.builder().args(["build", "-q"]).arg(&ctx));
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let only_from = id(b"FROM busybox\n", "only-from");
    let base_id = base["Manifest"]["config"]["digest"].as_str().unwrap();
    assert_eq!(only_from, base_id, "{base}");
    let first = id(b"FROM busybox\nLABEL a=b\nENV x=1\n", "label-1");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = id(b"FROM busybox\nLABEL a=b\nENV x=1\n", "label-2");
    assert_eq!(first, second);
}
