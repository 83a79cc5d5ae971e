//! Multi-platform base images from Debian's packages: the busybox rootfs
//! of `scripts/mkrootfs-busybox.sh` made from `busybox-static` for amd64
//! (the host's), arm64 and armhf (`apt-get download busybox-static:ARCH`,
//! after `dpkg --add-architecture`, which scripts/install-deps.sh does),
//! packed one layer per platform and combined in an OCI image index.
//! Making the foreign rootfs runs the foreign busybox (`--list-full`), so
//! it needs the QEMU binfmt_misc registrations install-deps.sh sets up.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::{digest, gzip, run_ok};

/// The platforms of the multi-platform base: (Debian architecture, OCI
/// architecture, OCI variant, the layout ref and registry tag naming it).
/// arm64 carries variant v8 as Docker Hub's images do.
pub const PLATFORMS: &[(&str, &str, &str, &str)] = &[
    ("amd64", "amd64", "", "amd64"),
    ("arm64", "arm64", "v8", "arm64"),
    ("armhf", "arm", "v7", "armv7"),
];

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// busybox-static's binary for Debian architecture `deb_arch`: the host's
/// `/bin/busybox` for amd64, else the package's, downloaded and unpacked
/// once under the target's tmp dir.
pub fn busybox_binary(deb_arch: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    super::ensure_packages();
    if deb_arch == "amd64" {
        return PathBuf::from("/bin/busybox");
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("busybox-deb-{deb_arch}"));
    let bin = dir.join("root/bin/busybox");
    if bin.is_file() {
        return bin;
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let pkg = format!("busybox-static:{deb_arch}");
    let dl = super::run(
        Command::new("apt-get")
            .args(["download", "-q", &pkg])
            .current_dir(&dir),
    );
    assert!(
        dl.status.success(),
        "apt-get download {pkg} failed (run scripts/install-deps.sh: it adds the architecture): {}",
        String::from_utf8_lossy(&dl.stderr)
    );
    let deb = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("the downloaded .deb");
    run_ok(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(dir.join("root")),
    );
    assert!(bin.is_file(), "{} has no bin/busybox", deb.display());
    bin
}

/// The mkrootfs-busybox.sh rootfs for `deb_arch`, made once per process.
pub fn busybox_rootfs_for(deb_arch: &str) -> PathBuf {
    static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let bb = busybox_binary(deb_arch);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "busybox-rootfs-{deb_arch}-{}",
        env!("CARGO_CRATE_NAME")
    ));
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.iter().any(|n| n == deb_arch) {
        let _ = fs::remove_dir_all(&dir);
        run_ok(
            Command::new("bash")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkrootfs-busybox.sh"))
                .arg(&dir)
                .env("BUSYBOX", &bb),
        );
        made.push(deb_arch.to_string());
    }
    dir
}

/// A deterministic uncompressed tar of a rootfs (GNU tar, names sorted,
/// numeric owners; mkrootfs clamps every mtime to 0).
fn rootfs_tar(root: &Path) -> Vec<u8> {
    let mut top: Vec<String> = fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    let out = super::run(
        Command::new("tar")
            .arg("-C")
            .arg(root)
            .args(["--sort=name", "--numeric-owner", "--format=gnu", "-cf", "-"])
            .args(&top),
    );
    assert!(out.status.success(), "tar of {}", root.display());
    out.stdout
}

/// The multi-platform busybox base, as an OCI layout with refs `amd64`,
/// `arm64`, `armv7` (one manifest each) and `multi` (the index of the three).
pub struct MultiBase {
    /// The OCI layout.
    pub layout: tempfile::TempDir,
    /// (layout ref, manifest digest) per platform, in [`PLATFORMS`] order.
    pub manifests: Vec<(String, String)>,
    /// The index digest.
    pub index: String,
}

fn put_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let d = digest(bytes);
    fs::write(layout.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
    (d, bytes.len())
}

/// Builds the three images (Env PATH, Cmd `sh`, created at the epoch, as
/// the parity suite's `busybox:latest`) and their index.
pub fn make_multiarch_busybox() -> MultiBase {
    let layout = tempfile::tempdir().unwrap();
    let p = layout.path();
    fs::create_dir_all(p.join("blobs/sha256")).unwrap();
    fs::write(p.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut index_entries = Vec::new();
    let mut refs = Vec::new();
    let mut manifests = Vec::new();
    for (deb, arch, variant, name) in PLATFORMS {
        let tar = rootfs_tar(&busybox_rootfs_for(deb));
        let diff_id = digest(&tar);
        let (layer, layer_size) = put_blob(p, &gzip(&tar));
        let mut cfg = json!({
            "architecture": arch,
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": format!("busybox-static:{deb} rootfs (builder tests)")}],
        });
        let mut plat = json!({"architecture": arch, "os": "linux"});
        if !variant.is_empty() {
            cfg["variant"] = json!(variant);
            plat["variant"] = json!(variant);
        }
        let (cd, cn) = put_blob(p, cfg.to_string().as_bytes());
        let m = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}],
        });
        let (md, mn) = put_blob(p, m.to_string().as_bytes());
        index_entries.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn, "platform": plat}));
        refs.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": name}}));
        manifests.push((name.to_string(), md));
    }
    let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index_entries});
    let (id, in_) = put_blob(p, idx.to_string().as_bytes());
    refs.push(json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": id, "size": in_, "annotations": {"org.opencontainers.image.ref.name": "multi"}}));
    fs::write(
        p.join("index.json"),
        json!({"schemaVersion": 2, "manifests": refs}).to_string(),
    )
    .unwrap();
    MultiBase {
        layout,
        manifests,
        index: id,
    }
}

impl MultiBase {
    /// Pushes `REPO:multi` (the index, every platform) and one
    /// single-platform tag per platform (`REPO:amd64`, `REPO:arm64`,
    /// `REPO:armv7`) to `repo` (`host:port/name`), plain http, with skopeo.
    pub fn publish(&self, repo: &str) {
        let src = |r: &str| format!("oci:{}:{r}", self.layout.path().display());
        run_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            &src("multi"),
            &format!("docker://{repo}:multi"),
        ]));
        for (name, _) in &self.manifests {
            run_ok(Command::new("skopeo").args([
                "copy",
                "-q",
                "--dest-tls-verify=false",
                &src(name),
                &format!("docker://{repo}:{name}"),
            ]));
        }
    }

    /// The image config of one platform's ref, as stored in the layout.
    pub fn config(&self, name: &str) -> Value {
        let (_, md) = self.manifests.iter().find(|(n, _)| n == name).unwrap();
        let blob =
            |d: &str| fs::read(self.layout.path().join("blobs/sha256").join(&d[7..])).unwrap();
        let m: Value = serde_json::from_slice(&blob(md)).unwrap();
        serde_json::from_slice(&blob(m["config"]["digest"].as_str().unwrap())).unwrap()
    }
}
