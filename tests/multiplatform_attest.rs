//! Attestations of a multi-platform build (`--platform a,b` with `--push`,
//! `--output type=oci|local`), laid out as BuildKit 0.13 lays them out for
//! buildx: one attestation manifest per platform (platform
//! `unknown/unknown`, `vnd.docker.reference.digest` = that platform's image
//! manifest), all image entries before all attestation entries; entry and
//! manifest shapes as recorded in
//! `tests/attestations/buildkit-0.13-structure.json`. Real parts: the
//! builder binary, a real registry, skopeo reading what was pushed.
//!
//! Needs root, docker-registry and skopeo (`scripts/install-deps.sh`).

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{run_ok, Auth, Registry};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// FROM scratch + COPY: no RUN, so no emulation is needed for arm64.
const DOCKERFILE: &str = "FROM scratch\nARG TARGETARCH\nCOPY hello.txt /hello.txt\n\
                          ENV ARCH=$TARGETARCH\n";

fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/attestations/buildkit-0.13-structure.json");
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// `skopeo inspect ARGS docker://REF`: raw output.
fn skopeo_raw(args: &[&str], reference: &str) -> String {
    run_ok(
        Command::new("skopeo")
            .arg("inspect")
            .args(args)
            .arg("--tls-verify=false")
            .arg(format!("docker://{reference}")),
    )
}

fn skopeo(args: &[&str], reference: &str) -> Value {
    let out = skopeo_raw(args, reference);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo output {out:?}: {e}"))
}

