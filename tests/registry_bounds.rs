//! Registry replies are bounded in size and time (issue 18, item 3),
//! against a small hostile HTTP server started here: a manifest without
//! Content-Length that never ends is cut at the 8 MiB limit (memory stays
//! low, the error names the limit); a registry that stalls after the
//! headers or before them fails after the idle timeout
//! (`BUILDER_REGISTRY_IDLE_TIMEOUT`, 2 s here), saying so, instead of
//! waiting minutes and retrying for longer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
enum Mode {
    EndlessManifest,
    StallAfterHeaders,
    StallBeforeHeaders,
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
                }
            });
        }
    });
    port
}

/// Pulls from a hostile server; returns (stderr, seconds, max RSS in KiB).
fn pull(mode: Mode) -> (String, f64, u64, u16) {
    let port = serve(mode);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("registries.toml");
    std::fs::write(
        &cfg,
        format!("[registry.\"127.0.0.1:{port}\"]\ninsecure = true\n"),
    )
    .unwrap();
    let rss = dir.path().join("rss");
    let started = Instant::now();
    let o = Command::new("/usr/bin/time")
        .arg("-o")
        .arg(&rss)
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_builder"))
        .args(["pull", "--root"])
        .arg(dir.path().join("store"))
        .arg("--registry-config")
        .arg(&cfg)
        .arg(format!("127.0.0.1:{port}/hostile/app:1"))
        .env("BUILDER_REGISTRY_IDLE_TIMEOUT", "2")
        .env("DOCKER_CONFIG", dir.path())
        .output()
        .expect("running /usr/bin/time (Debian package time)");
    let secs = started.elapsed().as_secs_f64();
    assert!(!o.status.success(), "the pull succeeded");
    let kib = std::fs::read_to_string(&rss)
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (
        String::from_utf8_lossy(&o.stderr).into_owned(),
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
