//! Build attestations (`--provenance`, `--sbom`, `--attest`) end to end:
//! real builds, a real registry (`tests/support`, with htpasswd auth so
//! credentials exist to leak), and the attestation structure BuildKit 0.13
//! writes, recorded in `tests/attestations/buildkit-0.13-structure.json`
//! (see its README). The SBOM of a Debian image is validated with the SPDX
//! project's validator (`pyspdxtools` of PyPI's `spdx-tools`, installed by
//! `scripts/install-deps.sh` into `target/spdx-venv`).
//!
//! Needs root, docker-registry, apache2-utils and the busybox-static
//! package (`scripts/install-deps.sh`); the Debian test also debootstrap.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::attest::{
    attestation_blobs, basic, fixture, get, json, keys, purls, strs, tar_files, validate_spdx,
    World, INDEX, MANIFEST, PATH_ENV,
};
use support::{run, run_ok, Auth, Registry, PASS, USER};

const SECRET: &str = "s3cr3t-attest-VALUE-4242";

/// The busybox base, pushed to `reg` as `busybox:1` from a store of its
/// own, so the build pulls it (provenance names the registry's digest).
fn base(w: &World, reg: &Registry) -> String {
    let name = format!("{}/busybox:1", reg.addr);
    let publisher = support::builder(&w.path("publisher"), &w.path("docker"));
    run_ok(
        Command::new(publisher.get_program())
            .envs(publisher.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .args([
                "import",
                "--source-date-epoch",
                "0",
                "--env",
                PATH_ENV,
                "-t",
                &name,
            ])
            .arg(support::busybox_rootfs("attest-busybox-rootfs")),
    );
    run_ok(
        Command::new(publisher.get_program())
            .envs(publisher.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .args(["push", &name]),
    );
    name
}

/// Checks `index` and its attestation manifest `att` against BuildKit's
/// structure; returns the statements' blobs' digests.
fn check_structure(index: &Value, att: &Value, config: &Value) {
    let f = fixture();
    assert_eq!(index["mediaType"], f["index"]["mediaType"]);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{index}");
    assert_eq!(keys(&entries[0]), strs(&f["index"]["image_entry_keys"]));
    let fa = &f["index"]["attestation_entry"];
    assert_eq!(entries[1]["mediaType"], fa["mediaType"]);
    assert_eq!(entries[1]["platform"]["os"], fa["platform"]["os"]);
    assert_eq!(
        entries[1]["platform"]["architecture"],
        fa["platform"]["architecture"]
    );
    assert_eq!(
        keys(&entries[1]["annotations"]),
        strs(&fa["annotation_keys"])
    );
    assert_eq!(
        entries[1]["annotations"]["vnd.docker.reference.type"],
        fa["reference_type"]
    );
    assert_eq!(
        entries[1]["annotations"]["vnd.docker.reference.digest"], entries[0]["digest"],
        "the attestation manifest names the image manifest"
    );
    let fm = &f["attestation_manifest"];
    assert_eq!(keys(att), strs(&fm["keys"]));
    assert_eq!(att["config"]["mediaType"], fm["config_mediaType"]);
    assert_eq!(keys(config), strs(&fm["config_keys"]));
    assert_eq!(config["os"], "unknown");
    for l in att["layers"].as_array().unwrap() {
        assert_eq!(l["mediaType"], fm["layer_mediaType"]);
        assert_eq!(keys(&l["annotations"]), strs(&fm["layer_annotation_keys"]));
    }
    assert_eq!(
        config["rootfs"]["diff_ids"].as_array().unwrap().len(),
        att["layers"].as_array().unwrap().len()
    );
}

#[test]
fn push_has_min_provenance_by_default_with_no_secret_or_credential() {
    let reg = Registry::start(Auth::Htpasswd);
    let w = World::new();
    support::write_docker_config(&w.path("docker"), &reg.addr, USER, PASS);
    let base = base(&w, &reg);
    fs::write(w.path("secret.txt"), SECRET).unwrap();
    let ctx = w.context(
        "ctx",
        &format!(
            "FROM {base}\nARG VERSION\n\
             RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo $VERSION > /v\n\
             COPY a.txt /a.txt\n"
        ),
        &[("a.txt", "a\n")],
    );
    let tag = format!("{}/app:1", reg.addr);
    run_ok(
        w.builder()
            .args(["build", "--push", "-t", &tag, "--build-arg", "VERSION=1.2"])
            .arg("--secret")
            .arg(format!("id=tok,src={}", w.path("secret.txt").display()))
            .arg(&ctx),
    );
    let blobs = attestation_blobs(&reg, "app", "1");
    let index = json(&blobs[0].1);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries[0]["platform"]["os"], "linux");
    let att_digest = entries[1]["digest"].as_str().unwrap();
    let att = json(&blobs.iter().find(|(d, _)| d == att_digest).unwrap().1);
    let cfg_digest = att["config"]["digest"].as_str().unwrap();
    let config = json(&blobs.iter().find(|(d, _)| d == cfg_digest).unwrap().1);
    check_structure(&index, &att, &config);
    // One statement: provenance, mode=min.
    let layers = att["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let f = fixture();
    let ld = layers[0]["digest"].as_str().unwrap();
    let stmt = json(&blobs.iter().find(|(d, _)| d == ld).unwrap().1);
    assert_eq!(keys(&stmt), strs(&f["statement_keys"]));
    assert_eq!(stmt["_type"], f["statement_type"]);
    assert_eq!(stmt["predicateType"], f["provenance"]["predicateType"]);
    let image_hex = entries[0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    assert_eq!(stmt["subject"][0]["digest"]["sha256"], image_hex);
    assert_eq!(keys(&stmt["subject"][0]), strs(&f["subject_keys"]));
    assert!(
        stmt["subject"][0]["name"]
            .as_str()
            .unwrap()
            .starts_with("pkg:docker/"),
        "{stmt}"
    );
    let p = &stmt["predicate"];
    assert_eq!(keys(p), strs(&f["provenance"]["min_keys"]));
    assert_eq!(p["buildType"], f["provenance"]["buildType"]);
    assert_eq!(
        keys(&p["invocation"]),
        strs(&f["provenance"]["invocation_keys"])
    );
    let params = &p["invocation"]["parameters"];
    assert_eq!(params["frontend"], "dockerfile.v0");
    assert_eq!(params["args"]["build-arg:VERSION"], "1.2");
    assert_eq!(params["secrets"][0]["id"], "tok");
    assert_eq!(p["invocation"]["configSource"]["entryPoint"], "Dockerfile");
    assert_eq!(
        keys(&p["metadata"]),
        strs(&f["provenance"]["metadata_keys"])
    );
    assert_eq!(
        keys(&p["metadata"]["completeness"]),
        strs(&f["provenance"]["completeness_keys"])
    );
    // The base image as a material, by the digest it has in the registry.
    let base_digest = String::from_utf8(
        support::http(
            &reg.addr,
            "HEAD",
            "/v2/busybox/manifests/1",
            &[
                ("Authorization", &format!("Basic {}", basic())),
                ("Accept", &format!("{INDEX}, {MANIFEST}")),
            ],
            b"",
        )
        .unwrap()
        .1
        .iter()
        .find(|(k, _)| k == "docker-content-digest")
        .unwrap()
        .1
        .clone()
        .into_bytes(),
    )
    .unwrap();
    let m = &p["materials"][0];
    assert_eq!(keys(m), strs(&f["provenance"]["material_keys"]));
    assert!(m["uri"].as_str().unwrap().contains("busybox@1"), "{m}");
    assert_eq!(
        format!("sha256:{}", m["digest"]["sha256"].as_str().unwrap()),
        base_digest
    );
    // No secret value, password or auth string anywhere.
    for (d, b) in &blobs {
        let text = String::from_utf8_lossy(b);
        for bad in [SECRET, PASS, &basic()] {
            assert!(!text.contains(bad), "{d} contains {bad:?}");
        }
    }
    // The store keeps the index too, and `builder inspect` shows it.
    let out: Value = serde_json::from_str(&run_ok(w.builder().args(["inspect", &tag]))).unwrap();
    assert_eq!(out["MediaType"], INDEX);
    assert_eq!(
        out["Attestations"][0]["Statements"][0]["predicateType"],
        f["provenance"]["predicateType"]
    );
    // The image still runs from the store (its index entry is picked), and
    // pulled from the registry into another store.
    run_ok(w.builder().args(["run", &tag, "cat", "/a.txt"]));
    let other = World::new();
    support::write_docker_config(&other.path("docker"), &reg.addr, USER, PASS);
    run_ok(other.builder().args(["pull", &tag]));
    let out = run_ok(other.builder().args(["run", &tag, "cat", "/a.txt"]));
    assert_eq!(out, "a\n");
}

#[test]
fn provenance_false_pushes_a_plain_manifest() {
    let reg = Registry::start(Auth::Htpasswd);
    let w = World::new();
    support::write_docker_config(&w.path("docker"), &reg.addr, USER, PASS);
    let base = base(&w, &reg);
    let ctx = w.context(
        "ctx",
        &format!("FROM {base}\nCOPY a.txt /\n"),
        &[("a.txt", "a")],
    );
    let tag = format!("{}/plain:1", reg.addr);
    run_ok(
        w.builder()
            .args(["build", "--push", "--provenance=false", "-t", &tag])
            .arg(&ctx),
    );
    let m = json(&get(&reg, "/v2/plain/manifests/1"));
    assert_eq!(m["mediaType"], MANIFEST, "{m}");
    assert!(m.get("manifests").is_none());
    // A registry output gets provenance by default, as --push does.
    let out = format!("{}/viaoutput:1", reg.addr);
    run_ok(
        w.builder()
            .args(["build", "--output"])
            .arg(format!("type=registry,name={out}"))
            .arg(&ctx),
    );
    let index = json(&get(&reg, "/v2/viaoutput/manifests/1"));
    assert_eq!(index["mediaType"], INDEX, "{index}");
    assert_eq!(
        index["manifests"][1]["annotations"]["vnd.docker.reference.digest"],
        index["manifests"][0]["digest"]
    );
    // Registry outputs with --provenance=false (cli/output.rs push_plain): a
    // plain manifest, and for two platforms an index of the two images only.
    let scratch = w.context("scratch", "FROM scratch\nCOPY a.txt /\n", &[("a.txt", "a")]);
    for (platforms, repo, want) in [
        ("linux/amd64", "plainout", MANIFEST),
        ("linux/amd64,linux/arm64", "plainmulti", INDEX),
    ] {
        run_ok(
            w.builder()
                .args([
                    "build",
                    "--provenance=false",
                    "--platform",
                    platforms,
                    "--output",
                ])
                .arg(format!("type=registry,name={}/{repo}:1", reg.addr))
                .arg(&scratch),
        );
        let m = json(&get(&reg, &format!("/v2/{repo}/manifests/1")));
        assert_eq!(m["mediaType"], want, "{m}");
        if want == INDEX {
            let platforms: Vec<&str> = m["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["platform"]["architecture"].as_str().unwrap())
                .collect();
            assert_eq!(platforms, ["amd64", "arm64"], "{m}");
        }
    }
}

#[test]
fn bad_attestation_flags_fail_before_the_build() {
    let w = World::new();
    let ctx = w.context("ctx", "FROM scratch\nCOPY a /\n", &[("a", "a")]);
    for flags in [
        vec!["--provenance=mode=huge"],
        vec!["--sbom=colour=red"],
        vec!["--attest", "type=vex"],
        vec!["--attest", "mode=max"],
    ] {
        let o = run(w.builder().arg("build").args(&flags).arg(&ctx));
        assert!(!o.status.success(), "{flags:?} was accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(
                flags
                    .last()
                    .unwrap()
                    .trim_start_matches("--provenance=")
                    .split('=')
                    .next()
                    .unwrap()
            ) || err.contains("--attest"),
            "{flags:?}: {err}"
        );
        assert!(
            !w.path("store/index.json").exists(),
            "work was done for {flags:?}"
        );
    }
}

#[test]
fn source_date_epoch_makes_attestations_reproducible() {
    let reg = Registry::start(Auth::Htpasswd);
    let w = World::new();
    support::write_docker_config(&w.path("docker"), &reg.addr, USER, PASS);
    let base = base(&w, &reg);
    let ctx = w.context(
        "ctx",
        &format!("FROM {base}\nRUN echo hi > /hi\nCOPY a.txt /\n"),
        &[("a.txt", "a")],
    );
    let tag = format!("{}/repro:1", reg.addr);
    let mut digests = Vec::new();
    for i in 0..2 {
        let meta = w.path(&format!("meta{i}.json"));
        run_ok(
            w.builder()
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args(["build", "--push", "--no-cache", "--sbom=true"])
                .args(["--provenance=mode=max", "-t", &tag, "--metadata-file"])
                .arg(&meta)
                .arg(&ctx),
        );
        let m = json(&fs::read(&meta).unwrap());
        digests.push(m["containerimage.digest"].as_str().unwrap().to_string());
        // Sleep past a second so a wall-clock timestamp would differ.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(digests[0], digests[1]);
    let index = json(&get(&reg, &format!("/v2/repro/manifests/{}", digests[0])));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}

/// `scripts/mkbase-debian.sh`'s rootfs (shared with the other Debian tests).
fn debian_rootfs() -> PathBuf {
    let rootfs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian-rootfs");
    run_ok(
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkbase-debian.sh"))
            .arg(&rootfs),
    );
    rootfs
}

#[test]
fn sbom_of_a_debian_image_lists_dpkg_and_lockfile_packages_and_validates() {
    let w = World::new();
    w.import("debian:bookworm", &debian_rootfs());
    let ctx = w.context(
        "ctx",
        "FROM debian:bookworm\nCOPY package-lock.json Cargo.lock requirements.txt /app/\n",
        &[
            (
                "package-lock.json",
                r#"{"lockfileVersion":3,"packages":{"":{},"node_modules/left-pad":{"version":"1.3.0"}}}"#,
            ),
            (
                "Cargo.lock",
                "version = 3\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\n",
            ),
            ("requirements.txt", "requests==2.31.0\n"),
        ],
    );
    let tar = w.path("out.tar");
    run_ok(
        w.builder()
            .args(["build", "--sbom=true", "--provenance=false", "-t", "sbom:1"])
            .arg("--output")
            .arg(format!("type=oci,dest={},name=sbom:1", tar.display()))
            .arg(&ctx),
    );
    // The store's index has the SBOM; `builder inspect` shows it.
    let out: Value =
        serde_json::from_str(&run_ok(w.builder().args(["inspect", "sbom:1"]))).unwrap();
    let stmt = &out["Attestations"][0]["Statements"][0];
    let f = fixture();
    assert_eq!(stmt["predicateType"], f["sbom"]["predicateType"]);
    let doc = &stmt["predicate"];
    assert_eq!(doc["spdxVersion"], f["sbom"]["spdxVersion"]);
    assert_eq!(keys(doc), strs(&f["sbom"]["document_keys"]));
    let purls = purls(doc);
    let has = |prefix: &str| purls.iter().any(|p| p.starts_with(prefix));
    assert!(has("pkg:deb/debian/base-files@"), "{purls:?}");
    assert!(has("pkg:deb/debian/dpkg@"), "{purls:?}");
    assert!(
        purls.iter().any(|p| p.contains("distro=debian-12")),
        "{purls:?}"
    );
    assert!(has("pkg:npm/left-pad@1.3.0"), "{purls:?}");
    assert!(has("pkg:cargo/itoa@1.0.11"), "{purls:?}");
    assert!(has("pkg:pypi/requests@2.31.0"), "{purls:?}");
    assert!(
        purls.len() > 50,
        "a minbase Debian has more packages: {}",
        purls.len()
    );
    // The SPDX project's validator accepts the document.
    validate_spdx(&w, doc, "sbom.spdx.json");
    // The OCI archive's index has the image and the attestation manifest.
    let files = tar_files(&tar);
    let top = json(&files["index.json"]);
    let d = top["manifests"][0]["digest"].as_str().unwrap();
    assert_eq!(top["manifests"][0]["mediaType"], INDEX);
    let index = json(&files[&format!("blobs/sha256/{}", &d[7..])]);
    let att_d = index["manifests"][1]["digest"].as_str().unwrap();
    let att = json(&files[&format!("blobs/sha256/{}", &att_d[7..])]);
    let cfg_d = att["config"]["digest"].as_str().unwrap();
    let cfg = json(&files[&format!("blobs/sha256/{}", &cfg_d[7..])]);
    check_structure(&index, &att, &cfg);
    assert_eq!(
        att["layers"][0]["annotations"]["in-toto.io/predicate-type"],
        "https://spdx.dev/Document"
    );
}

#[test]
fn builder_push_of_a_stored_attested_image_reattaches_its_attestations() {
    let reg = Registry::start(Auth::Htpasswd);
    let w = World::new();
    support::write_docker_config(&w.path("docker"), &reg.addr, USER, PASS);
    w.import("base:1", &support::busybox_rootfs("attest-busybox-rootfs"));
    let ctx = w.context("ctx", "FROM base:1\nCOPY a.txt /\n", &[("a.txt", "a")]);
    run_ok(
        w.builder()
            .args(["build", "--provenance=mode=max", "-t", "local:1"])
            .arg(&ctx),
    );
    let dest = format!("{}/later:1", reg.addr);
    run_ok(w.builder().args(["push", "local:1", &dest]));
    let blobs = attestation_blobs(&reg, "later", "1");
    let index = json(&blobs[0].1);
    let entries = index["manifests"].as_array().unwrap();
    let att_digest = entries[1]["digest"].as_str().unwrap();
    let att = json(&blobs.iter().find(|(d, _)| d == att_digest).unwrap().1);
    let cfg_digest = att["config"]["digest"].as_str().unwrap();
    let config = json(&blobs.iter().find(|(d, _)| d == cfg_digest).unwrap().1);
    check_structure(&index, &att, &config);
    // The pushed image has compressed layers, so a new digest: the
    // statement's subject follows it.
    let image = entries[0]["digest"].as_str().unwrap();
    let ld = att["layers"][0]["digest"].as_str().unwrap();
    let stmt = json(&blobs.iter().find(|(d, _)| d == ld).unwrap().1);
    assert_eq!(
        stmt["subject"][0]["digest"]["sha256"],
        image.trim_start_matches("sha256:")
    );
    assert!(stmt["predicate"].get("buildConfig").is_some());
    let pushed = json(&get(&reg, &format!("/v2/later/manifests/{image}")));
    assert!(pushed["layers"][0]["mediaType"]
        .as_str()
        .unwrap()
        .ends_with("+gzip"));
}
