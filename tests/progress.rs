//! Build progress through the real binary: `--progress=plain` compared in
//! structure (step names, numbering, output lines, DONE/ERROR marks; not the
//! times) with what Docker 26.1 / BuildKit 0.13 printed for the same
//! Dockerfiles (testdata/progress/docker26-*.txt, recorded with
//! `docker build --network host --no-cache --progress=plain`),
//! `--progress=json` (every line an event with an RFC 3339 time), and the
//! tty view through a real pseudo-terminal, rendered by a terminal emulator
//! (vt100) to assert the final screen. The base image comes from an OCI
//! layout (`--build-context`), so no registry is needed.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BASE: &str = "127.0.0.1:5000/library/busybox:latest";

/// A store and the base image's OCI layout, removed when dropped.
struct Setup {
    dir: tempfile::TempDir,
    base: support::BaseImage,
}

fn setup() -> Setup {
    Setup {
        dir: tempfile::tempdir().unwrap(),
        base: support::make_base_image(0),
    }
}

/// A context with testdata/progress/`dockerfile` as its Dockerfile.
fn context(dockerfile: &str) -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(Path::new("testdata/progress").join(dockerfile)).unwrap();
    fs::write(ctx.path().join("Dockerfile"), text).unwrap();
    ctx
}

fn builder(s: &Setup, extra: &[&str], ctx: &Path) -> Command {
    let mut c = support::builder(&s.dir.path().join("root"), &s.dir.path().join("docker"));
    c.args(["build", "--no-cache", "--platform", "linux/amd64"])
        .arg("--build-context")
        .arg(format!(
            "{BASE}=oci-layout://{}:amd64",
            s.base.layout.path().display()
        ))
        .args(extra)
        .arg(ctx);
    c
}

fn build(extra: &[&str], dockerfile: &str) -> Output {
    let s = setup();
    let ctx = context(dockerfile);
    support::run(&mut builder(&s, extra, ctx.path()))
}

/// One step of plain output: its heading and output lines (times dropped)
/// and how it ended (`DONE`, `CACHED`, `ERROR: …`).
#[derive(Debug, Default, PartialEq)]
struct PlainStep {
    logs: Vec<String>,
    end: String,
}

/// Steps by heading (`[build 3/4] RUN …`), BuildKit's own `[internal]`,
/// export and `#0` steps left out, FROM's `@sha256:…` pin dropped.
fn plain_steps(text: &str) -> BTreeMap<String, PlainStep> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut steps: BTreeMap<String, PlainStep> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((n, body)) = rest.split_once(' ') else {
            continue;
        };
        if body.starts_with('[') {
            let mut name = body.split('@').next().unwrap().to_string();
            // The base comes from an OCI layout here (a local name), from
            // the registry in the recording.
            if let Some(at) = name.find("] FROM ") {
                name = format!("{}] FROM <base>", &name[..at]);
            }
            names.insert(n.to_string(), name.clone());
            steps.entry(name).or_default();
            continue;
        }
        let Some(name) = names.get(n) else { continue };
        if name.starts_with("[internal]") {
            continue;
        }
        let step = steps.get_mut(name).unwrap();
        let (first, tail) = body.split_once(' ').unwrap_or((body, ""));
        if first == "DONE" {
            step.end = "DONE".into();
            assert!(
                tail.ends_with('s') && tail[..tail.len() - 1].parse::<f64>().is_ok(),
                "{line}"
            );
        } else if first == "CACHED" {
            step.end = "CACHED".into();
        } else if first == "ERROR:" {
            step.end = "ERROR".into();
        } else if first.parse::<f64>().is_ok() && first.contains('.') {
            // `#N 0.123 text`: seconds since the step began, 3 decimals.
            assert_eq!(first.split('.').nth(1).map(str::len), Some(3), "{line}");
            assert!(
                first.parse::<f64>().unwrap() < 30.0,
                "not step-relative: {line}"
            );
            step.logs.push(tail.to_string());
        }
    }
    steps.retain(|k, _| !k.starts_with("[internal]"));
    steps
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Headings and outputs as BuildKit prints them: only FROM image, RUN,
/// COPY, ADD and WORKDIR are steps (ENV, LABEL, ARG, EXPOSE, USER, CMD are
/// not), named stages by name, a stage FROM another one with no FROM step.
#[test]
fn plain_matches_buildkit_for_named_stages() {
    let o = build(&["--progress=plain"], "Dockerfile.stages");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let ours = plain_steps(&err);
    let docker = plain_steps(&fs::read_to_string("testdata/progress/docker26-stages.txt").unwrap());
    // Known difference, not yet done: BuildKit expands ENV/ARG values in a
    // RUN heading (`echo "1"`); builder shows the instruction as written.
    let expanded = |k: &String| k.replace("echo \"$A\"", "echo \"1\"");
    let names = |m: &BTreeMap<String, PlainStep>| m.keys().map(expanded).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&docker), "{err}");
    let run = "[build 3/4] RUN printf 'a\\rb\\n'; echo hello; echo world";
    assert_eq!(ours[run].logs, docker[run].logs);
    assert_eq!(ours[run].logs, ["a\rb", "hello", "world"]);
    assert_eq!(ours["[final 1/1] RUN echo \"$A\" && sleep 0.3"].logs, ["1"]);
    assert!(ours.values().all(|s| s.end == "DONE"), "{ours:?}");
    assert!(
        err.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("done: 5 steps run"),
        "{err}"
    );
}

