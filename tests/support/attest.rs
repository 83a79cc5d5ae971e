//! Shared setup of the attestation tests (`tests/attestations*.rs`): a
//! store and docker config per test ([`World`]), the recorded BuildKit
//! structure, JSON helpers, OCI archive reading and the SPDX validator
//! (`pyspdxtools` of PyPI's `spdx-tools`, in `target/spdx-venv`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use base64::Engine as _;

use super::{run, run_ok, Registry, PASS, USER};

/// OCI image index media type.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest media type.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// `PATH` for imported base images.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `tests/attestations/buildkit-0.13-structure.json`: what BuildKit 0.13 writes.
pub fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/attestations/buildkit-0.13-structure.json");
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

/// A test's store (`store/`), docker config (`docker/`) and contexts.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        World {
            dir: tempfile::Builder::new()
                .prefix("attest-")
                .tempdir()
                .unwrap(),
        }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn builder(&self) -> Command {
        super::builder(&self.path("store"), &self.path("docker"))
    }
    /// Imports the busybox rootfs as `name` (SOURCE_DATE_EPOCH 0).
    pub fn import(&self, name: &str, rootfs: &Path) {
        run_ok(
            self.builder()
                .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
                .args(["-t", name])
                .arg(rootfs),
        );
    }
    /// A world with `base:1`, the busybox rootfs (imported by
    /// [`World::import`]).
    pub fn with_base() -> World {
        let w = World::new();
        w.import("base:1", &super::busybox_rootfs("attest-busybox-rootfs"));
        w
    }
    /// A world with `base:1` (the busybox rootfs) and the context `ctx`
    /// whose Dockerfile copies `a.txt` (`a\n`) onto it: the image the
    /// output tests attest. Returns the world and the context directory.
    pub fn with_copy_context() -> (World, PathBuf) {
        let w = World::with_base();
        let ctx = w.context(
            "ctx",
            "FROM base:1\nCOPY a.txt /a.txt\n",
            &[("a.txt", "a\n")],
        );
        (w, ctx)
    }
    pub fn context(&self, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> PathBuf {
        let ctx = self.path(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        for (p, c) in files {
            fs::write(ctx.join(p), c).unwrap();
        }
        ctx
    }
}

pub fn basic() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"))
}

/// GET from the registry with credentials; returns the body.
pub fn get(reg: &Registry, path: &str) -> Vec<u8> {
    let auth = format!("Basic {}", basic());
    let accept = format!("{INDEX}, {MANIFEST}");
    let (status, _, body) = super::http(
        &reg.addr,
        "GET",
        path,
        &[("Authorization", &auth), ("Accept", &accept)],
        b"",
    )
    .unwrap();
    assert_eq!(
        status,
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&body)
    );
    body
}

pub fn json(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap()
}

pub fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

pub fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The SPDX validator, installed by `scripts/install-deps.sh` if missing.
pub fn pyspdxtools() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/spdx-venv/bin/pyspdxtools");
    if !p.exists() {
        run_ok(
            Command::new("bash")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-deps.sh")),
        );
    }
    p
}

/// Runs the SPDX validator on `doc` (written to `file` in the world).
pub fn validate_spdx(w: &World, doc: &Value, file: &str) {
    let spdx = w.path(file);
    fs::write(&spdx, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let o = run(Command::new(pyspdxtools()).arg("-i").arg(&spdx));
    assert!(
        o.status.success(),
        "pyspdxtools {file}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The purls of an SPDX document's packages.
pub fn purls(doc: &Value) -> Vec<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .map(str::to_string)
        .collect()
}

/// The regular files of a tar archive under 4 MiB, by path.
pub fn tar_files(tar: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut a = tar::Archive::new(fs::File::open(tar).unwrap());
    let mut files = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().to_string();
        if p.len() < 200 && !p.ends_with('/') {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut b).unwrap();
            if b.len() < 4 << 20 {
                files.insert(p, b);
            }
        }
    }
    files
}

/// Every attestation blob (index, manifest, config, statements) reachable
/// from the index at `repo:tag`, by digest.
pub fn attestation_blobs(reg: &Registry, repo: &str, tag: &str) -> Vec<(String, Vec<u8>)> {
    let index_bytes = get(reg, &format!("/v2/{repo}/manifests/{tag}"));
    let index = json(&index_bytes);
    let mut out = vec![("index".to_string(), index_bytes)];
    for m in index["manifests"].as_array().unwrap() {
        let d = m["digest"].as_str().unwrap();
        let mb = get(reg, &format!("/v2/{repo}/manifests/{d}"));
        let mj = json(&mb);
        out.push((d.to_string(), mb));
        let cd = mj["config"]["digest"].as_str().unwrap();
        out.push((cd.to_string(), get(reg, &format!("/v2/{repo}/blobs/{cd}"))));
        if m["platform"]["os"] == "unknown" {
            for l in mj["layers"].as_array().unwrap() {
                let ld = l["digest"].as_str().unwrap();
                out.push((ld.to_string(), get(reg, &format!("/v2/{repo}/blobs/{ld}"))));
            }
        }
    }
    out
}

/// An rpm database (SQLite, as rpm 4.16+ writes it) at `db` holding one
/// package, `hello-attest-1:1.2.3-4.noarch`, built with `rpmbuild` in `work`.
pub fn rpm_db(work: &Path, db: &Path) {
    rpm_db_of(work, db, &[("hello-attest", "1.2.3", "4", Some(1), "t")]);
}

/// An rpm database (SQLite) at `db` holding one noarch package per
/// `(name, version, release, epoch, description)`, each built with
/// `rpmbuild` in `work` (vendor `Builder Tests`).
pub fn rpm_db_of(work: &Path, db: &Path, pkgs: &[(&str, &str, &str, Option<u32>, &str)]) {
    fs::create_dir_all(work).unwrap();
    fs::create_dir_all(db).unwrap();
    let dbpath = db.canonicalize().unwrap();
    run_ok(
        Command::new("rpm")
            .arg("--initdb")
            .arg("--dbpath")
            .arg(&dbpath),
    );
    for (name, version, release, epoch, description) in pkgs {
        let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
        let spec = work.join(format!("{name}.spec"));
        fs::write(
            &spec,
            format!(
                "Name: {name}\nVersion: {version}\nRelease: {release}\n{epoch}Summary: t\n\
                 License: MIT\nVendor: Builder Tests\nBuildArch: noarch\n%description\n\
                 {description}\n%files\n"
            ),
        )
        .unwrap();
        run_ok(
            Command::new("rpmbuild")
                .args(["-bb", "--define"])
                .arg(format!("_topdir {}", work.join("top").display()))
                .arg(&spec),
        );
        run_ok(
            Command::new("rpm")
                .args(["-i", "--justdb", "--nodeps", "--dbpath"])
                .arg(&dbpath)
                .arg(work.join(format!(
                    "top/RPMS/noarch/{name}-{version}-{release}.noarch.rpm"
                ))),
        );
    }
    for junk in [".rpm.lock", "rpmdb.sqlite-shm", "rpmdb.sqlite-wal"] {
        let _ = fs::remove_file(db.join(junk));
    }
}
