//! Registry replies are bounded in size and time (issue 18, item 3),
//! against a small hostile HTTP server started here: a manifest without
//! Content-Length that never ends is cut at the 8 MiB limit (memory stays
//! low, the error names the limit); a registry that stalls after the
//! headers or before them fails after the idle timeout
//! (`BUILDER_REGISTRY_IDLE_TIMEOUT`, 2 s here), saying so, instead of
//! waiting minutes and retrying for longer. Slow blobs show progress: in
//! plain mode a BuildKit-style byte line every 2 s for a blob trickled at
//! 200 kB/s, and for a blob that stalls halfway a line saying it waits for
//! the registry, with the seconds without data and the timeout to come.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

#[derive(Clone, Copy)]
enum Mode {
    EndlessManifest,
    StallAfterHeaders,
    StallBeforeHeaders,
    /// A valid image whose 1 MB layer comes at about 200 kB/s.
    TrickleBlob,
    /// A valid image whose 1 MB layer stops after 100 kB.
    StallInBlob,
}

/// The layer of the valid image: 1,000,000 zero bytes.
const LAYER_SIZE: usize = 1_000_000;

fn sha256(b: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(b))
}

/// The manifest of the valid image: config `{}` and one layer.
fn image_manifest() -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{LAYER_SIZE}}}]}}"#,
        sha256(b"{}"),
        sha256(&vec![0u8; LAYER_SIZE])
    )
}

/// Serves the valid image's manifest or its layer (trickled or stalled);
/// false for any other request.
fn serve_image(mode: Mode, req: &str, s: &mut TcpStream) -> bool {
    if req.contains("/manifests/") {
        let m = image_manifest();
        let _ = s.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{m}",
                m.len()
            )
            .as_bytes(),
        );
        return true;
    }
    if !req.contains(&sha256(&vec![0u8; LAYER_SIZE])) {
        return false;
    }
    let _ = s.write_all(
        format!("HTTP/1.1 200 OK\r\nContent-Length: {LAYER_SIZE}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    let chunk = [0u8; 10_000];
    for i in 0..LAYER_SIZE / chunk.len() {
        if matches!(mode, Mode::StallInBlob) && i == 10 {
            std::thread::sleep(Duration::from_secs(120));
        }
        if s.write_all(&chunk).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn read_request(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn serve(mode: Mode) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let req = read_request(&mut s);
                if matches!(mode, Mode::TrickleBlob | Mode::StallInBlob) {
                    // One request per connection, said so (else a pooled
                    // connection finds the socket closed and retries).
                    if !serve_image(mode, &req, &mut s) {
                        let _ = s.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\nDocker-Distribution-API-Version: registry/2.0\r\n\r\n{}",
                        );
                    }
                    return;
                }
                if !req.contains("/manifests/") {
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nDocker-Distribution-API-Version: registry/2.0\r\n\r\n{}",
                    );
                    return;
                }
                match mode {
                    Mode::EndlessManifest => {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n");
                        let chunk = vec![b' '; 64 << 10];
                        while s.write_all(&chunk).is_ok() {}
                    }
                    Mode::StallAfterHeaders => {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000\r\n\r\n{\"schemaVersion\":");
                        std::thread::sleep(Duration::from_secs(120));
                    }
                    Mode::StallBeforeHeaders => std::thread::sleep(Duration::from_secs(120)),
                    Mode::TrickleBlob | Mode::StallInBlob => unreachable!("served above"),
                }
            });
        }
    });
    port
}

/// Pulls from a hostile server, which must fail; returns (stderr, seconds,
/// max RSS in KiB, port).
fn pull(mode: Mode) -> (String, f64, u64, u16) {
    let (ok, err, secs, kib, port) = pull_result(mode, "2");
    assert!(!ok, "the pull succeeded");
    (err, secs, kib, port)
}

/// Pulls from the server in `mode` with an idle timeout of `idle` seconds:
/// (success, stderr, seconds, max RSS in KiB, port).
fn pull_result(mode: Mode, idle: &str) -> (bool, String, f64, u64, u16) {
    pull_on(mode, idle, false)
}

