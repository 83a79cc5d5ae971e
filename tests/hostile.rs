//! Hostile Dockerfiles and contexts (issue 17), through the real binary: each fails with a
//! clear error naming the limit or the file, never a crash, a hang or a blow-up.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn builder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_builder"))
}

/// Builds `dockerfile` (FROM scratch + metadata only: no sandbox needed) in a fresh store;
/// returns (exit code, stderr) and checks it ended within `limit`.
fn build(dockerfile: &str, limit: Duration) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let df = dir.path().join("Dockerfile");
    std::fs::write(&df, dockerfile).unwrap();
    let start = Instant::now();
    let out = builder()
        .args(["build", "--progress", "plain", "--root"])
        .arg(dir.path().join("store"))
        .arg("-f")
        .arg(&df)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn deep_nesting_is_an_error_at_the_line() {
    for (open, close) in [
        ("${A:-", "}"),
        ("${A:+", "}"),
        ("${A:?", "}"),
        ("${A#", "}"),
        ("${A%", "}"),
        ("${A/x/", "}"),
        ("\"${A:-", "}\""),
    ] {
        let word = format!("{}x{}", open.repeat(5_000), close.repeat(5_000));
        let (code, err) = build(
            &format!("FROM scratch\nLABEL l={word}\n"),
            Duration::from_secs(60),
        );
        assert_eq!(code, 1, "{open}: {err}");
        assert!(err.contains(":2:"), "{open}: {err}");
        assert!(
            err.contains("nesting too deep: more than 128 levels"),
            "{open}: {err}"
        );
    }
}

#[test]
fn expansion_bomb_stops_at_the_word_limit() {
    let mut df = String::from("FROM scratch\nARG A=x\n");
    for _ in 0..40 {
        df.push_str("ENV A=$A$A\n");
    }
    let (code, err) = build(&df, Duration::from_secs(60));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("expansion too large") && err.contains("1048576 bytes"),
        "{err}"
    );
    // 2^20 bytes is reached after 20 doublings: the error is on line 23.
    assert!(err.contains(":23:"), "{err}");
}

#[test]
fn many_env_lines_build_in_linear_time() {
    let mut df = String::from("FROM scratch\n");
    for i in 0..100_000 {
        df.push_str(&format!("ENV V{i}=value{i}\n"));
    }
    // Quadratic evaluation took longer than 300 s; a debug build does this in seconds.
    let (code, err) = build(&df, Duration::from_secs(120));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn special_files_as_dockerfile_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    for (path, kind) in [
        (fifo.clone(), "is a FIFO (named pipe)"),
        ("/dev/zero".into(), "is a character device"),
        (dir.path().to_path_buf(), "is a directory"),
    ] {
        let start = Instant::now();
        let out = builder()
            .args(["build", "--dry-run", "-f"])
            .arg(&path)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(30));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains(&format!("the Dockerfile {} {kind}", path.display())),
            "{err}"
        );
    }
}

#[test]
fn sandbox_helper_given_garbage_says_so() {
    for input in [
        &b"garbage"[..],
        b"",
        b"\x02\0\0\0\0\0\0\0{}",
        b"\xff\xff\xff\xff\xff\xff\xff\xff",
    ] {
        let mut child = builder()
            .arg("__sandbox-child")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("builder __sandbox-child: sandbox: "), "{err}");
    }
}

/// `builder build --dry-run` of `dockerfile` (parse and plan only); (exit code, stderr, stdout).
fn dry_run(dockerfile: &str, limit: Duration) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let df = dir.path().join("Dockerfile");
    std::fs::write(&df, dockerfile).unwrap();
    let start = Instant::now();
    let out = builder()
        .args(["build", "--dry-run", "-f"])
        .arg(&df)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Asserts a dry run fails with `message` at line `line`.
fn assert_refused(dockerfile: &str, message: &str, line: usize) {
    let (code, err, _) = dry_run(dockerfile, Duration::from_secs(60));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(message), "{err}");
    assert!(err.contains(&format!("Dockerfile:{line}:")), "{err}");
}

