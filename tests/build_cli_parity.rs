//! `builder build` command-line shapes CI jobs use, against what Docker
//! 26.1.5 (buildx 0.13.1, BuildKit 0.13 behind dockerd's docker driver) did
//! with the same Dockerfile and flags; each expectation says what Docker
//! printed or built. Semantics: buildx `commands/build.go` (hidden
//! classic-builder flags, `-q` vs `--progress`), `build/build.go`
//! (`SOURCE_DATE_EPOCH`, stdin inputs, `image.name`), BuildKit's
//! `dockerfile2llb` (cache mounts with `from`). Needs root and busybox-static.

mod support;

use std::fs;
use std::io::Write as _;
use std::process::{Output, Stdio};

use serde_json::Value;
use support::run;
use support::world::World;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the command failed with `want` in its stderr.
fn fails_with(o: &Output, want: &str) {
    let e = stderr(o);
    assert!(!o.status.success(), "succeeded: {e}");
    assert!(e.contains(want), "{want:?} not in: {e}");
}

impl World {
    /// `builder build ARGS -` with `stdin` piped in.
    fn build_piped(&self, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
        let mut c = self.builder();
        c.args(["build", "--progress", "plain"]).args(args).arg("-");
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn inspect(&self, tag: &str) -> Value {
        let o = run(self.builder().args(["inspect", tag]));
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        tar.append_data(&mut h, name, content.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap()
}

/// buildx still takes the classic builder's flags, hidden, and ignores them
/// (Docker 26.1.5: `--rm --force-rm --compress -c 2 --cpu-quota 1000
/// --memory-swap 1g --builder default` build; `--squash` and
/// `--security-opt` add `WARNING: experimental flag squash is removed with
/// BuildKit. …` / `WARNING: security-opt flag is deprecated. …`). An unknown
/// flag exits 125 (`unknown flag: --frobnicate`); `-q --progress=plain`
/// fails `progress=plain and quiet cannot be used together`.
#[test]
fn classic_flags_are_accepted_and_misuse_is_refused() {
    let w = World::with_busybox("cli-parity-");
    let ctx = w.context("ctx", "FROM busybox\nRUN echo ok > /ok\n", &[]);
    let o = w.build(
        &[
            "--rm",
            "--force-rm=false",
            "--compress",
            "--squash",
            "--security-opt",
            "seccomp=unconfined",
            "-c",
            "2",
            "--cpu-quota",
            "1000",
            "--memory-swap",
            "-1",
            "--cpuset-cpus",
            "0",
            "--builder",
            "default",
            "--isolation",
            "default",
        ],
        &ctx,
    );
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("experimental flag squash is removed with BuildKit"),
        "{e}"
    );
    assert!(e.contains("security-opt flag is deprecated"), "{e}");

    let o = w.build(&["--cgroup-parent", "x"], &ctx);
    fails_with(&o, "--cgroup-parent x: not supported");

    let o = w.build(&["--frobnicate"], &ctx);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("'--frobnicate'"), "{}", stderr(&o));

    for p in ["plain", "rawjson", "tty"] {
        let o = w.build(&["-q", "--progress", p], &ctx);
        fails_with(
            &o,
            &format!("progress={p} and quiet cannot be used together"),
        );
    }
    let o = w.build(&["-q", "--progress", "quiet"], &ctx);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `--label KEY` is an empty label (Docker 26.1.5: `{"bar":"","foo":""}` for
/// `--label foo --label bar=`); `--label =x` fails `invalid key-value pair
/// "=x": empty key`. `--metadata-file`'s `image.name` lists the tags
/// normalised without an added `:latest` (Docker 26.1.5:
/// `docker.io/p3/tags:v1,localhost:5000/x/tags,docker.io/p3/tags`).
#[test]
fn labels_without_values_and_metadata_image_names() {
    let w = World::with_busybox("cli-parity-");
    let ctx = w.context("ctx", "FROM busybox\nLABEL keep=1\n", &[]);
    let meta = w.path("meta.json");
    let o = w.build(
        &[
            "--label",
            "foo",
            "--label",
            "bar=",
            "-t",
            "p3/tags:v1",
            "-t",
            "localhost:5000/x/tags",
            "-t",
            "p3/tags",
            "-t",
            "plain",
            "--metadata-file",
            meta.to_str().unwrap(),
        ],
        &ctx,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let labels = &w.inspect("p3/tags:v1")["Config"]["config"]["Labels"];
    assert_eq!(
        labels,
        &serde_json::json!({"bar": "", "foo": "", "keep": "1"})
    );
    let m: Value = serde_json::from_slice(&fs::read(&meta).unwrap()).unwrap();
    assert_eq!(
        m["image.name"],
        "docker.io/p3/tags:v1,localhost:5000/x/tags,docker.io/p3/tags,docker.io/library/plain"
    );
    // The manifest the digest names, as BuildKit's image exporter adds it.
    let d = &m["containerimage.descriptor"];
    assert_eq!(d["digest"], m["containerimage.digest"], "{m}");
    assert_eq!(d["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert!(d["size"].as_u64().unwrap() > 0, "{m}");

    let o = w.build(&["--label", "=x"], &ctx);
    fails_with(&o, "invalid key-value pair \"=x\": empty key");
}

/// buildx passes `SOURCE_DATE_EPOCH` from its environment as the build-arg
/// (Docker 26.1.5 wrote `sde=1700000000`); the args BuildKit consumes itself
/// (`BUILDKIT_*`, `SOURCE_DATE_EPOCH`) are never called unused.
#[test]
fn source_date_epoch_from_the_environment_is_a_build_arg() {
    let w = World::with_busybox("cli-parity-");
    let ctx = w.context(
        "ctx",
        "FROM busybox\nARG SOURCE_DATE_EPOCH\nRUN echo \"sde=$SOURCE_DATE_EPOCH\" > /o\n",
        &[],
    );
    let dest = w.path("out");
    let o = run(w
        .builder()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["build", "--progress", "plain"])
        .args(["--build-arg", "BUILDKIT_INLINE_CACHE=1"])
        .args(["-o", &format!("type=local,dest={}", dest.display())])
        .arg(&ctx));
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert_eq!(
        fs::read_to_string(dest.join("o")).unwrap(),
        "sde=1700000000\n"
    );
    assert!(!e.contains("not consumed"), "{e}");
}

/// `builder build - < ctx.tar`: the tar's `Dockerfile` (or `-f PATH` inside
/// it) is the Dockerfile, as buildx reads stdin (Docker 26.1.5 listed
/// `Dockerfile file.txt` in the COPY of the context; a tar without one
/// fails `open Dockerfile: no such file or directory`); a Dockerfile on
/// stdin with `-f` fails `ambiguous Dockerfile source`.
#[test]
fn a_context_tar_on_stdin_holds_the_dockerfile() {
    let w = World::with_busybox("cli-parity-");
    let df = "FROM busybox\nCOPY . /ctx/\nRUN ls -A /ctx > /o\n";
    let dest = w.path("out");
    let out = format!("type=local,dest={}", dest.display());
    let tar = tar_of(&[("Dockerfile", df), ("file.txt", "hello\n")]);
    let o = w.build_piped(&["-o", &out], &tar, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(dest.join("o")).unwrap(),
        "Dockerfile\nfile.txt\n"
    );

    let tar = tar_of(&[("sub/D2", df), ("f", "x\n")]);
    let o = w.build_piped(&["-f", "sub/D2", "-o", &out], &tar, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(dest.join("o")).unwrap(), "f\nsub\n");

    let o = w.build_piped(&["-o", &out], &tar, &[]);
    fails_with(&o, "the context tar on stdin has no Dockerfile");

    let o = w.build_piped(&["-f", "sub/D2"], b"FROM busybox\n", &[]);
    fails_with(&o, "ambiguous Dockerfile source");
}

/// `RUN --mount=type=cache,from=STAGE,source=DIR` starts with the stage's
/// files (owners kept): Docker 26.1.5 listed `sub` and `sub/file` owned
/// 5:6. Another seed is another cache, and the step runs again.
#[test]
fn a_cache_mount_from_a_stage_starts_with_its_files() {
    let w = World::with_busybox("cli-parity-");
    let df = |v: &str| {
        format!(
            "FROM busybox AS seed\nRUN mkdir -p /seed/sub && echo {v} > /seed/sub/file && \
             chown -R 5:6 /seed\nFROM busybox\n\
             RUN --mount=type=cache,target=/c3,from=seed,source=/seed \
             ls -ln /c3/sub | tail -1 | awk '{{print $3\":\"$4\" \"$9}}' > /o && cat /c3/sub/file >> /o\n"
        )
    };
    let ctx = w.context("ctx", df("one"), &[]);
    let dest = w.path("out");
    let out = format!("type=local,dest={}", dest.display());
    let o = w.build(&["-o", &out], &ctx);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(dest.join("o")).unwrap(),
        "5:6 file\none\n"
    );
    fs::write(ctx.join("Dockerfile"), df("two")).unwrap();
    let o = w.build(&["-o", &out], &ctx);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(dest.join("o")).unwrap(),
        "5:6 file\ntwo\n"
    );
}

/// A required secret that was not given fails with BuildKit's words
/// (Docker 26.1.5: `ERROR: failed to solve: secret nothere: not found`).
#[test]
fn a_missing_required_secret_is_not_found() {
    let w = World::with_busybox("cli-parity-");
    let ctx = w.context(
        "ctx",
        "FROM busybox\nRUN --mount=type=secret,id=nothere,required cat /run/secrets/nothere\n",
        &[],
    );
    let o = w.build(&[], &ctx);
    fails_with(&o, "secret nothere: not found");
    assert!(stderr(&o).contains("Dockerfile:2"), "{}", stderr(&o));
}

/// An optional SSH mount whose agent was not forwarded, then is: BuildKit
/// runs the step again (Docker 26.1.5 printed `sock=` without `--ssh`,
/// then `sock=/run/buildkit/ssh_agent.0` with `--ssh default`).
#[test]
fn forwarding_an_ssh_agent_reruns_the_step() {
    let w = World::with_busybox("cli-parity-");
    let ctx = w.context(
        "ctx",
        "FROM busybox\nRUN --mount=type=ssh echo \"sock=$SSH_AUTH_SOCK\" > /o\n",
        &[],
    );
    let dest = w.path("out");
    let out = format!("type=local,dest={}", dest.display());
    let o = w.build(&["-o", &out], &ctx);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(dest.join("o")).unwrap(), "sock=\n");
    // Any listening socket will do: the step only reads the variable.
    let sock = w.path("agent.sock");
    let _agent = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let o = run(w
        .builder()
        .env("SSH_AUTH_SOCK", &sock)
        .args([
            "build",
            "--progress",
            "plain",
            "--ssh",
            "default",
            "-o",
            &out,
        ])
        .arg(&ctx));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(dest.join("o")).unwrap(),
        "sock=/run/buildkit/ssh_agent.0\n"
    );
}

/// `--ulimit` is part of a RUN's cache key (BuildKit's ExecOp holds it):
/// Docker 26.1.5 printed `1024 2048` with `--ulimit nofile=1024:2048` and
/// then its default (`20000 20000` there) without it, not the cached
/// result. The default here is builder's own, so only the change is checked.
#[test]
fn a_ulimit_change_reruns_the_step() {
    let w = World::with_busybox("cli-parity-");
    let ctx = w.context(
        "ctx",
        "FROM busybox\nRUN echo $(ulimit -n) $(ulimit -Hn) > /o\n",
        &[],
    );
    let dest = w.path("out");
    let out = format!("type=local,dest={}", dest.display());
    let o = w.build(&["--ulimit", "nofile=1024:2048", "-o", &out], &ctx);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(dest.join("o")).unwrap(), "1024 2048\n");
    let o = w.build(&["-o", &out], &ctx);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(fs::read_to_string(dest.join("o")).unwrap(), "1024 2048\n");
}

