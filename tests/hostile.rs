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
