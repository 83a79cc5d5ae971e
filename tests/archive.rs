//! Layer compression in archives: `builder save --compression …` and
//! `builder build --output type=oci|docker,…,compression=…`, checked blob by
//! blob (media type, magic bytes, digest, decompressed digest = diff_id) and
//! read back by skopeo (`oci-archive:`, `docker-archive:`).
//!
//! Needs root (builds mount overlays) and the Debian packages
//! docker-registry, busybox-static and skopeo (installed by `tests/support`
//! on first use). The base image is the support busybox image, pushed to a
//! local registry and pulled, so its layer is a registry gzip blob; the
//! built layer is stored uncompressed.

mod support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{digest, make_base_image, run, run_ok, Auth, Registry};

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// A store with the pulled base image and one built image `arch:v1`
/// (base layer + a COPY of a compressible file).
struct World {
    dir: tempfile::TempDir,
    _reg: Registry,
    ctx: PathBuf,
}

impl World {
    fn new() -> World {
        let reg = Registry::start(Auth::Plain);
        let base = make_base_image(0);
        let src = format!("{}/library/busybox:latest", reg.addr);
        base.push("amd64", &src, false, None);
        let dir = tempfile::Builder::new()
            .prefix("archive-")
            .tempdir()
            .unwrap();
        let ctx = dir.path().join("ctx");
        fs::create_dir_all(&ctx).unwrap();
        fs::write(
            ctx.join("Dockerfile"),
            format!("FROM {src}\nCOPY data.txt /data.txt\n"),
        )
        .unwrap();
        // Compressible but not trivial, so gzip levels 1 and 9 differ.
        let text: String = (0..60_000u32)
            .map(|i| format!("line {i} value {}\n", (i * 7919) % 1013))
            .collect();
        fs::write(ctx.join("data.txt"), text).unwrap();
        let w = World {
            dir,
            _reg: reg,
            ctx,
        };
        run_ok(w.builder().args(["pull", &src]));
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn root(&self) -> PathBuf {
        self.path("store")
    }

    fn builder(&self) -> Command {
        support::builder(&self.root(), &self.path("docker"))
    }

    /// `builder build -t arch:v1 ARGS CTX`; returns the image ID.
    fn build(&self, args: &[&str]) -> String {
        let iid = self.path("iid");
        run_ok(
            self.builder()
                .args(["build", "--progress", "plain", "-t", "arch:v1", "--iidfile"])
                .arg(&iid)
                .args(args)
                .arg(&self.ctx),
        );
        fs::read_to_string(iid).unwrap().trim().to_string()
    }

    /// `builder save --format FORMAT -o FILE ARGS arch:v1`.
    fn save(&self, file: &Path, format: &str, args: &[&str]) {
        run_ok(
            self.builder()
                .args(["save", "--format", format, "-o"])
                .arg(file)
                .args(args)
                .arg("arch:v1"),
        );
    }
}

/// What one layer of an unpacked OCI archive holds.
struct Layer {
    media_type: String,
    size: u64,
}

/// Unpacks the OCI archive `file` and checks every layer blob: the blob's
/// bytes match its digest and size, its magic bytes match its media type,
/// and its decompressed digest is the config's diff_id. Returns the config
/// digest and the layers.
fn check_archive(file: &Path, scratch: &Path) -> (String, Vec<Layer>) {
    let _ = fs::remove_dir_all(scratch);
    fs::create_dir_all(scratch).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(file)
            .arg("-C")
            .arg(scratch),
    );
    let blob = |d: &str| -> Vec<u8> {
        let hex = d.strip_prefix("sha256:").unwrap_or_else(|| panic!("{d}"));
        let b = fs::read(scratch.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(digest(&b), d, "blob {d} does not match its digest");
        b
    };
    let json = |d: &str| -> Value { serde_json::from_slice(&blob(d)).unwrap() };
    let index: Value =
        serde_json::from_slice(&fs::read(scratch.join("index.json")).unwrap()).unwrap();
    let manifest = json(index["manifests"][0]["digest"].as_str().unwrap());
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    let config = json(&config_digest);
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), diff_ids.len(), "{manifest}");
    let mut out = Vec::new();
    for (l, diff_id) in layers.iter().zip(diff_ids) {
        let mt = l["mediaType"].as_str().unwrap().to_string();
        let bytes = blob(l["digest"].as_str().unwrap());
        assert_eq!(l["size"].as_u64(), Some(bytes.len() as u64), "{l}");
        let plain = match mt.as_str() {
            GZIP => {
                assert_eq!(&bytes[..2], &[0x1f, 0x8b], "{mt} without gzip magic");
                let mut v = Vec::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut v)
                    .unwrap();
                v
            }
            ZSTD => {
                assert_eq!(
                    &bytes[..4],
                    &[0x28, 0xb5, 0x2f, 0xfd],
                    "{mt} without zstd magic"
                );
                zstd::decode_all(&bytes[..]).unwrap()
            }
            TAR => bytes,
            other => panic!("unexpected layer media type {other}"),
        };
        assert_eq!(&plain[257..262], b"ustar", "{mt}: not a tar inside");
        assert_eq!(digest(&plain), diff_id.as_str().unwrap(), "{mt}: diff_id");
        out.push(Layer {
            media_type: mt,
            size: l["size"].as_u64().unwrap(),
        });
    }
    (config_digest, out)
}

