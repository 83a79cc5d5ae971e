//! Layer stacks of any shape (issue: "the same layer twice", "deep chains"): two steps with
//! byte-identical layers share one snapshot dir, which overlayfs refuses to see twice in one
//! mount, and long chains overflow `mount(2)`'s one-page option string. Every overlay the
//! project mounts must take them: RUN, COPY, WORKDIR, the read-only views of `COPY --from` and
//! `RUN --mount=from=`, `--output type=local` and `builder run`. Docker 26.1 / BuildKit 0.13
//! builds all of these (parity cases 62–74); its overlay2 driver puts a new layer or mount on at
//! most 128 layers, so an image may hold 129 but nothing runs on it ("max depth exceeded",
//! cases 119–123), and so must builder, naming the step.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::world::{World, PATH_ENV};
use support::{run, run_ok, run_ok_all, Auth, Registry};

impl World {
    /// `builder build` with `extra` flags; returns stdout+stderr, asserting success.
    fn build_ok(&self, extra: &[&str], ctx: &Path) -> String {
        run_ok_all(
            self.builder()
                .args(["build", "--progress", "plain", "--source-date-epoch", "0"])
                .args(extra)
                .arg(ctx),
        )
    }

    /// `builder build` expected to fail; returns stderr.
    fn build_err(&self, extra: &[&str], ctx: &Path) -> String {
        let o = run(self
            .builder()
            .args(["build", "--progress", "plain"])
            .args(extra)
            .arg(ctx));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!o.status.success(), "the build should fail:\n{err}");
        err
    }

    /// The image config of `tag` from `builder inspect`.
    fn config(&self, tag: &str) -> Value {
        let out = run_ok(self.builder().args(["inspect", tag]));
        serde_json::from_str(&out).unwrap()
    }

    /// `builder run --rm IMAGE sh -c SCRIPT`, stdout.
    fn run_in(&self, image: &str, script: &str) -> String {
        run_ok(
            self.builder()
                .args(["run", "--rm", image, "sh", "-c", script]),
        )
    }
}

fn diff_ids(config: &Value) -> Vec<String> {
    let c = config.get("Config").filter(|c| c.get("rootfs").is_some());
    let cfg = c.unwrap_or(config);
    cfg["rootfs"]["diff_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no rootfs.diff_ids in {config}"))
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

/// Docker builds it: three no-op RUNs give identical (empty) layers, the same COPY twice, two
/// COPYs of globs matching nothing, two WORKDIRs on an existing dir; a RUN over them still sees
/// the base, and so do `COPY --from`, `RUN --mount=from=`, `--output type=local` and
/// `builder run` reading the stage.
#[test]
fn identical_layers_in_a_row() {
    let w = World::with_busybox("stacks-");
    let ctx = w.context(
        "ctx",
        "FROM busybox AS same\nRUN echo one\nRUN echo two\nRUN echo three\n\
         COPY a.txt /same/\nCOPY a.txt /same/\nRUN test -f /same/a.txt && ls /bin/sh\n\
         COPY nothing*.txt /x/\nCOPY nothing*.txt /x/\nWORKDIR /tmp\nWORKDIR /tmp\n\
         RUN ls /bin/sh > /seen\n\
         FROM busybox\nCOPY --from=same /same /copied/\n\
         RUN --mount=type=bind,from=same,target=/m cat /m/seen /m/same/a.txt > /mounted\n",
        &[("a.txt", "a\n"), ("b.txt", "b\n")],
    );
    w.build_ok(&["-t", "same", "--target", "same"], &ctx);
    let ids = diff_ids(&w.config("same"));
    let repeated = ids.iter().enumerate().any(|(i, d)| ids[..i].contains(d));
    assert!(
        repeated,
        "the case must really stack identical layers: {ids:?}"
    );
    assert_eq!(
        w.run_in("same", "cat /seen; cat /same/a.txt"),
        "/bin/sh\na\n"
    );

    w.build_ok(&["-t", "reader"], &ctx);
    assert_eq!(
        w.run_in("reader", "cat /copied/a.txt /mounted"),
        "a\n/bin/sh\na\n"
    );
    let out = w.path("out");
    w.build_ok(
        &[
            "--target",
            "same",
            "--output",
            &format!("type=local,dest={}", out.display()),
        ],
        &ctx,
    );
    assert_eq!(fs::read_to_string(out.join("seen")).unwrap(), "/bin/sh\n");
    assert!(out.join("bin/busybox").is_file());
}