/// GET a blob from the (unauthenticated) registry.
fn blob(reg: &Registry, repo: &str, digest: &str) -> Vec<u8> {
    let (status, _, body) = support::http(
        &reg.addr,
        "GET",
        &format!("/v2/{repo}/blobs/{digest}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(status, 200, "GET blob {digest}");
    body
}

/// The blob `digest` of the OCI layout tar `archive`, as JSON.
fn oci_blob(archive: &Path, digest: &str) -> Value {
    let out = run_ok(Command::new("tar").arg("-xOf").arg(archive).arg(format!(
        "blobs/sha256/{}",
        digest.trim_start_matches("sha256:")
    )));
    serde_json::from_str(&out).unwrap()
}

/// The image index `index.json` of the OCI layout tar `archive` names.
fn oci_index(archive: &Path) -> Value {
    let out = run_ok(
        Command::new("tar")
            .arg("-xOf")
            .arg(archive)
            .arg("index.json"),
    );
    let top: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(top["manifests"].as_array().unwrap().len(), 1, "{top}");
    oci_blob(archive, top["manifests"][0]["digest"].as_str().unwrap())
}

/// Checks an attested two-platform index against BuildKit's layout: image
/// entries (amd64, arm64) then one attestation entry per platform naming
/// it, in the same order. Returns the image manifests' digests.
fn check_index(index: &Value) -> Vec<String> {
    let f = fixture();
    assert_eq!(index["mediaType"], OCI_INDEX);
    let e = index["manifests"].as_array().unwrap();
    assert_eq!(e.len(), 4, "2 images + 2 attestation manifests: {index}");
    let fa = &f["index"]["attestation_entry"];
    let mut images = Vec::new();
    for (i, arch) in ["amd64", "arm64"].into_iter().enumerate() {
        let img = &e[i];
        assert_eq!(keys(img), strs(&f["index"]["image_entry_keys"]), "{img}");
        assert_eq!(img["mediaType"], OCI_MANIFEST);
        assert_eq!(img["platform"]["os"], "linux");
        assert_eq!(img["platform"]["architecture"], arch);
        let att = &e[i + 2];
        assert_eq!(att["mediaType"], fa["mediaType"]);
        assert_eq!(att["platform"], fa["platform"], "{att}");
        assert_eq!(keys(&att["annotations"]), strs(&fa["annotation_keys"]));
        assert_eq!(
            att["annotations"]["vnd.docker.reference.type"],
            fa["reference_type"]
        );
        assert_eq!(
            att["annotations"]["vnd.docker.reference.digest"], img["digest"],
            "attestation {i} names platform {arch}'s image manifest"
        );
        images.push(img["digest"].as_str().unwrap().to_string());
    }
    assert_ne!(images[0], images[1]);
    images
}

#[test]
fn two_platform_push_has_one_attestation_manifest_per_platform() {
    let reg = Registry::start(Auth::Plain);
    let w = tempfile::Builder::new()
        .prefix("mpattest-")
        .tempdir()
        .unwrap();
    let ctx = w.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(ctx.join("hello.txt"), "hello\n").unwrap();
    let build = |store: &str, tag: &str, extra: &[&str]| -> Value {
        let meta = w.path().join(format!("{store}-meta.json"));
        run_ok(
            support::builder(&w.path().join(store), &w.path().join("docker"))
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args(["build", "--platform", "linux/amd64,linux/arm64"])
                .args(["-t", tag, "--push", "--metadata-file"])
                .arg(&meta)
                .args(extra)
                .arg(&ctx),
        );
        serde_json::from_slice(&fs::read(&meta).unwrap()).unwrap()
    };
    let tag = format!("{}/mpa/app:1", reg.addr);
    let oci = w.path().join("out.tar");
    let local = w.path().join("local");
    let meta = build(
        "s1",
        &tag,
        &[
            "--output",
            &format!("type=oci,dest={}", oci.display()),
            "--output",
            &format!("type=local,dest={}", local.display()),
        ],
    );

    // The pushed index, and the metadata file names it.
    let raw = skopeo_raw(&["--raw"], &tag);
    assert_eq!(
        meta["containerimage.digest"].as_str().unwrap(),
        support::digest(raw.as_bytes())
    );
    let index: Value = serde_json::from_str(&raw).unwrap();
    let images = check_index(&index);

    // Each attestation manifest: BuildKit's shape, one provenance
    // statement whose subject is its platform's image manifest.
    let f = fixture();
    let fm = &f["attestation_manifest"];
    for (i, (image, arch)) in images.iter().zip(["amd64", "arm64"]).enumerate() {
        let att_digest = index["manifests"][i + 2]["digest"].as_str().unwrap();
        let at = format!("{}/mpa/app@{att_digest}", reg.addr);
        let att = skopeo(&["--raw"], &at);
        assert_eq!(keys(&att), strs(&fm["keys"]));
        assert_eq!(att["config"]["mediaType"], fm["config_mediaType"]);
        let config = skopeo(&["--config", "--raw"], &at);
        assert_eq!(keys(&config), strs(&fm["config_keys"]));
        assert_eq!(config["os"], "unknown");
        let layers = att["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1, "provenance only (mode=min): {att}");
        assert_eq!(layers[0]["mediaType"], fm["layer_mediaType"]);
        let st: Value = serde_json::from_slice(&blob(
            &reg,
            "mpa/app",
            layers[0]["digest"].as_str().unwrap(),
        ))
        .unwrap();
        assert_eq!(st["predicateType"], f["provenance"]["predicateType"]);
        let subject = &st["subject"][0];
        assert_eq!(
            format!("sha256:{}", subject["digest"]["sha256"].as_str().unwrap()),
            *image
        );
        let name = subject["name"].as_str().unwrap();
        assert!(
            name.starts_with("pkg:docker/")
                && name.contains("platform=linux")
                && name.ends_with(arch),
            "{subject}"
        );
        assert_eq!(
            st["predicate"]["invocation"]["environment"]["platform"],
            format!("linux/{arch}")
        );
        // skopeo picks each platform's image past the attestation entries.
        let cfg = skopeo(&["--config", "--override-arch", arch], &tag);
        assert_eq!(cfg["architecture"], arch);
        let env: Vec<String> = serde_json::from_value(cfg["config"]["Env"].clone()).unwrap();
        assert!(env.contains(&format!("ARCH={arch}")), "{env:?}");
    }

    // Reproducible: a fresh store pushes the same index (SOURCE_DATE_EPOCH;
    // the same tag, as attestation subjects name it).
    let meta2 = build("s2", &tag, &[]);
    assert_eq!(
        meta2["containerimage.digest"],
        meta["containerimage.digest"]
    );

    // --provenance=false: the plain index of the two images (pushed over
    // the tag).
    let plain = build("s3", &tag, &["--provenance=false"]);
    let p = skopeo(&["--raw"], &tag);
    assert_eq!(p["manifests"].as_array().unwrap().len(), 2, "{p}");
    assert_ne!(
        plain["containerimage.digest"],
        meta["containerimage.digest"]
    );

    // The first store keeps the attested index under the tag: `builder
    // push` of it re-exports both images and re-attaches their
    // attestations, giving the index the build pushed.
    run_ok(support::builder(&w.path().join("s1"), &w.path().join("docker")).args(["push", &tag]));
    let raw = skopeo_raw(&["--raw"], &tag);
    assert_eq!(
        meta["containerimage.digest"].as_str().unwrap(),
        support::digest(raw.as_bytes())
    );

    // type=oci: the archive's index has the same layout.
    check_index(&oci_index(&oci));

    // An explicit --sbom and mode=max provenance without a push: each
    // platform's attestation manifest holds both statements (provenance
    // first), the SBOM scanned from that platform's image.
    let oci2 = w.path().join("sbom.tar");
    run_ok(
        support::builder(&w.path().join("s4"), &w.path().join("docker"))
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["build", "--platform", "linux/amd64,linux/arm64"])
            .args(["--sbom=true", "--provenance=mode=max", "--output"])
            .arg(format!("type=oci,dest={}", oci2.display()))
            .arg(&ctx),
    );
    let idx = oci_index(&oci2);
    check_index(&idx);
    for i in 2..4 {
        let att = oci_blob(&oci2, idx["manifests"][i]["digest"].as_str().unwrap());
        let types: Vec<&str> = att["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l["annotations"]["in-toto.io/predicate-type"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            types,
            [
                f["provenance"]["predicateType"].as_str().unwrap(),
                f["sbom"]["predicateType"].as_str().unwrap()
            ]
        );
    }

    // type=local: each platform's directory has its provenance as a file.
    for dir in ["linux_amd64", "linux_arm64"] {
        let p: Value =
            serde_json::from_slice(&fs::read(local.join(dir).join("provenance.json")).unwrap())
                .unwrap();
        assert_eq!(p["predicateType"], f["provenance"]["predicateType"]);
        let names: Vec<&str> = p["subject"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"hello.txt"), "{dir}: {names:?}");
    }
}
