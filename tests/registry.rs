//! Registry tests against a real `docker-registry` (distribution v2.8):
//! pull/push round trips, platforms, schema2, auth (basic and token),
//! mirrors, retries, skopeo reading the store and saved archives.
//! Run as root (packages are installed when missing):
//! `cargo test --test registry`.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::*;

#[test]
fn pull_push_round_trip_keeps_digests_and_mounts() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(0);
    let src = format!("{}/library/busybox:latest", reg.addr);
    img.push("amd64", &src, false, None);
    let env = Env::new();
    let out = env.ok(&["pull", &src]);
    assert_eq!(out.trim(), src);
    let info = env.inspect(&src);
    assert_eq!(info["Digest"], img.amd64.as_str());
    assert_eq!(info["Config"]["architecture"], "amd64");
    assert_eq!(
        env.index()["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        src.as_str()
    );
    verify_store(env.root.path());
    // Pulling again downloads nothing.
    let o = run(env.cmd().args(["pull", &src]));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("up to date"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Push to another repo on the same registry: blobs are mounted, digest unchanged.
    let dest = format!("{}/team/copy:v1", reg.addr);
    let dest2 = format!("{}/team/copy:v2", reg.addr);
    let o = run(env.cmd().args(["push", &src, &dest, &dest2]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), img.amd64);
    assert!(stderr.contains("2 mounted"), "{stderr}");
    assert_eq!(skopeo_digest(&dest, None), img.amd64);
    assert_eq!(skopeo_digest(&dest2, None), img.amd64);
    // Pushing again skips every blob.
    let o = run(env.cmd().args(["push", &src, &dest]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 already present"));

    // A fresh store pulls the copy with the same digest.
    let env2 = Env::new();
    env2.ok(&["pull", &dest]);
    assert_eq!(env2.inspect(&dest)["Digest"], img.amd64.as_str());
}

#[test]
fn index_platforms_schema2_and_format_conversion() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(0);
    let multi = format!("{}/library/busybox:multi", reg.addr);
    img.push("index", &multi, false, None);
    assert_eq!(skopeo_digest(&multi, None), img.index);
    let env = Env::new();
    env.ok(&["pull", "--platform", "linux/arm64", &multi]);
    let info = env.inspect(&multi);
    assert_eq!(info["Digest"], img.arm64.as_str());
    assert_eq!(info["Config"]["architecture"], "arm64");
    assert_eq!(env.index()["manifests"][0]["platform"]["variant"], "v8");
    env.ok(&["pull", "--platform", "linux/amd64", &multi]);
    assert_eq!(env.inspect(&multi)["Digest"], img.amd64.as_str());
    let err = env.fail(&["pull", "--platform", "linux/s390x", &multi]);
    assert!(
        err.contains("no image for platform linux/s390x") && err.contains("linux/arm64/v8"),
        "{err}"
    );
    // By index digest.
    let by_digest = format!("{}/library/busybox@{}", reg.addr, img.index);
    env.ok(&["pull", "--platform", "linux/amd64", &by_digest]);
    assert_eq!(env.inspect(&by_digest)["Digest"], img.amd64.as_str());

    // Docker schema2.
    let s2 = format!("{}/library/busybox:v2s2", reg.addr);
    img.push("amd64", &s2, true, None);
    env.ok(&["pull", &s2]);
    let info = env.inspect(&s2);
    assert_eq!(
        info["MediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let s2_digest = info["Digest"].as_str().unwrap().to_string();
    assert_eq!(skopeo_digest(&s2, None), s2_digest);
    // Convert to OCI on push; the layers stay, the manifest changes.
    let conv = format!("{}/conv/busybox:oci", reg.addr);
    let pushed = env.ok(&["push", "--format", "oci", &s2, &conv]);
    assert_ne!(pushed.trim(), s2_digest);
    let raw = run_ok(
        std::process::Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{conv}")),
    );
    let m: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(m["layers"][0]["digest"], img.layer.as_str());
    // And back to docker.
    let back = format!("{}/conv/busybox:docker", reg.addr);
    let pushed = env.ok(&["push", "--format", "docker", &multi, &back]);
    assert_eq!(skopeo_digest(&back, None), pushed.trim());
}

#[test]
fn skopeo_reads_the_store_and_saved_archives() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(100_000);
    let src = format!("{}/library/busybox:big", reg.addr);
    img.push("amd64", &src, false, None);
    let env = Env::new();
    env.ok(&["pull", &src]);
    let out = run_ok(
        std::process::Command::new("skopeo")
            .args(["inspect"])
            .arg(format!("oci:{}:{src}", env.root.path().display())),
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Digest"], img.amd64.as_str());
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2);
    // skopeo can copy out of the store too.
    let copy = format!("{}/fromstore/busybox:x", reg.addr);
    run_ok(
        std::process::Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:{src}", env.root.path().display()))
            .arg(format!("docker://{copy}")),
    );
    assert_eq!(skopeo_digest(&copy, None), img.amd64);

    env.ok(&["tag", &src, "myimage:1"]);
    let dir = tempfile::tempdir().unwrap();
    let oci = dir.path().join("img.oci.tar");
    let dock = dir.path().join("img.docker.tar");
    env.ok(&[
        "save",
        "-o",
        oci.to_str().unwrap(),
        "--format",
        "oci",
        "myimage:1",
    ]);
    env.ok(&[
        "save",
        "-o",
        dock.to_str().unwrap(),
        "--format",
        "docker",
        "myimage:1",
    ]);
    let o = run_ok(
        std::process::Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci-archive:{}", oci.display())),
    );
    let v: Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["Digest"], img.amd64.as_str());
    let o = run_ok(
        std::process::Command::new("skopeo")
            .arg("inspect")
            .arg(format!("docker-archive:{}", dock.display())),
    );
    let v: Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2);
    // The docker archive carries docker's manifest.json with RepoTags.
    let mut ar = tar::Archive::new(fs::File::open(&dock).unwrap());
    let mut found = false;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap() == Path::new("manifest.json") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            let m: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(m[0]["RepoTags"][0], "myimage:1");
            found = true;
        }
    }
    assert!(found);
    // Saving is deterministic.
    let again = dir.path().join("again.tar");
    env.ok(&[
        "save",
        "-o",
        again.to_str().unwrap(),
        "--format",
        "docker",
        "myimage:1",
    ]);
    assert_eq!(fs::read(&again).unwrap(), fs::read(&dock).unwrap());

    // images / rmi / prune.
    let list = env.ok(&["images"]);
    assert!(
        list.contains("myimage") && list.contains(&format!("{}/library/busybox", reg.addr)),
        "{list}"
    );
    env.ok(&["rmi", "myimage:1", &src]);
    let pr = env.ok(&["prune"]);
    assert!(pr.contains("Deleted 4 blobs"), "{pr}");
    assert_eq!(
        fs::read_dir(env.root.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn basic_auth_login_and_401() {
    let reg = Registry::start(Auth::Htpasswd);
    let img = make_base_image(0);
    let src = format!("{}/private/busybox:1", reg.addr);
    img.push("amd64", &src, false, Some(&format!("{USER}:{PASS}")));
    let env = Env::new();
    let err = env.fail(&["pull", &src]);
    assert!(err.contains("401") && err.contains(&src), "{err}");
    // Wrong password: login refuses and stores nothing.
    let o = run(env
        .cmd()
        .args(["login", "-u", USER, "--password-stdin", &reg.addr])
        .stdin_bytes(b"wrong\n"));
    assert!(!o.status.success());
    assert!(!env.home.path().join("config.json").exists());
    let o = run(env
        .cmd()
        .args(["login", "-u", USER, "--password-stdin", &reg.addr])
        .stdin_bytes(format!("{PASS}\n").as_bytes()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stderr).contains(PASS));
    let cfg = fs::read_to_string(env.home.path().join("config.json")).unwrap();
    assert!(cfg.contains(&reg.addr));
    env.ok(&["pull", &src]);
    assert_eq!(env.inspect(&src)["Digest"], img.amd64.as_str());
    env.ok(&["push", &src, &format!("{}/private/copy:1", reg.addr)]);
    env.ok(&["logout", &reg.addr]);
    let cfg: Value =
        serde_json::from_str(&fs::read_to_string(env.home.path().join("config.json")).unwrap())
            .unwrap();
    assert!(cfg["auths"].as_object().unwrap().is_empty());
    let err = env.fail(&["push", &src, &format!("{}/private/copy:2", reg.addr)]);
    assert!(err.contains("401"), "{err}");
}

#[test]
fn token_flow() {
    let reg = Registry::start(Auth::Token);
    let img = make_base_image(0);
    let src = format!("{}/tok/busybox:1", reg.addr);
    img.push("amd64", &src, false, Some(&format!("{USER}:{PASS}")));
    let env = Env::new();
    let err = env.fail(&["pull", &src]);
    assert!(
        err.contains("401") && err.contains(&src),
        "{err}\n{}",
        reg.log()
    );
    write_docker_config(env.home.path(), &reg.addr, USER, "bad");
    let err = env.fail(&["pull", &src]);
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains("bad"), "password leaked: {err}");
    write_docker_config(env.home.path(), &reg.addr, USER, PASS);
    let before = reg
        .token
        .as_ref()
        .unwrap()
        .requests
        .load(std::sync::atomic::Ordering::SeqCst);
    env.ok(&["pull", &src]);
    assert!(
        reg.token
            .as_ref()
            .unwrap()
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
            > before
    );
    // Cross-repo mount needs a token for both repositories.
    let o = run(env
        .cmd()
        .args(["push", &src, &format!("{}/tok/other:1", reg.addr)]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("2 mounted"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(env
        .cmd()
        .args(["login", "-u", USER, "--password-stdin", &reg.addr])
        .stdin_bytes(format!("{PASS}\n").as_bytes()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn docker_io_mirror_resolution() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(0);
    img.push(
        "amd64",
        &format!("{}/library/ubuntu:16.04", reg.addr),
        false,
        None,
    );
    let env = Env::new();
    let cfg = env.home.path().join("registries.toml");
    // A dead mirror first: it is skipped with a warning.
    let dead = free_port();
    fs::write(
        &cfg,
        format!(
            "[registry.\"docker.io\"]\nmirrors = [\"http://127.0.0.1:{dead}\", \"http://{}\"]\n",
            reg.addr
        ),
    )
    .unwrap();
    let o = run(env.cmd().args([
        "pull",
        "--registry-config",
        cfg.to_str().unwrap(),
        "ubuntu:16.04",
    ]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{dead}")), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "docker.io/library/ubuntu:16.04"
    );
    assert_eq!(env.inspect("ubuntu:16.04")["Digest"], img.amd64.as_str());
    // The config is also found in $XDG_CONFIG_HOME/builder/registries.toml.
    let xdg = tempfile::tempdir().unwrap();
    fs::create_dir_all(xdg.path().join("builder")).unwrap();
    fs::write(
        xdg.path().join("builder/registries.toml"),
        format!(
            "[registry.\"docker.io\"]\nmirrors = [\"http://{}\"]\n",
            reg.addr
        ),
    )
    .unwrap();
    let env2 = Env::new();
    run_ok(
        env2.cmd()
            .env("XDG_CONFIG_HOME", xdg.path())
            .args(["pull", "library/ubuntu:16.04"]),
    );
    // A missing tag on the mirror and an unreachable origin: the error names the image.
    let err = String::from_utf8_lossy(
        &run(env2
            .cmd()
            .env("XDG_CONFIG_HOME", xdg.path())
            .args(["pull", "ubuntu:nope"]))
        .stderr,
    )
    .to_string();
    assert!(err.contains("docker.io/library/ubuntu:nope"), "{err}");
}

#[test]
fn not_found_and_bad_references() {
    let reg = Registry::start(Auth::Plain);
    let env = Env::new();
    let err = env.fail(&["pull", &format!("{}/library/none:1", reg.addr)]);
    assert!(
        err.contains("not found") && err.contains("library/none:1"),
        "{err}"
    );
    let err = env.fail(&["pull", "Bad/Name"]);
    assert!(err.contains("lowercase"), "{err}");
    let err = env.fail(&["inspect", "nothing:here"]);
    assert!(err.contains("not found in the store"), "{err}");
}

#[test]
fn retries_on_503_and_dropped_connections_and_rejects_corrupt_blobs() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(50_000);
    let src = format!("{}/library/busybox:flaky", reg.addr);
    img.push("amd64", &src, false, None);
    for mode in [ProxyMode::Fail503Once, ProxyMode::DropOnce] {
        let proxy = Proxy::start(&reg.addr, mode.clone());
        let env = Env::new();
        let r = format!("{}/library/busybox:flaky", proxy.addr);
        let o = run(env.cmd().args(["pull", &r]));
        assert!(
            o.status.success(),
            "{mode:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            proxy.injected.load(std::sync::atomic::Ordering::SeqCst) >= 3,
            "{mode:?}: no failures injected"
        );
        assert_eq!(env.inspect(&r)["Digest"], img.amd64.as_str());
        verify_store(env.root.path());
    }
    let proxy = Proxy::start(&reg.addr, ProxyMode::CorruptBlobs);
    let env = Env::new();
    let err = env.fail(&["pull", &format!("{}/library/busybox:flaky", proxy.addr)]);
    assert!(err.contains("digest mismatch"), "{err}");
    assert_eq!(
        fs::read_dir(env.root.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        fs::read_dir(env.root.path().join("tmp")).unwrap().count(),
        0
    );
}

trait StdinBytes {
    fn stdin_bytes(&mut self, b: &[u8]) -> &mut Self;
}

impl StdinBytes for std::process::Command {
    /// Feeds `b` on stdin via a temp file (simple and deadlock-free).
    fn stdin_bytes(&mut self, b: &[u8]) -> &mut Self {
        let f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut &f, b).unwrap();
        std::io::Seek::seek(&mut &f, std::io::SeekFrom::Start(0)).unwrap();
        self.stdin(f)
    }
}

/// A CI job image without a CA bundle (`debian:bookworm` has none): plain http needs no roots,
/// so a pull from a local registry works; https falls back to bundled roots rather than
/// failing to build the HTTP client. `SSL_CERT_FILE`/`SSL_CERT_DIR` pointing at nothing is how
/// the system bundle is hidden here.
#[test]
fn pull_works_without_a_system_ca_bundle() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(0);
    let src = format!("{}/library/busybox:nocerts", reg.addr);
    img.push("amd64", &src, false, None);
    let env = Env::new();
    let empty = tempfile::tempdir().unwrap();
    let o = run(env
        .cmd()
        .env("SSL_CERT_FILE", empty.path().join("none.pem"))
        .env("SSL_CERT_DIR", empty.path())
        .args(["pull", &src]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "pull without roots failed: {err}");
    assert_eq!(env.inspect(&src)["Digest"], img.amd64.as_str());
    // https to a closed port: a connection error, never "building the HTTP client".
    let o = run(env
        .cmd()
        .env("SSL_CERT_FILE", empty.path().join("none.pem"))
        .env("SSL_CERT_DIR", empty.path())
        .args(["pull", "localhost:1/x:y"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(!err.contains("building the HTTP client"), "{err}");
}

/// A slow push shows BuildKit's byte lines in plain mode (stderr is not a
/// terminal): an image with a 1.5 MB random layer pushed through a proxy
/// that reads request bodies at 300 kB/s (each connection) takes about 5 s;
/// its layers get `#1 sha256:… SIZE / SIZE Ns` lines at most every 2 s,
/// each closed by a `done` line. Bytes count as sent when handed to the
/// connection, so over loopback a layer can show whole while the proxy
/// still reads it: then the line says it waits for the registry.
#[test]
fn a_slow_push_shows_byte_lines() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(1_500_000);
    let src = format!("{}/library/big:1", reg.addr);
    img.push("amd64", &src, false, None);
    let env = Env::new();
    env.ok(&["pull", &src]);
    let proxy = Proxy::start(&reg.addr, ProxyMode::ThrottleUpload(300_000));
    let dest = format!("{}/slow/big:1", proxy.addr);
    let started = std::time::Instant::now();
    let o = run(env.cmd().args(["push", &src, &dest]));
    let secs = started.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("#1 sha256:") && l.contains(" / "))
        .collect();
    eprintln!("slow push, {secs:.1} s:\n{}", lines.join("\n"));
    assert!(lines.len() >= 2, "{secs:.1} s\n{err}");
    let blobs: std::collections::BTreeSet<&str> = lines.iter().map(|l| &l[3..74]).collect();
    for blob in &blobs {
        let mine: Vec<&&str> = lines.iter().filter(|l| l.contains(blob)).collect();
        assert!(mine.last().unwrap().ends_with(" done"), "{err}");
        // At most one line per 2 s per blob, plus the closing one.
        assert!(mine.len() as f64 <= secs / 2.0 + 2.0, "{err}");
    }
    for l in &lines {
        let waiting = l.split_once(" waiting for ").map(|w| w.1);
        assert!(
            waiting.is_none_or(|w| w.starts_with(&format!("{}: ", proxy.addr))),
            "{l}"
        );
    }
    assert!(proxy.uploaded.load(std::sync::atomic::Ordering::SeqCst) > 1_400_000);
    assert_eq!(skopeo_digest(&dest, None), img.amd64);
}

/// A built image's plain layer is uploaded while it is compressed (POST,
/// one streamed PATCH, PUT with the digest). The manifest digest is the one
/// a later push of the remembered blob (a plain file upload) gives, and the
/// same from a fresh store; the registry holds exactly those bytes.
#[test]
fn built_layers_upload_while_compressed() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(0);
    let base = format!("{}/library/busybox:latest", reg.addr);
    img.push("amd64", &base, false, None);
    let ctx = tempfile::tempdir().unwrap();
    fs::write(ctx.path().join("f.bin"), text_and_noise(200_000, 1_500_000)).unwrap();
    fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {base}\nCOPY f.bin /f.bin\n"),
    )
    .unwrap();
    let c = ctx.path().to_str().unwrap();
    let push = |env: &Env, dest: &str| {
        let o = run(env.cmd().args(["push", "local/s:1", dest]));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{err}");
        assert!(err.contains("uploaded"), "{err}");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    // Streamed: the layer is made during the push.
    let env = Env::new();
    env.ok(&["build", "-q", "-t", "local/s:1", c]);
    let streamed = push(&env, &format!("{}/s/a:1", reg.addr));
    // From the remembered blob (made by the push above): same digest.
    assert_eq!(push(&env, &format!("{}/s/b:1", reg.addr)), streamed);
    for repo in ["s/a:1", "s/b:1"] {
        assert_eq!(
            skopeo_digest(&format!("{}/{repo}", reg.addr), None),
            streamed
        );
    }
    // A fresh store streams the same layer bytes (the config differs: its
    // creation time).
    let env2 = Env::new();
    env2.ok(&["build", "-q", "-t", "local/s:1", c]);
    push(&env2, &format!("{}/s/c:1", reg.addr));
    let layers = |r: &str| -> Value {
        let raw = run_ok(Command::new("skopeo").args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/{r}", reg.addr),
        ]));
        serde_json::from_str::<Value>(&raw).unwrap()["layers"].clone()
    };
    assert_eq!(layers("s/c:1"), layers("s/a:1"));
    // The registry's layer decompresses to a tar holding the file.
    let env3 = Env::new();
    env3.ok(&["pull", &format!("{}/s/c:1", reg.addr)]);
    verify_store(env3.root.path());
}
