//! Built layers uploaded while they are compressed (`registry::push_stream`,
//! `registry::client::blob`) in the registry deployments that change that
//! path, against a real `docker-registry`: a front end refusing chunked
//! PATCH uploads (the push falls back to the monolithic upload and lands the
//! same digests), upload `Location`s that are relative, and ones on another
//! host (the upload goes there without the registry's credentials); and the
//! byte progress a streamed layer reports (`--progress=json`). Run as root.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;

use serde_json::Value;
use support::*;

/// What these tests do with an [`Env`].
trait Client {
    fn build(&self, ctx: &Path, tag: &str);
    fn push(&self, src: &str, dest: &str) -> String;
}

impl Client for Env {
    /// Builds `ctx` as `tag` (a plain layer, compressed on push).
    fn build(&self, ctx: &Path, tag: &str) {
        run_ok(self.cmd().args(["build", "-q", "-t", tag]).arg(ctx));
    }

    /// Pushes `src` to `dest`; returns the manifest digest.
    fn push(&self, src: &str, dest: &str) -> String {
        let o = run(self.cmd().args(["push", src, dest]));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "push to {dest}: {err}");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

/// A context of `FROM scratch` and one COPY of ~2 MB, text and noise: one
/// built layer (streamed) and a config (uploaded from its file).
fn context() -> tempfile::TempDir {
    let ctx = tempfile::tempdir().unwrap();
    fs::write(ctx.path().join("f.bin"), text_and_noise(50_000, 1_000_000)).unwrap();
    fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY f.bin /f.bin\n",
    )
    .unwrap();
    ctx
}

/// The raw manifest (or config, `what` = "--config") of `reference`.
fn inspect(reference: &str, what: &str, creds: Option<&str>) -> Value {
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--raw", "--tls-verify=false"]);
    if what == "--config" {
        c.arg("--config");
    }
    if let Some(cr) = creds {
        c.args(["--creds", cr]);
    }
    let raw = run_ok(c.arg(format!("docker://{reference}")));
    serde_json::from_str(&raw).unwrap()
}

/// Asserts the registry (basic auth) serves `reference` with manifest `digest`.
fn assert_landed(reference: &str, digest: &str) {
    let creds = format!("{USER}:{PASS}");
    assert_eq!(skopeo_digest(reference, Some(&creds)), digest);
}

/// A client with `testuser`'s credentials for `host` and the
/// [`context`] built as `local/s:1`.
fn logged_in_with_image(host: &str) -> Env {
    let c = Env::new();
    write_docker_config(c.home.path(), host, USER, PASS);
    c.build(context().path(), "local/s:1");
    c
}

#[test]
fn a_refused_chunked_upload_falls_back_to_the_same_digests() {
    let reg = Registry::start(Auth::Plain);
    let ctx = context();
    let a = Env::new();
    a.build(ctx.path(), "local/s:1");
    let front = Proxy::start(&reg.addr, ProxyMode::RefusePatch);
    let via_front = a.push("local/s:1", &format!("{}/fb/a:1", front.addr));
    assert!(
        front.injected.load(Ordering::SeqCst) >= 1,
        "the streamed upload was not tried"
    );
    assert_eq!(
        skopeo_digest(&format!("{}/fb/a:1", reg.addr), None),
        via_front
    );
    // Pushed again, straight to the registry: the same manifest.
    assert_eq!(
        a.push("local/s:1", &format!("{}/fb/b:1", reg.addr)),
        via_front
    );
    // A fresh store streams the layer (no refusal): the same layer digests.
    let b = Env::new();
    b.build(ctx.path(), "local/s:1");
    b.push("local/s:1", &format!("{}/st/a:1", reg.addr));
    let layers = |r: &str| inspect(&format!("{}/{r}", reg.addr), "", None)["layers"].clone();
    assert_eq!(layers("fb/a:1"), layers("st/a:1"));
    // What the fallback uploaded is whole.
    let c = Env::new();
    run_ok(c.cmd().args(["pull", &format!("{}/fb/a:1", reg.addr)]));
    verify_store(c.root.path());
}

#[test]
fn relative_upload_locations_are_followed() {
    let reg = Registry::start_relative_urls(Auth::Htpasswd);
    let auth = [(
        "Authorization",
        "Basic dGVzdHVzZXI6dGVzdHBhc3M=", // testuser:testpass
    )];
    let (status, hdrs, _) =
        http(&reg.addr, "POST", "/v2/rel/a/blobs/uploads/", &auth, b"").unwrap();
    let loc = hdrs.iter().find(|(k, _)| k == "location").map(|h| &h.1);
    assert!(
        status == 202 && loc.is_some_and(|l| l.starts_with("/v2/")),
        "the registry answers with a relative Location: {status} {loc:?}"
    );
    let a = logged_in_with_image(&reg.addr);
    // The layer streamed, the config uploaded from its file: both follow
    // the relative Locations, with credentials (the same host).
    let d = a.push("local/s:1", &format!("{}/rel/a:1", reg.addr));
    assert_landed(&format!("{}/rel/a:1", reg.addr), &d);
    // A second repository: the blobs are uploaded from the store files.
    assert_eq!(a.push("local/s:1", &format!("{}/rel/b:1", reg.addr)), d);
}

#[test]
fn uploads_sent_to_another_host_go_without_credentials() {
    let reg = Registry::start(Auth::Htpasswd);
    // The storage host the Locations name: it signs what it forwards.
    let storage = Proxy::start(&reg.addr, ProxyMode::Sign);
    // The registry's front end: the registry sees the storage host's name,
    // so its absolute upload Locations send the client there.
    let front = Proxy::start(&reg.addr, ProxyMode::Rehost(storage.addr.clone()));
    let a = logged_in_with_image(&front.addr);
    let d = a.push("local/s:1", &format!("{}/x/a:1", front.addr));
    assert_landed(&format!("{}/x/a:1", reg.addr), &d);
    assert!(
        front.authorized.load(Ordering::SeqCst) > 0,
        "the front end got the credentials"
    );
    // The layer streamed there (PATCH, then PUT), the config uploaded
    // there from its file (PUT).
    let methods = storage.methods.lock().unwrap().clone();
    let count = |m: &str| methods.iter().filter(|x| *x == m).count();
    assert!(count("PATCH") == 1 && count("PUT") >= 2, "{methods:?}");
    assert_eq!(
        storage.authorized.load(Ordering::SeqCst),
        0,
        "credentials were sent to the storage host"
    );
}

#[test]
fn a_streamed_layer_reports_its_bytes() {
    let reg = Registry::start(Auth::Plain);
    let ctx = context();
    let a = Env::new();
    let dest = format!("{}/prog/a:1", reg.addr);
    let o = run(a
        .cmd()
        .args([
            "build",
            "--progress=json",
            "--provenance=false",
            "--push",
            "-t",
            &dest,
        ])
        .arg(ctx.path()));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    let layer = inspect(&dest, "", None)["layers"][0].clone();
    let diff_id = inspect(&dest, "--config", None)["rootfs"]["diff_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let events: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "progress" && v["id"] == diff_id.as_str())
        .collect();
    // Named by the plain layer (its compressed digest is not known while
    // it is sent), ended by one done event: every compressed byte counted.
    let last = events
        .last()
        .unwrap_or_else(|| panic!("no progress of {diff_id}:\n{err}"));
    assert_eq!(last["done"], true, "{err}");
    assert_eq!(last["total"], layer["size"], "{err}");
    assert_eq!(last["current"], layer["size"], "{err}");
    assert_eq!(
        events.iter().filter(|e| e["done"] == true).count(),
        1,
        "{err}"
    );
}