/// 60 RUNs then a COPY, 100 single-file COPYs: both overflow a one-page option string with
/// store paths; Docker builds both.
#[test]
fn deep_chains_of_runs_and_copies() {
    let w = World::with_busybox("stacks-");
    let mut df = String::from("FROM busybox\n");
    for i in 0..60 {
        df.push_str(&format!("RUN echo {i} > /r{i}\n"));
    }
    df.push_str("COPY a.txt /after-runs\n");
    for i in 0..60 {
        df.push_str(&format!("COPY a.txt /c{i}\n"));
    }
    df.push_str("RUN ls / | grep -c '^[rc][0-9]' > /count\n");
    let ctx = w.context("ctx", &df, &[("a.txt", "a\n")]);
    w.build_ok(&["-t", "deep"], &ctx);
    assert_eq!(diff_ids(&w.config("deep")).len(), 1 + 60 + 1 + 60 + 1);
    assert_eq!(w.run_in("deep", "cat /count /after-runs"), "120\na\n");
}

/// A Dockerfile with a 128-layer stage `deep` (the deepest Docker still reads) read every way an
/// overlay is mounted: COPY --from (file and directory), RUN --mount=from=, --output
/// type=local and builder run.
#[test]
fn a_128_layer_chain_is_read_through_every_overlay() {
    let w = World::with_busybox("stacks-");
    let mut df = String::from("FROM busybox AS deep\n");
    // 1 base layer + 127 steps = 128 layers; half of them identical.
    for i in 0..62 {
        df.push_str(&format!("RUN mkdir -p /d && echo {i} > /d/f{i}\n"));
        if i < 61 {
            df.push_str("RUN true\n");
        }
    }
    df.push_str("RUN true\nRUN true\nRUN true\nCOPY a.txt /d/last\n");
    df.push_str(
        "FROM busybox\nCOPY --from=deep /d/f61 /one\nCOPY --from=deep /d /all/\n\
         RUN --mount=type=bind,from=deep,source=/d,target=/m ls /m | wc -l > /mounted\n",
    );
    let ctx = w.context("ctx", &df, &[("a.txt", "a\n")]);
    w.build_ok(&["-t", "deep", "--target", "deep"], &ctx);
    assert_eq!(diff_ids(&w.config("deep")).len(), 128);
    assert_eq!(w.run_in("deep", "cat /d/f0 /d/f61 /d/last"), "0\n61\na\n");

    w.build_ok(&["-t", "reader"], &ctx);
    assert_eq!(
        w.run_in("reader", "cat /one; ls /all | wc -l; cat /mounted"),
        "61\n63\n63\n"
    );

    let out = w.path("out");
    w.build_ok(
        &[
            "--target",
            "deep",
            "--output",
            &format!("type=local,dest={}", out.display()),
        ],
        &ctx,
    );
    assert_eq!(fs::read_to_string(out.join("d/f30")).unwrap(), "30\n");
    assert!(out.join("bin/busybox").is_file());
}

/// 129 layers build; a step on them is Docker's "max depth exceeded", and so is reading the
/// 129-layer stage with COPY --from: builder says so at the step.
#[test]
fn a_step_on_129_layers_is_max_depth_exceeded_at_the_step() {
    let w = World::with_busybox("stacks-");
    let mut df = String::from("FROM busybox AS deep\n");
    for i in 0..128 {
        df.push_str(&format!("COPY a.txt /f{i}\n"));
    }
    let ctx = w.context("ctx", &df, &[("a.txt", "a\n")]);
    w.build_ok(&["-t", "d129"], &ctx);
    assert_eq!(diff_ids(&w.config("d129")).len(), 129);
    let ctx = w.context(
        "run",
        format!("{df}RUN ls / > /list\n"),
        &[("a.txt", "a\n")],
    );
    let err = w.build_err(&["-t", "d130"], &ctx);
    assert!(err.contains("max depth exceeded"), "{err}");
    // Line 130 holds the RUN that would be layer 130.
    assert!(err.contains("Dockerfile:130"), "{err}");

    let ctx = w.context(
        "from",
        format!("{df}FROM busybox\nCOPY --from=deep /f1 /f1\n"),
        &[("a.txt", "a\n")],
    );
    let err = w.build_err(&["-t", "reads-129"], &ctx);
    assert!(err.contains("max depth exceeded"), "{err}");
    assert!(err.contains("Dockerfile:131"), "{err}");
}