#[test]
fn count_limits_are_errors_naming_the_limit_and_the_line() {
    use builder::dockerfile::limits::*;
    // Instructions: the 200,001st is refused.
    let mut df = String::from("FROM scratch\n");
    df.push_str(&"USER x\n".repeat(MAX_INSTRUCTIONS));
    assert_refused(
        &df,
        "too many instructions: more than 200000 in one Dockerfile (builder's limit)",
        MAX_INSTRUCTIONS + 1,
    );
    // Exactly the limit is fine.
    df.truncate(df.len() - "USER x\n".len());
    assert_eq!(dry_run(&df, Duration::from_secs(60)).0, 0);

    // Stages.
    let df = "FROM scratch\n".repeat(MAX_STAGES + 1);
    assert_refused(
        &df,
        "too many build stages (FROM): more than 10000",
        MAX_STAGES + 1,
    );

    // ARG/ENV entries, counted over the file: one ENV of many pairs on continuation lines.
    let mut df = String::from("FROM scratch\nARG a b c\nENV \\\n");
    for i in 0..MAX_VARIABLES {
        df.push_str(&format!(" k{i}=v \\\n"));
    }
    df.push('\n');
    assert_refused(&df, "too many ARG and ENV entries: more than 200000", 3);

    // LABEL entries.
    let mut df = String::from("FROM scratch\n");
    for i in 0..=MAX_LABELS / 4 {
        df.push_str(&format!("LABEL a{i}=1 b{i}=2 c{i}=3 d{i}=4\n"));
    }
    assert_refused(
        &df,
        "too many LABEL entries: more than 100000",
        MAX_LABELS / 4 + 2,
    );

    // Heredocs on one instruction: named at the first one past the limit.
    let mut df = String::from("FROM scratch\nCOPY");
    for i in 0..=MAX_HEREDOCS {
        df.push_str(&format!(" <<E{i}"));
    }
    df.push_str(" /d/\n");
    for i in 0..=MAX_HEREDOCS {
        df.push_str(&format!("x\nE{i}\n"));
    }
    assert_refused(
        &df,
        "too many heredocs: more than 1000 on one instruction",
        2,
    );
}

#[test]
fn heredoc_and_file_size_limits() {
    use builder::dockerfile::limits::*;
    // A heredoc body past 16 MiB, in lines of 64 KiB: the error is at the line passing it.
    let line = format!("{}\n", "x".repeat(65_535));
    let lines = MAX_HEREDOC_BYTES / line.len() + 1;
    let df = format!("FROM scratch\nCOPY <<EOF /f\n{}EOF\n", line.repeat(lines));
    assert_refused(
        &df,
        "heredoc too large: the body of `EOF` passes 16777216 bytes (16 MiB, builder's limit)",
        2 + lines,
    );
    // A Dockerfile past 32 MiB is refused before parsing.
    let df = format!(
        "FROM scratch\n{}",
        "# comment\n".repeat(MAX_DOCKERFILE_BYTES / 10)
    );
    let (code, err, _) = dry_run(&df, Duration::from_secs(60));
    assert_eq!(code, 1);
    assert!(err.contains("33554432 bytes"), "{err}");
}

#[test]
fn total_expansion_is_bounded_at_the_line_passing_it() {
    // A = 512 KiB after 19 doublings (1 MiB - 1 byte expanded so far); each `ENV B=$A` then
    // adds 512 KiB + 1: the 30th passes 16 MiB.
    let mut df = String::from("FROM scratch\nARG A=x\n");
    df.push_str(&"ARG A=$A$A\n".repeat(19));
    df.push_str(&"ENV B=$A\n".repeat(40));
    let (code, err) = build(&df, Duration::from_secs(120));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "expansion too large: the build's expanded words total more than 16777216 bytes"
        ),
        "{err}"
    );
    assert!(err.contains("Dockerfile:51:"), "{err}");
}

#[test]
fn ten_thousand_stage_chains_plan_without_recursion() {
    // Each stage FROM the previous one.
    let mut df = String::from("FROM scratch AS s0\n");
    for i in 1..10_000 {
        df.push_str(&format!("FROM s{} AS s{i}\n", i - 1));
    }
    let (code, err, out) = dry_run(&df, Duration::from_secs(60));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("s9999"), "{out}");
    // Each stage copying from the previous one.
    let mut df = String::from("FROM scratch AS s0\n");
    for i in 1..10_000 {
        df.push_str(&format!(
            "FROM scratch AS s{i}\nCOPY --from=s{} /a /a\n",
            i - 1
        ));
    }
    let (code, err, _) = dry_run(&df, Duration::from_secs(60));
    assert_eq!(code, 0, "{err}");
    // A cycle through all 10,000 stages: each copies from the next, the last from the first.
    let mut df = String::new();
    for i in 0..10_000 {
        df.push_str(&format!(
            "FROM scratch AS s{i}\nCOPY --from=s{} /a /a\n",
            (i + 1) % 10_000
        ));
    }
    let (code, err, _) = dry_run(&df, Duration::from_secs(60));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("circular dependency detected on stage: s0"),
        "{err}"
    );
}

fn mkfifo(path: &std::path::Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
}

