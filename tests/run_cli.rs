//! `builder run` as `docker run`: everything after the image goes to the command, stop
//! signals reach the command (which decides what to do) and its exit status is returned
//! (128+n when signal n ended it), `-i` hands it stdin, `-e`/`-w`/`-u`/`--rm` as before.
//! Through the real binary on the busybox image. Needs root and busybox-static.

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::world::World;
use support::{run, run_ok};

/// A world whose store holds busybox as `bb` (env `PATH=/bin`).
fn world() -> World {
    let w = World::new("run-cli-");
    w.import_busybox("PATH=/bin", "bb", "run-cli-busybox-rootfs");
    w
}

impl World {
    /// Starts `builder run ARGS` and waits until the command printed `ready`.
    fn start(&self, args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>) {
        let mut child = self
            .builder()
            .arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        (child, out)
    }
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<i32> {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("builder run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn arguments_after_the_image_are_the_commands() {
    let w = world();
    // Flags after the image (even builder's own) are the command's, as with `docker run`.
    let out = run_ok(
        w.builder()
            .args(["run", "-e", "A=1", "-w", "/tmp", "-u", "65534:65534", "bb"])
            .args([
                "sh",
                "-c",
                "echo \"$0 $1 $A $(pwd) $(id -u)\"",
                "-selftest",
                "--rm",
            ]),
    );
    assert_eq!(out, "-selftest --rm 1 /tmp 65534\n");
    let o = run(w
        .builder()
        .args(["run", "--rm", "bb", "sh", "-c", "exit 7"]));
    assert_eq!(o.status.code(), Some(7));
}

#[test]
fn stdin_is_forwarded_with_i_only() {
    let w = world();
    for (flag, want) in [(Some("-i"), "hello from stdin\n"), (None, "")] {
        let mut c = w.builder();
        c.arg("run");
        c.args(flag);
        let mut child = c
            .args(["bb", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"hello from stdin\n")
            .unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success());
        assert_eq!(String::from_utf8_lossy(&o.stdout), want, "{flag:?}");
    }
}

#[test]
fn stop_signals_reach_the_command_and_its_status_is_returned() {
    let w = world();
    for (sig, name, code) in [
        (libc::SIGTERM, "TERM", 41),
        (libc::SIGINT, "INT", 42),
        (libc::SIGHUP, "HUP", 43),
        (libc::SIGQUIT, "QUIT", 44),
    ] {
        // The command is PID 1 of its namespace: it sees the signal through its trap (a
        // SIGKILL, as before, would give 137 and no output).
        let script =
            format!("trap 'echo got {name}; exit {code}' {name}; echo ready; sleep 60 & wait");
        let (mut child, mut out) = w.start(&["bb", "sh", "-c", &script]);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = wait_for(&mut child, Duration::from_secs(10));
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, format!("got {name}\n"));
        assert_eq!(status, Some(code), "{name}");
    }
}

#[test]
fn a_command_ended_by_a_signal_exits_128_plus_n() {
    let w = world();
    // At the chroot level the command is not PID 1, so SIGTERM's default action ends it.
    let (mut child, _out) = w.start(&[
        "--isolation",
        "chroot",
        "bb",
        "sh",
        "-c",
        "echo ready; exec sleep 60",
    ]);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(
        wait_for(&mut child, Duration::from_secs(10)),
        Some(128 + 15)
    );
}