/// Unnamed stages are `stage-N` in a multi-stage file; the index is padded
/// to the total's width (`[stage-2  2/11]`); FROM scratch is no step.
/// BuildKit merges stage-2's FROM with stage-0's (same image): that one
/// heading is the only difference.
#[test]
fn plain_matches_buildkit_for_unnamed_stages() {
    let o = build(&["--progress=plain"], "Dockerfile.unnamed");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let mut ours = plain_steps(&err);
    let docker =
        plain_steps(&fs::read_to_string("testdata/progress/docker26-unnamed.txt").unwrap());
    assert!(
        ours.remove("[stage-2  1/11] FROM <base>").is_some(),
        "{err}"
    );
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        docker.keys().collect::<Vec<_>>(),
        "{err}"
    );
}

/// A failing RUN: its output under the step, `#N ERROR: <first line>`, a
/// `failed:` summary, and the whole error (with its last output) once.
#[test]
fn plain_failure_prints_last_output_once() {
    let o = build(&["--progress=plain"], "Dockerfile.fail");
    let err = stderr(&o);
    assert!(!o.status.success());
    let ours = plain_steps(&err);
    let docker = plain_steps(&fs::read_to_string("testdata/progress/docker26-fail.txt").unwrap());
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        docker.keys().collect::<Vec<_>>()
    );
    let run = "[2/2] RUN echo one; echo two; echo three; exit 3";
    assert_eq!(ours[run], docker[run]);
    assert_eq!(err.matches("last output:").count(), 1, "{err}");
    assert!(err.contains("\nfailed: 1 steps run, 0 cached in "), "{err}");
}

/// `--progress=json`: every line parses, has an RFC 3339 `time` and an
/// `event`; warnings, the failed step, the failed summary and the build's
/// error are events.
#[test]
fn json_lines_are_timestamped_events() {
    // An unconsumed build arg is a warning.
    let o = build(
        &["--progress=json", "--build-arg", "NOPE=1"],
        "Dockerfile.fail",
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    let events: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{err}")))
        .collect();
    for e in &events {
        let t = e["time"].as_str().unwrap_or_else(|| panic!("no time: {e}"));
        assert!(
            t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
        assert!(e["event"].is_string(), "{e}");
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"warning"), "{err}");
    let w = events.iter().find(|e| e["event"] == "warning").unwrap();
    assert!(w["message"].as_str().unwrap().contains("NOPE"), "{w}");
    let step_err = events
        .iter()
        .find(|e| e["event"] == "error" && e["step"].is_u64());
    assert!(step_err.is_some(), "{err}");
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["failed"], true);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "error");
    assert!(last.get("step").is_none(), "{last}");
    assert!(last["message"].as_str().unwrap().contains("exit code: 3"));
    let logs: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "log")
        .map(|e| e["line"].as_str().unwrap())
        .collect();
    assert_eq!(logs, ["one", "two", "three"]);
}

/// Runs `cmd` on a new pseudo-terminal (rows x cols) and returns the
/// screen a terminal would show at the end.
fn on_pty(cmd: Command, rows: u16, cols: u16) -> (std::process::ExitStatus, String) {
    let (status, mut screens) = on_pty_watch(cmd, rows, cols);
    (status, screens.pop().unwrap_or_default())
}

/// Like [`on_pty`], with every screen the terminal showed (one after each
/// read of the pty), the final one last; rows right-trimmed.
fn on_pty_watch(mut cmd: Command, rows: u16, cols: u16) -> (std::process::ExitStatus, Vec<String>) {
    let ws = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).unwrap();
    let slave: OwnedFd = pty.slave;
    let mut child = cmd
        .env("TERM", "xterm-256color")
        .env("COLUMNS", cols.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()))
        .spawn()
        .unwrap();
    // The pty reads EIO at the end only once no copy of the slave is open.
    drop(cmd);
    drop(slave);
    let mut master = fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut parser = vt100::Parser::new(rows, cols, 0);
        let mut screens = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the last slave descriptor is closed: the build is over.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            parser.process(&buf[..n]);
            let rows: Vec<String> = parser
                .screen()
                .rows(0, cols)
                .map(|r| r.trim_end().to_string())
                .collect();
            screens.push(rows.join("\n").trim_end().to_string());
        }
        screens
    });
    let status = child.wait().unwrap();
    (status, reader.join().unwrap())
}