/// skopeo reads the archive and copies it to a `dir:` (verifying digests).
fn skopeo_accepts(transport: &str, file: &Path, dest: &Path) {
    let _ = fs::remove_dir_all(dest);
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q"])
            .arg(format!("{transport}:{}", file.display()))
            .arg(format!("dir:{}", dest.display())),
    );
    assert!(dest.join("manifest.json").is_file());
}

/// `save --compression X` writes every layer (the pulled gzip one too) in
/// X, with the right media type; the image ID does not change; by default
/// layers are written as stored.
#[test]
fn save_compresses_every_layer() {
    let w = World::new();
    let id = w.build(&[]);
    for (args, want) in [
        (&["--compression", "gzip"][..], [GZIP, GZIP]),
        (&["--compression", "zstd"][..], [ZSTD, ZSTD]),
        (&["--compression", "uncompressed"][..], [TAR, TAR]),
        // The default keeps layers as stored: the built one uncompressed
        // (as docker save), the pulled one as its registry blob.
        (&[][..], [GZIP, TAR]),
    ] {
        let f = w.path("saved.tar");
        w.save(&f, "oci", args);
        let (config, layers) = check_archive(&f, &w.path("unpacked"));
        assert_eq!(config, id, "{args:?}: the image ID changed");
        let mts: Vec<&str> = layers.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(mts, want, "{args:?}");
        skopeo_accepts("oci-archive", &f, &w.path("skopeo-dir"));
    }
    // docker-archive with compressed layers: skopeo decompresses them.
    for algo in ["zstd", "gzip", "uncompressed"] {
        let f = w.path("docker.tar");
        w.save(&f, "docker", &["--compression", algo]);
        let (config, layers) = check_archive(&f, &w.path("unpacked"));
        assert_eq!(config, id);
        assert!(layers.iter().all(|l| l.media_type
            == match algo {
                "zstd" => ZSTD,
                "gzip" => GZIP,
                _ => TAR,
            }));
        let oci = w.path("skopeo-oci");
        let _ = fs::remove_dir_all(&oci);
        run_ok(
            Command::new("skopeo")
                .args(["copy", "-q"])
                .arg(format!("docker-archive:{}", f.display()))
                .arg(format!("oci:{}:t", oci.display())),
        );
        let cfg: Value = serde_json::from_str(&run_ok(
            Command::new("skopeo")
                .args(["inspect", "--config"])
                .arg(format!("oci:{}:t", oci.display())),
        ))
        .unwrap();
        assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    }
    // Bad choices are errors, not silent defaults.
    let o = run(w
        .builder()
        .args(["save", "--compression", "lz4", "-o"])
        .arg(w.path("x.tar"))
        .arg("arch:v1"));
    assert!(!o.status.success());
    let o = run(w
        .builder()
        .args([
            "save",
            "--compression",
            "gzip",
            "--compression-level",
            "12",
            "-o",
        ])
        .arg(w.path("x.tar"))
        .arg("arch:v1"));
    assert!(!o.status.success());
    let o = run(w
        .builder()
        .args(["save", "--compression-level", "1", "-o"])
        .arg(w.path("x.tar"))
        .arg("arch:v1"));
    assert!(!o.status.success());
    assert!(!w.path("x.tar").exists());
}