/// A RUN sees the image's /etc/hostname, none in busybox (Docker 26.1.5:
/// `ls: /etc/hostname: No such file or directory`), while `hostname` is
/// `buildkitsandbox` and /etc/hosts is generated.
#[test]
fn run_has_no_generated_etc_hostname() {
    let w = World::with_busybox("cli-parity-");
    let ctx = w.context(
        "ctx",
        "FROM busybox\nRUN hostname > /o; test -e /etc/hostname && echo has >> /o; \
         grep -c buildkitsandbox /etc/hosts >> /o\n",
        &[],
    );
    let dest = w.path("out");
    let o = w.build(
        &["-o", &format!("type=local,dest={}", dest.display())],
        &ctx,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(dest.join("o")).unwrap(),
        "buildkitsandbox\n1\n"
    );
    assert!(!dest.join("etc/hostname").exists());
}

/// A missing context or Dockerfile fails in buildx's and BuildKit's words
/// (Docker 26.1.5: `unable to prepare context: path "/nonexistent/ctx" not
/// found`; `failed to read dockerfile: open Dockerfile: no such file or
/// directory`); a git or HTTP context is refused by name.
#[test]
fn missing_contexts_and_dockerfiles_in_docker_words() {
    let w = World::with_busybox("cli-parity-");
    let o = run(w.builder().args(["build", "/nonexistent/ctx"]));
    fails_with(
        &o,
        "unable to prepare context: path \"/nonexistent/ctx\" not found",
    );
    let empty = w.path("empty");
    fs::create_dir_all(&empty).unwrap();
    let o = w.build(&[], &empty);
    fails_with(&o, "failed to read dockerfile: open ");
    fails_with(&o, "Dockerfile: no such file or directory");
    let o = run(w.builder().args(["build", "https://github.com/a/b.git"]));
    fails_with(&o, "git and HTTP contexts are not supported");
}

/// A RUN whose command cannot be executed fails as BuildKit reports it, a
/// process that exited 1 (Docker 26.1.5: `process "nosuchcmd x" did not
/// complete successfully: exit code: 1` after runc's `exec: "nosuchcmd":
/// executable file not found in $PATH`), with the cause kept.
#[test]
fn an_unexecutable_command_is_a_process_that_exited_1() {
    let w = World::with_busybox("cli-parity-");
    for (df, cause) in [
        (
            "FROM busybox\nRUN [\"nosuchcmd\", \"x\"]\n",
            "executable file not found in $PATH",
        ),
        (
            "FROM busybox\nRUN [\"/nonexistent\"]\n",
            "exec \"/nonexistent\"",
        ),
    ] {
        let ctx = w.context("ctx", df, &[]);
        let o = w.build(&[], &ctx);
        let argv = if df.contains("nosuch") {
            "nosuchcmd x"
        } else {
            "/nonexistent"
        };
        fails_with(
            &o,
            &format!("process \"{argv}\" did not complete successfully: exit code: 1"),
        );
        fails_with(&o, cause);
    }
}