/// A layer tar holding one file `name` with `content`.
fn file_layer(name: &str, content: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_path(name).unwrap();
    h.set_mode(0o644);
    h.set_size(content.len() as u64);
    h.set_mtime(0);
    h.set_cksum();
    b.append(&h, content.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

/// Writes an amd64 image of `layers` (uncompressed tars, bottom first; repeats allowed, as the
/// classic builder's images have) as an OCI layout and pushes it to `dest` with skopeo.
fn push_stacked_image(layers: &[Vec<u8>], dest: &str) {
    let layout = tempfile::tempdir().unwrap();
    let p = layout.path();
    fs::create_dir_all(p.join("blobs/sha256")).unwrap();
    fs::write(p.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |bytes: &[u8]| {
        let d = support::digest(bytes);
        fs::write(p.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
        (d, bytes.len())
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for (i, tar) in layers.iter().enumerate() {
        diff_ids.push(support::digest(tar));
        let (d, n) = put(&support::gzip(tar));
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n}));
        history
            .push(json!({"created": "1970-01-01T00:00:00Z", "created_by": format!("layer {i}")}));
    }
    let cfg = json!({
        "created": "1970-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let (cd, cn) = put(cfg.to_string().as_bytes());
    let m = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
        "layers": descs,
    });
    let (md, mn) = put(m.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    fs::write(p.join("index.json"), index.to_string()).unwrap();
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", p.display()))
            .arg(format!("docker://{dest}")),
    );
}

/// Base images from a registry: one whose diff_ids repeat, one with 100 layers. Both build
/// with RUN and COPY on top (Docker builds both), and the 100-layer one takes 29 more layers,
/// not 30.
#[test]
fn base_images_with_repeated_and_many_layers() {
    let reg = Registry::start(Auth::Plain);
    let w = World::with_busybox("stacks-");
    let regcfg = w.path("registries.toml");
    fs::write(
        &regcfg,
        format!("[registry.\"{}\"]\ninsecure = true\n", reg.addr),
    )
    .unwrap();
    let regcfg = regcfg.to_str().unwrap().to_string();
    let busybox = support::busybox_layer_tar();

    let marker = file_layer("etc/marker", "m\n");
    let repeated = format!("{}/stacks/repeated:latest", reg.addr);
    push_stacked_image(
        &[
            busybox.clone(),
            marker.clone(),
            marker.clone(),
            file_layer("x", "x\n"),
            marker,
        ],
        &repeated,
    );
    let ctx = w.context(
        "rep",
        format!(
            "FROM {repeated}\nRUN cat /etc/marker /x > /seen\nCOPY a.txt /a\nRUN cat /a >> /seen\n"
        ),
        &[("a.txt", "a\n")],
    );
    w.build_ok(&["--registry-config", &regcfg, "-t", "on-repeated"], &ctx);
    let ids = diff_ids(&w.config("on-repeated"));
    assert_eq!(ids.len(), 8);
    assert_eq!(ids[1], ids[2], "the base's repeated diff_ids are kept");
    assert_eq!(w.run_in("on-repeated", "cat /seen"), "m\nx\na\n");

    let mut layers = vec![busybox];
    for i in 1..100 {
        layers.push(file_layer(&format!("l/{i}"), &format!("{i}\n")));
    }
    let hundred = format!("{}/stacks/hundred:latest", reg.addr);
    push_stacked_image(&layers, &hundred);
    let mut df = format!("FROM {hundred}\n");
    for i in 0..28 {
        df.push_str(&format!("COPY a.txt /c{i}\n"));
    }
    df.push_str("RUN ls /l | wc -l > /count\n");
    let ctx = w.context("hundred", &df, &[("a.txt", "a\n")]);
    w.build_ok(&["--registry-config", &regcfg, "-t", "on-hundred"], &ctx);
    assert_eq!(diff_ids(&w.config("on-hundred")).len(), 129);
    assert_eq!(
        w.run_in("on-hundred", "cat /count /l/1 /l/99"),
        "99\n1\n99\n"
    );

    let ctx = w.context("over", format!("{df}RUN true\n"), &[("a.txt", "a\n")]);
    let err = w.build_err(&["--registry-config", &regcfg, "-t", "over"], &ctx);
    assert!(err.contains("max depth exceeded"), "{err}");
    assert!(err.contains("Dockerfile:31"), "{err}");
}