/// The level matters (gzip 1 vs 9 on a compressible layer), and a variant
/// is made once: a second save reuses the remembered blob.
#[test]
fn levels_differ_and_variants_are_made_once() {
    let w = World::new();
    w.build(&[]);
    let size = |level: &str| -> u64 {
        let f = w.path(&format!("gz{level}.tar"));
        w.save(
            &f,
            "oci",
            &["--compression", "gzip", "--compression-level", level],
        );
        let (_, layers) = check_archive(&f, &w.path("unpacked"));
        layers[1].size
    };
    let (fast, best) = (size("1"), size("9"));
    assert!(fast > best, "gzip -1 gave {fast} bytes, -9 {best}");

    let memo_dir = w.root().join("cache/compressed");
    let memos = || -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = fs::read_dir(&memo_dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().ino(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let f = w.path("z1.tar");
    w.save(&f, "oci", &["--compression", "zstd"]);
    let first = memos();
    let zstd: Vec<_> = first
        .iter()
        .filter(|(n, _)| n.ends_with(".zstd-3"))
        .collect();
    assert_eq!(zstd.len(), 2, "one zstd variant per layer: {first:?}");
    let blobs_before = fs::read_dir(w.root().join("blobs/sha256")).unwrap().count();
    let f2 = w.path("z2.tar");
    w.save(
        &f2,
        "oci",
        &["--compression", "zstd", "--compression-level", "3"],
    );
    assert_eq!(memos(), first, "the zstd variants were made again");
    assert_eq!(
        fs::read_dir(w.root().join("blobs/sha256")).unwrap().count(),
        blobs_before
    );
    assert_eq!(fs::read(&f).unwrap(), fs::read(&f2).unwrap());
}

/// `build --output type=oci|docker` compresses with gzip by default (as
/// BuildKit), honours `compression=`/`compression-level=` and the build's
/// `--compression`, and keeps the pulled layer's blob unless
/// `force-compression=true`.
#[test]
fn build_outputs_honour_compression() {
    let w = World::new();
    let f = w.path("out.tar");
    let out = |attrs: &str| format!("type=oci,dest={}{attrs}", f.display());
    let cases: [(Vec<String>, [&str; 2]); 6] = [
        (vec!["--output".into(), out("")], [GZIP, GZIP]),
        (
            vec!["--output".into(), out(",compression=zstd")],
            [GZIP, ZSTD],
        ),
        (
            vec![
                "--output".into(),
                out(",compression=zstd,force-compression=true"),
            ],
            [ZSTD, ZSTD],
        ),
        (
            vec!["--output".into(), out(",compression=uncompressed")],
            [GZIP, TAR],
        ),
        (
            vec![
                "--compression".into(),
                "uncompressed".into(),
                "--output".into(),
                out(",force-compression=true"),
            ],
            [TAR, TAR],
        ),
        (
            vec![
                "--compression".into(),
                "zstd".into(),
                "--output".into(),
                out(",compression=gzip,compression-level=1"),
            ],
            [GZIP, GZIP],
        ),
    ];
    let mut id = None;
    for (args, want) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got_id = w.build(&args);
        let (config, layers) = check_archive(&f, &w.path("unpacked"));
        assert_eq!(config, got_id);
        assert_eq!(
            *id.get_or_insert(got_id.clone()),
            got_id,
            "image ID changed"
        );
        let mts: Vec<&str> = layers.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(mts, want, "{args:?}");
        skopeo_accepts("oci-archive", &f, &w.path("skopeo-dir"));
    }
    // docker-archive output, zstd forced on every layer: skopeo reads it.
    let d = w.path("out-docker.tar");
    w.build(&[
        "--output",
        &format!(
            "type=docker,dest={},name=arch:v1,compression=zstd,force-compression=true",
            d.display()
        ),
    ]);
    let (_, layers) = check_archive(&d, &w.path("unpacked"));
    assert!(layers.iter().all(|l| l.media_type == ZSTD));
    let oci = w.path("skopeo-oci");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q"])
            .arg(format!("docker-archive:{}", d.display()))
            .arg(format!("oci:{}:t", oci.display())),
    );
    // A bad attribute fails the build's output with a message.
    let o = run(w
        .builder()
        .args(["build", "--progress", "plain", "--output"])
        .arg(out(",compression=brotli"))
        .arg(&w.ctx));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("brotli"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
