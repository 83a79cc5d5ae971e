//! `builder build`'s flags are checked before any work, as `docker buildx build` checks
//! them before its solve: through the real binary, each bad flag or spec fails at once with
//! the flag and the accepted values named, without opening the store or pulling the base
//! image (the Dockerfile's `FROM` names an unreachable registry, so an error that came
//! later would be about it). Also buildx's bare `--pull` and `docker build - < Dockerfile`.
//! Needs root for the builds that run (overlay mounts) and busybox-static.

mod support;

use std::fs;
use std::io::Write as _;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::world::World;
use support::{run, run_ok};

impl World {
    fn build_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .builder()
            .args(["build", "--progress", "plain"])
            .args(args)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn file_in(&self, tag: &str, file: &str) -> String {
        run_ok(self.builder().args(["run", "--rm", tag, "cat", file]))
            .trim_end()
            .to_string()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_flags_fail_before_any_work_naming_the_flag_and_the_choices() {
    let w = World::new("cli-validate-");
    // Were any of these checked late, the build would first fail reaching this registry.
    let ctx = w.context("ctx", "FROM 127.0.0.1:9/base\nRUN true\n", &[("a", "a")]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["-t", "My/App:Latest"],
            "-t/--tag \"My/App:Latest\": invalid reference format: repository name (My/App) must be lowercase",
        ),
        (&["-t", "app:bad:tag"], "-t/--tag \"app:bad:tag\": invalid reference format"),
        (&["--push"], "--push needs the image's name: give -t REGISTRY/NAME:TAG"),
        (
            &["--label", "=v"],
            "--label \"=v\": invalid key-value pair \"=v\": empty key",
        ),
        (
            &["-o", "type=foo"],
            "--output type=foo: type=foo is not supported: use oci, docker, tar, local, registry, image",
        ),
        (&["-o", "type=oci"], "--output type=oci: type=oci needs dest=PATH"),
        (
            &["-o", "type=registry"],
            "--output type=registry: type=registry needs name=REGISTRY/NAME:TAG",
        ),
        (
            &["-o", "type=oci,dest=x.tar,compression=lz4"],
            "compression=lz4: unknown compression \"lz4\" (expected gzip, zstd or uncompressed)",
        ),
        (
            &["-o", "type=docker,dest=x.tar,oci-mediatypes=yes"],
            "oci-mediatypes=yes: expected true or false",
        ),
        (
            &["--compression", "lz4"],
            "--compression lz4: unknown compression \"lz4\" (expected gzip, zstd or uncompressed)",
        ),
        (
            &["--compression", "gzip", "--compression-level", "12"],
            "--compression-level 12: compression level 12 is out of range for gzip",
        ),
        (&["--format", "docker2"], "--format \"docker2\": use oci or docker"),
        (&["--network", "bridge2"], "--network \"bridge2\": use default, host or none"),
        (
            &["--progress", "fancy"],
            "unknown progress mode \"fancy\": use auto, tty, plain, json or quiet",
        ),
        (
            &["--pull=sometimes"],
            "--pull=sometimes: unknown pull policy \"sometimes\": use missing, always or never",
        ),
        (
            &["--cache-to", "type=s3"],
            "--cache-to type=s3: cache type \"s3\" is not supported: use type=registry or type=local",
        ),
        (
            &["--cache-from", "type=registry"],
            "--cache-from type=registry: type=registry needs ref=REGISTRY/REPO:TAG",
        ),
        (
            &["--cache-to", "type=local"],
            "--cache-to type=local: type=local needs dest=DIR",
        ),
        (
            &["--secret", "id=x,src=/nonexistent/secret"],
            "--secret id=x,src=/nonexistent/secret: stat /nonexistent/secret: no such file or directory",
        ),
        (
            &["--secret", "id=x,type=vault"],
            "id=x,type=vault: unsupported secret type \"vault\"",
        ),
        (
            &["--secret", "id=x,env=BUILDER_TEST_UNSET_VAR"],
            "environment variable BUILDER_TEST_UNSET_VAR is not set",
        ),
        (&["--ssh", "key=/nonexistent/agent.sock"], "/nonexistent/agent.sock does not exist"),
        (
            &["--build-arg", "=2"],
            "--build-arg \"=2\": the name is empty (expected NAME=VALUE or NAME)",
        ),
        (&["--jobs", "0"], "--jobs 0: give at least 1"),
    ];
    for (args, want) in cases {
        let t = Instant::now();
        let o = w.build(args, &ctx);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?} did not fail: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
        assert!(
            !err.contains("127.0.0.1:9"),
            "{args:?} reached the registry: {err}"
        );
        assert!(!err.contains("#1 "), "{args:?} started a step: {err}");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
    assert!(
        !w.path("store").exists(),
        "a failed flag check opened the store"
    );
}

#[test]
fn push_with_a_registry_output_needs_no_tag() {
    let w = World::new("cli-validate-");
    let ctx = w.context("ctx", "FROM 127.0.0.1:9/base\n", &[]);
    // Valid flags: the build starts and fails on the unreachable registry instead.
    let o = w.build(
        &["--push", "-o", "type=registry,name=127.0.0.1:9/app:1"],
        &ctx,
    );
    assert!(!o.status.success());
    assert!(!stderr(&o).contains("--push needs"), "{}", stderr(&o));
    assert!(stderr(&o).contains("127.0.0.1:9"), "{}", stderr(&o));
}

#[test]
fn bare_pull_does_not_take_the_context() {
    let w = World::new("cli-validate-");
    let ctx = w.context(
        "ctx",
        "FROM scratch\nCOPY a /a\n",
        &[("a", "from the context\n")],
    );
    // buildx's boolean `--pull` (= always) just before the context, and the forms with a value.
    for (i, pull) in [
        &["--pull"][..],
        &["--pull=missing"],
        &["--pull", "never"],
        &["--pull=false"],
    ]
    .iter()
    .enumerate()
    {
        let out = w.path(&format!("out{i}"));
        let dest = format!("type=local,dest={}", out.display());
        let mut args = vec!["-t", "p", "-o", &dest];
        args.extend_from_slice(pull);
        let o = w.build(&args, &ctx);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(
            fs::read_to_string(out.join("a")).unwrap(),
            "from the context\n",
            "{args:?}"
        );
    }
}

#[test]
fn dockerfile_on_stdin_builds_with_an_empty_context() {
    let w = World::with_busybox("cli-validate-");
    // docker build - < Dockerfile: no context, so RUN works and COPY finds nothing.
    let o = w.build_stdin(&["-t", "stdin"], b"FROM busybox\nRUN echo built > /x\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.file_in("stdin", "/x"), "built");
    let o = w.build_stdin(&["-t", "stdin2"], b"FROM busybox\nCOPY a /a\n");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("\"/a\": not found"), "{}", stderr(&o));
    // A tar on stdin is still a context (with -f for its Dockerfile).
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    tar.append_data(&mut h, "a", &b"tar"[..]).unwrap();
    let tar = tar.into_inner().unwrap();
    let df = w.context("df", "FROM busybox\nCOPY a /a\n", &[]);
    let o = w.build_stdin(
        &[
            "-t",
            "stdin3",
            "-f",
            df.join("Dockerfile").to_str().unwrap(),
        ],
        &tar,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.file_in("stdin3", "/a"), "tar");
    let o = run(w
        .builder()
        .args(["build", "-f", "-", "-"])
        .stdin(Stdio::null()));
    assert!(
        stderr(&o).contains("stdin can hold the Dockerfile or the context, not both"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unconsumed_build_args_warn_once_and_suggest_the_declared_arg() {
    let w = World::new("cli-validate-");
    let ctx = w.context("ctx", "FROM scratch\nARG VERSION\nLABEL v=$VERSION\n", &[]);
    let o = w.build(&["--build-arg", "VERSOIN=1", "--build-arg", "ZZZ=2"], &ctx);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: One or more build-args [VERSOIN ZZZ] were not consumed\n"),
        "{err}"
    );
    assert!(!err.contains("[Warning]"), "{err}");
    assert!(
        err.contains("warning: build-arg VERSOIN is not declared (did you mean VERSION?)"),
        "{err}"
    );
    assert!(!err.contains("build-arg ZZZ is not declared"), "{err}");
}
