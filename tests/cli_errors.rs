//! Errors a new user meets, through the real `builder build`: a `COPY --from` typo of a stage
//! name, a base image the registry does not have, an unreachable registry. Each is one error
//! at the Dockerfile line, with the registry's own answer. Needs docker-registry.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use support::{run, Auth, Registry};

fn build(dir: &std::path::Path, dockerfile: &str) -> (Output, Duration) {
    let ctx: PathBuf = dir.join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    fs::write(ctx.join("a"), "a").unwrap();
    let t = Instant::now();
    let o = run(support::builder(&dir.join("store"), &dir.join("docker"))
        .args(["build", "--progress", "plain"])
        .arg(&ctx));
    (o, t.elapsed())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn copy_from_a_misspelt_stage_names_the_stage_and_the_image_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (o, _) = build(
        dir.path(),
        "FROM scratch AS build\nCOPY a /a\nFROM scratch\nCOPY --from=biuld /a /a\n",
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("error: Dockerfile:4:1: COPY failed: no stage is named biuld (did you mean build?), and as an image it failed: pulling docker.io/library/biuld:latest"),
        "{err}"
    );
    assert!(err.contains("4 | COPY --from=biuld /a /a"), "{err}");
}

#[test]
fn a_missing_base_image_fails_at_from_with_the_registry_reply() {
    let reg = Registry::start(Auth::Plain);
    let dir = tempfile::tempdir().unwrap();
    let (o, _) = build(
        dir.path(),
        &format!("FROM {}/missing:1\nRUN true\n", reg.addr),
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains(&format!(
            "error: Dockerfile:1:1: FROM failed: pulling {}/missing:1: not found (HTTP 404",
            reg.addr
        )),
        "{err}"
    );
    assert!(err.contains("MANIFEST_UNKNOWN manifest unknown"), "{err}");
    assert!(!err.contains("pulling pulling"), "{err}");
}

#[test]
fn an_unreachable_registry_fails_at_once_without_retries() {
    let port = support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let (o, took) = build(
        dir.path(),
        &format!("FROM 127.0.0.1:{port}/base\nRUN true\n"),
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(took < Duration::from_secs(2), "took {took:?}: {err}");
    assert!(!err.contains("retrying"), "{err}");
    assert!(
        err.contains(&format!(
            "error: Dockerfile:1:1: FROM failed: pulling 127.0.0.1:{port}/base:latest: cannot talk to http://127.0.0.1:{port}/v2/: unreachable: Connection refused"
        )),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

#[test]
fn a_missing_base_image_behind_a_mirror_gives_both_replies() {
    let (origin, mirror) = (Registry::start(Auth::Plain), Registry::start(Auth::Plain));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("registries.toml");
    fs::write(
        &cfg,
        format!(
            "[registry.\"{}\"]\nmirrors = [\"http://{}\"]\n",
            origin.addr, mirror.addr
        ),
    )
    .unwrap();
    let ctx = dir.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {}/missing:1\n", origin.addr),
    )
    .unwrap();
    let o = run(
        support::builder(&dir.path().join("store"), &dir.path().join("docker"))
            .args(["build", "--progress", "plain", "--registry-config"])
            .arg(&cfg)
            .arg(&ctx),
    );
    let err = stderr(&o);
    let last = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        last.starts_with("error: Dockerfile:1:1: FROM failed: "),
        "{err}"
    );
    for host in [&origin.addr, &mirror.addr] {
        assert!(
            last.contains(&format!(
                "HTTP 404 from http://{host}/v2/missing/manifests/1"
            )),
            "{host} not in {last}"
        );
    }
}