/// The tty view: finished steps stay with their times, `printf 'a\rb\n'`
/// shows as `b` (no raw CR, no shifted lines), the summary says done.
#[test]
fn tty_screen_keeps_steps_and_cleans_carriage_returns() {
    let s = setup();
    let ctx = context("Dockerfile.stages");
    let (status, screen) = on_pty(builder(&s, &["--progress=tty"], ctx.path()), 40, 120);
    assert!(status.success(), "{screen}");
    for step in [
        "=> [build 1/4] FROM builder-context.local/ctx:".to_string(),
        "=> [build 2/4] WORKDIR /app".into(),
        "=> [build 3/4] RUN printf 'a\\rb\\n'; echo hello; echo world".into(),
        "=> [build 4/4] COPY Dockerfile /app/".into(),
        "=> [final 1/1] RUN echo \"$A\" && sleep 0.3".into(),
    ] {
        let line = screen
            .lines()
            .find(|l| l.starts_with(step.as_str()))
            .unwrap_or_else(|| panic!("no {step:?} on\n{screen}"));
        let time = line.trim_end().rsplit(' ').next().unwrap();
        assert!(
            time.ends_with('s') && time[..time.len() - 1].parse::<f64>().is_ok(),
            "{line:?}\n{screen}"
        );
    }
    assert!(
        screen.contains("done: 5 steps run, 0 cached in "),
        "{screen}"
    );
    // No step's output is left on screen after it finished, and nothing
    // wrote over the step lines.
    assert!(!screen.lines().any(|l| l.trim() == "hello"), "{screen}");
    assert_eq!(
        screen.lines().filter(|l| l.starts_with("=> ")).count(),
        5,
        "{screen}"
    );
}

/// A failing build on a tty: the step is marked ERROR with its time, and
/// the summary says failed.
#[test]
fn tty_screen_says_failed() {
    let s = setup();
    let ctx = context("Dockerfile.fail");
    let (status, screen) = on_pty(builder(&s, &["--progress=tty"], ctx.path()), 40, 120);
    assert!(!status.success(), "{screen}");
    let line = screen
        .lines()
        .find(|l| l.starts_with("=> ERROR [2/2] RUN echo one;"))
        .unwrap_or_else(|| panic!("no ERROR line on\n{screen}"));
    assert!(line.trim_end().ends_with('s'), "{line}");
    assert!(
        screen.contains("failed: 1 steps run, 0 cached in "),
        "{screen}"
    );
    assert!(!screen.contains("done: "), "{screen}");
}

/// RUN output with carriage returns, escapes and a long line, watched live:
/// the tail under the running step shows the text after the last CR, no
/// escape sequence, the long line cut (not wrapped).
#[test]
fn tty_tail_shows_carriage_return_output_cleanly() {
    let s = setup();
    let ctx = tempfile::tempdir().unwrap();
    fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {BASE}\nRUN printf 'Get:1 10%%\\rGet:1 55%%\\rGet:1 100%%\\n\\033[1;31mred\\033[0m\\n'; \
             printf '%0300d\\n' 7; sleep 2; exit 1\n"
        ),
    )
    .unwrap();
    let (status, screens) = on_pty_watch(builder(&s, &["--progress=tty"], ctx.path()), 40, 100);
    assert!(!status.success());
    let live = screens
        .iter()
        .find(|sc| sc.lines().any(|l| l == "    red") && sc.contains("\n    0000"))
        .unwrap_or_else(|| panic!("the tail never showed `red`:\n{}", screens.last().unwrap()));
    let rows: Vec<&str> = live.lines().collect();
    let at = rows.iter().position(|l| *l == "    red").unwrap();
    assert_eq!(rows[at - 1], "    Get:1 100%", "{live}");
    assert!(rows[at - 2].contains("RUN printf"), "{live}");
    // The 301-character line is cut to the width, nothing wraps below it.
    assert!(
        rows[at + 1].starts_with("    0000") && rows[at + 1].len() < 100,
        "{live}"
    );
    assert!(
        !rows.get(at + 2).is_some_and(|l| l.starts_with('0')),
        "{live}"
    );
    for sc in &screens {
        assert!(!sc.lines().any(|l| l.starts_with("    Get:1 10%")), "{sc}");
        assert!(!sc.contains("\u{1b}"), "{sc}");
    }
    let last = screens.last().unwrap();
    assert!(last.contains("=> ERROR [2/2] RUN printf"), "{last}");
    assert!(last.contains("failed: 1 steps run"), "{last}");
}