/// `builder build` of the context `ctx` (its Dockerfile) in a fresh store under `dir`,
/// with `extra` arguments; (exit code, stderr), checked to end within 60 s.
fn build_context(dir: &std::path::Path, ctx: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let start = Instant::now();
    let out = builder()
        .args(["build", "--progress", "plain", "--root"])
        .arg(dir.join("store"))
        .args(extra)
        .arg(ctx)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fifo_as_dockerignore_or_secret_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY a /a\n").unwrap();
    std::fs::write(ctx.join("a"), "a\n").unwrap();
    // A FIFO as .dockerignore: Docker's client would block opening it.
    mkfifo(&ctx.join(".dockerignore"));
    let (code, err) = build_context(dir.path(), &ctx, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "the .dockerignore {} is a FIFO (named pipe)",
            ctx.join(".dockerignore").display()
        )),
        "{err}"
    );
    std::fs::remove_file(ctx.join(".dockerignore")).unwrap();
    // A FIFO as a secret's source.
    let fifo = dir.path().join("secret-fifo");
    mkfifo(&fifo);
    let spec = format!("id=s,src={}", fifo.display());
    let (code, err) = build_context(dir.path(), &ctx, &["--secret", &spec]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "the secret file {} is a FIFO (named pipe)",
            fifo.display()
        )),
        "{err}"
    );
}

#[test]
fn context_file_swapped_for_a_fifo_mid_build_does_not_hang() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    // `ADD http://…` runs after the context is scanned and before `COPY a` reads it: the
    // server swaps `a` for a FIFO (nobody ever writes to it) before it first answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = ctx.join("a");
    let (swap_tx, swap_rx) = std::sync::mpsc::channel::<()>();
    let (swapped_tx, swapped_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            if swap_rx.try_recv().is_ok() {
                std::fs::remove_file(&target).unwrap();
                mkfifo(&target);
                swapped_tx.send(()).unwrap();
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nu\n");
        }
    });
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM scratch\nADD http://127.0.0.1:{port}/u /u\nCOPY a /a\n"),
    )
    .unwrap();
    for overlay in ["0", "1"] {
        let _ = std::fs::remove_file(ctx.join("a"));
        std::fs::write(ctx.join("a"), "a\n").unwrap();
        swap_tx.send(()).unwrap();
        let out = dir.path().join("out.tar");
        let start = Instant::now();
        let o = builder()
            .env("BUILDER_COPY_VIA_OVERLAY", overlay)
            .args(["build", "--no-cache", "--progress", "plain", "--root"])
            .arg(dir.path().join("store"))
            .arg("--output")
            .arg(format!("type=tar,dest={}", out.display()))
            .arg(&ctx)
            .output()
            .unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "took {:?}",
            start.elapsed()
        );
        swapped_rx.try_recv().expect("the server swapped the file");
        let err = String::from_utf8_lossy(&o.stderr);
        // The file is copied as what it now is, a FIFO (Docker's client sends a FIFO of the
        // context as a FIFO), never opened for reading.
        assert!(o.status.success(), "overlay={overlay}: {err}");
        let mut tar = tar::Archive::new(std::fs::File::open(&out).unwrap());
        let kinds: Vec<(String, tar::EntryType)> = tar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                (path, e.header().entry_type())
            })
            .collect();
        assert!(
            kinds.contains(&("a".to_string(), tar::EntryType::Fifo)),
            "overlay={overlay}: {kinds:?}"
        );
    }
}

/// A context nested as deep as paths allow (2,000 directory levels: a 4,000-byte path) is
/// copied whole, as BuildKit copies it: every walk over the context, the layer and the
/// exported rootfs gets through it without overflowing a stack.
#[test]
fn deepest_context_directories_copy_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    let mut deepest = ctx.clone();
    for _ in 0..2000 {
        deepest.push("d");
    }
    std::fs::create_dir_all(&deepest).unwrap();
    std::fs::write(deepest.join("f"), "bottom").unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY . /x/\n").unwrap();
    let out = dir.path().join("out.tar");
    let (code, stderr) = build_context(
        dir.path(),
        &ctx,
        &["--output", &format!("type=tar,dest={}", out.display())],
    );
    assert_eq!(code, 0, "{stderr}");
    let want = format!("x/{}f", "d/".repeat(2000));
    let mut archive = tar::Archive::new(std::fs::File::open(&out).unwrap());
    let mut found = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if path.trim_start_matches("./").trim_start_matches('/') == want {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            found = Some(text);
        }
    }
    assert_eq!(
        found.as_deref(),
        Some("bottom"),
        "no {} in the tar",
        &want[..40]
    );
}