/// [`pull_result`], on a terminal when `tty` (a pty from util-linux's
/// `script`; the text is then all the terminal showed).
fn pull_on(mode: Mode, idle: &str, tty: bool) -> (bool, String, f64, u64, u16) {
    let port = serve(mode);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("registries.toml");
    std::fs::write(
        &cfg,
        format!("[registry.\"127.0.0.1:{port}\"]\ninsecure = true\n"),
    )
    .unwrap();
    let rss = dir.path().join("rss");
    let argv: Vec<String> = vec![
        "/usr/bin/time".into(),
        "-o".into(),
        rss.display().to_string(),
        "-f".into(),
        "%M".into(),
        env!("CARGO_BIN_EXE_builder").into(),
        "pull".into(),
        "--root".into(),
        dir.path().join("store").display().to_string(),
        "--registry-config".into(),
        cfg.display().to_string(),
        format!("127.0.0.1:{port}/hostile/app:1"),
    ];
    let mut cmd = if tty {
        let line: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
        let mut c = Command::new("script");
        c.args(["-qec", &line.join(" "), "/dev/null"]);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    let started = Instant::now();
    let o = cmd
        .env("BUILDER_REGISTRY_IDLE_TIMEOUT", idle)
        .env("DOCKER_CONFIG", dir.path())
        .env("TERM", "xterm")
        .output()
        .expect("running /usr/bin/time (Debian package time) or script (bsdutils)");
    let secs = started.elapsed().as_secs_f64();
    let kib = std::fs::read_to_string(&rss)
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (
        o.status.success(),
        String::from_utf8_lossy(if tty { &o.stdout } else { &o.stderr }).into_owned(),
        secs,
        kib,
        port,
    )
}

#[test]
fn an_endless_manifest_is_cut_at_the_limit() {
    let (err, secs, kib, _) = pull(Mode::EndlessManifest);
    assert!(err.contains("larger than 8 MiB"), "{err}");
    assert!(kib > 0 && kib < 150 * 1024, "max RSS {kib} KiB\n{err}");
    assert!(secs < 30.0, "{secs} s\n{err}");
    eprintln!("endless manifest: failed after {secs:.1} s, max RSS {kib} KiB");
}

#[test]
fn a_registry_stalling_after_the_headers_times_out() {
    let (err, secs, _, port) = pull(Mode::StallAfterHeaders);
    assert!(
        err.contains(&format!("timed out after 2 s waiting for 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(secs < 20.0, "{secs} s\n{err}");
    eprintln!("stall after headers: failed after {secs:.1} s");
}

#[test]
fn a_registry_stalling_before_the_headers_times_out() {
    let (err, secs, _, port) = pull(Mode::StallBeforeHeaders);
    assert!(
        err.contains(&format!("timed out after 2 s waiting for 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(secs < 20.0, "{secs} s\n{err}");
    eprintln!("stall before headers: failed after {secs:.1} s");
}

/// The byte lines of the layer in `err` (plain mode: stderr is a pipe).
fn layer_lines(err: &str) -> Vec<&str> {
    let layer = sha256(&vec![0u8; LAYER_SIZE]);
    err.lines()
        .filter(|l| l.starts_with("#1 ") && l.contains(&layer))
        .collect()
}

#[test]
fn a_slow_blob_shows_byte_lines_in_plain_mode() {
    let (ok, err, secs, _, _) = pull_result(Mode::TrickleBlob, "10");
    assert!(ok, "{err}");
    let lines = layer_lines(&err);
    eprintln!("slow blob, {secs:.1} s:\n{}", lines.join("\n"));
    // About 5 s at 200 kB/s: a line at 2 s, 4 s and the closing one.
    assert!(lines.len() >= 3, "{secs} s\n{err}");
    assert!(lines[0].contains(" / 1MB "), "{err}");
    assert!(lines.last().unwrap().ends_with(" done"), "{err}");
    assert!(lines.last().unwrap().contains("1MB / 1MB"), "{err}");
    // At most one line per 2 s per blob.
    assert!(lines.len() as f64 <= secs / 2.0 + 2.0, "{secs} s\n{err}");
    // The quick config blob gets none.
    let config_line = format!("#1 {}", sha256(b"{}"));
    assert!(!err.lines().any(|l| l.starts_with(&config_line)), "{err}");
}

#[test]
fn a_stalled_blob_says_what_it_waits_for() {
    let (ok, err, secs, _, port) = pull_result(Mode::StallInBlob, "5");
    assert!(!ok, "{err}");
    let waiting = format!("waiting for 127.0.0.1:{port}: ");
    let lines = layer_lines(&err);
    eprintln!("stalled blob, {secs:.1} s:\n{err}");
    assert!(
        lines.iter().any(|l| l.contains("100kB / 1MB")
            && l.contains(&waiting)
            && l.ends_with("s without data (times out after 5 s)")),
        "{err}"
    );
    assert!(
        err.contains(&format!("timed out after 5 s waiting for 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(secs < 40.0, "{secs} s\n{err}");
}

#[test]
fn a_slow_blob_shows_a_byte_bar_on_a_terminal() {
    let (ok, out, _, _, _) = pull_on(Mode::TrickleBlob, "10", true);
    assert!(ok, "{out}");
    // indicatif's bar: the short digest, then `{bytes}/{total_bytes}`.
    let short = &sha256(&vec![0u8; LAYER_SIZE])[..19];
    assert!(out.contains(short), "{out}");
    assert!(out.contains("/976.56 KiB"), "{out}");
    // No plain lines on a terminal.
    assert!(!out.contains(" / 1MB "), "{out}");
}
