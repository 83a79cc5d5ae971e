//! SBOM contents beyond dpkg and lock files, and attestations in the
//! outputs BuildKit treats specially: the rpm database and Go binaries'
//! build info (made here with Debian's `rpm`/`rpmbuild` and `golang-go`),
//! `BUILDKIT_SBOM_SCAN_STAGE`/`BUILDKIT_SBOM_SCAN_CONTEXT` (extra SBOMs,
//! as BuildKit's dockerfile frontend asks its scanner for them), and
//! `type=local`/`type=tar`/`type=docker` outputs, `--load`, and `builder
//! save` of attested images.
//! Documents are validated with `pyspdxtools` (see `tests/support/attest.rs`).
//!
//! Needs root, busybox-static, rpm and golang-go (`scripts/install-deps.sh`).

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;
use support::attest::{fixture, json, keys, purls, rpm_db, strs, tar_files, validate_spdx, World};
use support::{run, run_ok};

/// A static Go binary at `out` of module `example.com/hello`, which
/// requires `example.com/greet v0.1.0` (vendored: no network).
fn go_binary(work: &Path, out: &Path) {
    let greet = work.join("vendor/example.com/greet");
    fs::create_dir_all(&greet).unwrap();
    fs::write(
        work.join("go.mod"),
        "module example.com/hello\n\ngo 1.19\n\nrequire example.com/greet v0.1.0\n",
    )
    .unwrap();
    fs::write(
        work.join("main.go"),
        "package main\n\nimport \"example.com/greet\"\n\nfunc main() { println(greet.Hello()) }\n",
    )
    .unwrap();
    fs::write(
        greet.join("greet.go"),
        "package greet\n\nfunc Hello() string { return \"hi\" }\n",
    )
    .unwrap();
    fs::write(
        work.join("vendor/modules.txt"),
        "# example.com/greet v0.1.0\n## explicit\nexample.com/greet\n",
    )
    .unwrap();
    run_ok(
        Command::new("go")
            .args(["build", "-trimpath", "-o"])
            .arg(out)
            .arg(".")
            .current_dir(work)
            .env("HOME", work)
            .env("GOCACHE", work.join("gocache"))
            .env("GOPATH", work.join("gopath"))
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=vendor")
            .env("CGO_ENABLED", "0"),
    );
}

/// The SPDX document of the image `tag`'s SBOM named `name` (`builder inspect`).
fn sbom_docs(w: &World, tag: &str) -> Vec<Value> {
    let out: Value = serde_json::from_str(&run_ok(w.builder().args(["inspect", tag]))).unwrap();
    out["Attestations"][0]["Statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["predicateType"] == "https://spdx.dev/Document")
        .map(|s| s["predicate"].clone())
        .collect()
}

#[test]
fn sbom_lists_rpm_packages_and_go_modules_with_purls_and_validates() {
    let w = World::with_base();
    let ctx = w.context(
        "ctx",
        "FROM base:1\nCOPY os-release /etc/os-release\nCOPY rpm/ /var/lib/rpm/\n\
         COPY hello /usr/local/bin/hello\n",
        &[("os-release", "ID=fedora\nVERSION_ID=40\n")],
    );
    rpm_db(&w.path("rpmwork"), &ctx.join("rpm"));
    go_binary(&w.path("gowork"), &ctx.join("hello"));
    run_ok(
        w.builder()
            .args(["build", "--sbom=true", "--provenance=false", "-t", "rg:1"])
            .arg(&ctx),
    );
    let docs = sbom_docs(&w, "rg:1");
    assert_eq!(docs.len(), 1);
    let purls = purls(&docs[0]);
    let go = run_ok(Command::new("go").args(["env", "GOVERSION"]));
    let stdlib = format!("pkg:golang/stdlib@{}", go.trim().trim_start_matches("go"));
    for want in [
        "pkg:rpm/fedora/hello-attest@1.2.3-4?arch=noarch&distro=fedora-40&epoch=1\
         &upstream=hello-attest-1.2.3-4.src.rpm",
        "pkg:golang/example.com/greet@v0.1.0",
        "pkg:golang/example.com/hello@%28devel%29",
        &stdlib,
    ] {
        assert!(purls.iter().any(|p| p == want), "{want} not in {purls:?}");
    }
    let rpm = docs[0]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hello-attest")
        .unwrap();
    assert_eq!(rpm["versionInfo"], "1:1.2.3-4");
    validate_spdx(&w, &docs[0], "rpm-go.spdx.json");
}

/// The BuildKit test's shape (`dockerfile_sbom_test.go`): a global
/// `BUILDKIT_SBOM_SCAN_CONTEXT`, stages with `BUILDKIT_SBOM_SCAN_STAGE`,
/// one of them not built.
const SCAN_DOCKERFILE: &str = "ARG BUILDKIT_SBOM_SCAN_CONTEXT=true
FROM base:1 AS deps
ARG BUILDKIT_SBOM_SCAN_STAGE=true
COPY package-lock.json /app/
FROM base:1 AS unused
ARG BUILDKIT_SBOM_SCAN_STAGE=true
RUN exit 1
FROM base:1
ARG BUILDKIT_SBOM_SCAN_STAGE=true
COPY --from=deps /app/package-lock.json /copied.json
";

#[test]
fn scan_stage_and_context_add_sboms_named_as_buildkit_names_them() {
    let w = World::with_base();
    let ctx = w.context(
        "ctx",
        SCAN_DOCKERFILE,
        &[
            (
                "package-lock.json",
                r#"{"lockfileVersion":3,"packages":{"":{},"node_modules/left-pad":{"version":"1.3.0"}}}"#,
            ),
            (
                "Cargo.lock",
                "version = 3\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\n",
            ),
        ],
    );
    let out = w.path("out");
    run_ok(
        w.builder()
            .args(["build", "--sbom=true", "--provenance=false", "-t", "scan:1"])
            .arg("--output")
            .arg(format!("type=local,dest={}", out.display()))
            .arg(&ctx),
    );
    // Core first, then the extras by name; the unbuilt stage has none.
    let docs = sbom_docs(&w, "scan:1");
    let names: Vec<&str> = docs.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "docker.io/library/scan:1",
            "docker.io/library/scan:1 (context)",
            "docker.io/library/scan:1 (stage deps)"
        ],
        "{names:?}"
    );
    let has = |d: &Value, p: &str| purls(d).iter().any(|x| x == p);
    assert!(!has(&docs[0], "pkg:npm/left-pad@1.3.0"));
    // The context as BuildKit's client sends it: only what the build reads
    // (`FollowPaths`): package-lock.json, not the Cargo.lock next to it.
    assert!(has(&docs[1], "pkg:npm/left-pad@1.3.0"));
    assert!(!has(&docs[1], "pkg:cargo/itoa@1.0.11"));
    assert!(has(&docs[2], "pkg:npm/left-pad@1.3.0"));
    assert!(!has(&docs[2], "pkg:cargo/itoa@1.0.11"));
    validate_spdx(&w, &docs[2], "stage.spdx.json");
    // type=local: one file per statement, named by its attestation path.
    for f in [
        "sbom.spdx.json",
        "sbom-context.spdx.json",
        "sbom-deps.spdx.json",
    ] {
        let stmt = json(&fs::read(out.join(f)).unwrap());
        assert_eq!(stmt["predicateType"], "https://spdx.dev/Document", "{f}");
    }
    // A --build-arg overrides the declared ARGs: scanning off.
    run_ok(
        w.builder()
            .args(["build", "--sbom=true", "--provenance=false", "-t", "scan:2"])
            .args(["--build-arg", "BUILDKIT_SBOM_SCAN_STAGE=false"])
            .args(["--build-arg", "BUILDKIT_SBOM_SCAN_CONTEXT=false"])
            .arg(&ctx),
    );
    assert_eq!(sbom_docs(&w, "scan:2").len(), 1);
    // A --build-arg alone enables nothing (BuildKit: it only overrides ARGs).
    let plain = w.context(
        "plain",
        "FROM base:1 AS a\nRUN true\nFROM base:1\nCOPY --from=a /bin/sh /sh\n",
        &[],
    );
    run_ok(
        w.builder()
            .args(["build", "--sbom=true", "--provenance=false", "-t", "scan:3"])
            .args(["--build-arg", "BUILDKIT_SBOM_SCAN_STAGE=true"])
            .arg(&plain),
    );
    assert_eq!(sbom_docs(&w, "scan:3").len(), 1);
}

#[test]
fn tar_docker_and_save_outputs_of_attested_images_do_as_buildkit() {
    let (w, ctx) = World::with_copy_context();
    // type=tar: the statements are files at the archive's top, as type=local.
    let tar = w.path("root.tar");
    let docker = w.path("docker.tar");
    run_ok(
        w.builder()
            .args(["build", "--sbom=true", "--provenance=true", "-t", "at:1"])
            .arg("--output")
            .arg(format!("type=tar,dest={}", tar.display()))
            .arg("--output")
            .arg(format!("type=docker,dest={}", docker.display()))
            .arg(&ctx),
    );
    let files = tar_files(&tar);
    let sbom = json(&files["sbom.spdx.json"]);
    assert_eq!(sbom["predicateType"], "https://spdx.dev/Document");
    assert!(files.contains_key("provenance.json"));
    assert!(files.contains_key("a.txt"));
    // type=docker: no attestations in a docker archive (BuildKit's docker exporter).
    let d = tar_files(&docker);
    let m = json(&d["manifest.json"]);
    assert_eq!(m.as_array().unwrap().len(), 1);
    // --format docker with attestations asked for: an error before the build.
    let o = run(w
        .builder()
        .args(["build", "--sbom=true", "--format", "docker", "-t", "at:2"])
        .arg(&ctx));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("oci-mediatypes=false"), "{err}");
    // builder save of the attested store tag: OCI keeps the index with the
    // attestation manifest; docker saves the image alone.
    let oci = w.path("save.tar");
    run_ok(
        w.builder()
            .args(["save", "--format", "oci", "-o"])
            .arg(&oci)
            .arg("at:1"),
    );
    let f = tar_files(&oci);
    let top = json(&f["index.json"]);
    let d = top["manifests"][0]["digest"].as_str().unwrap();
    let index = json(&f[&format!("blobs/sha256/{}", &d[7..])]);
    let kinds: Vec<&Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["annotations"]["vnd.docker.reference.type"])
        .collect();
    assert_eq!(kinds[1], "attestation-manifest", "{index}");
    let saved = w.path("save-docker.tar");
    run_ok(w.builder().args(["save", "-o"]).arg(&saved).arg("at:1"));
    let m = json(&tar_files(&saved)["manifest.json"]);
    assert_eq!(m[0]["RepoTags"][0], "at:1");
}

/// `BUILDKIT_SBOM_SCAN_CONTEXT` over a context whose `.dockerignore`
/// hides a lock file: the context SBOM leaves it out, from a directory and
/// from the same context as a tar on stdin (its `.dockerignore` read from
/// the archive), as the image's `COPY . /src` does.
#[test]
fn context_scan_honours_dockerignore_in_directory_and_stdin_tar_contexts() {
    let w = World::with_base();
    let ctx = w.context(
        "ctx",
        "ARG BUILDKIT_SBOM_SCAN_CONTEXT=true\nFROM base:1\nCOPY . /src\n",
        &[
            (
                "Cargo.lock",
                "version = 3\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\n",
            ),
            (".dockerignore", "vendor\n"),
        ],
    );
    fs::create_dir_all(ctx.join("vendor")).unwrap();
    fs::write(
        ctx.join("vendor/package-lock.json"),
        r#"{"lockfileVersion":3,"packages":{"":{},"node_modules/left-pad":{"version":"1.3.0"}}}"#,
    )
    .unwrap();
    let tar = w.path("ctx.tar");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&ctx)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    );
    run_ok(
        w.builder()
            .args(["build", "--sbom=true", "--provenance=false", "-t", "cs:1"])
            .arg(&ctx),
    );
    let o = run(w
        .builder()
        .args([
            "build",
            "--sbom=true",
            "--provenance=false",
            "-t",
            "cs:2",
            "-f",
        ])
        .arg(ctx.join("Dockerfile"))
        .arg("-")
        .stdin(fs::File::open(&tar).unwrap()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for tag in ["cs:1", "cs:2"] {
        let docs = sbom_docs(&w, tag);
        let names: Vec<&str> = docs.iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 2, "{tag}: {names:?}");
        assert!(names[1].ends_with(" (context)"), "{tag}: {names:?}");
        for doc in &docs {
            let p = purls(doc);
            assert!(
                p.iter().any(|x| x == "pkg:cargo/itoa@1.0.11"),
                "{tag}: {p:?}"
            );
            assert!(!p.iter().any(|x| x.contains("left-pad")), "{tag}: {p:?}");
        }
    }
    validate_spdx(&w, &sbom_docs(&w, "cs:2")[1], "context.spdx.json");
}

#[test]
fn local_output_has_max_provenance_as_files() {
    let (w, ctx) = World::with_copy_context();
    let out = w.path("out");
    run_ok(
        w.builder()
            .args(["build", "--provenance=mode=max", "--output"])
            .arg(format!("type=local,dest={}", out.display()))
            .arg(&ctx),
    );
    let f = fixture();
    let file = f["local_files"]["provenance"].as_str().unwrap();
    let stmt = json(&fs::read(out.join(file)).unwrap());
    assert_eq!(stmt["predicateType"], f["provenance"]["predicateType"]);
    let p = &stmt["predicate"];
    assert_eq!(keys(p), strs(&f["provenance"]["max_keys"]));
    assert_eq!(
        keys(&p["metadata"]),
        strs(&f["provenance"]["max_metadata_keys"])
    );
    let bk = &p["metadata"]["https://mobyproject.org/buildkit@v1#metadata"];
    let src = &bk["source"]["infos"][0];
    assert_eq!(src["filename"], "Dockerfile");
    let df = base64::engine::general_purpose::STANDARD
        .decode(src["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(df, fs::read(ctx.join("Dockerfile")).unwrap());
    // Subjects are the exported files.
    let names: BTreeSet<&str> = stmt["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains("a.txt"), "{names:?}");
    assert!(out.join("a.txt").exists());
}

/// `--load` goes through a docker archive, which holds no attestations:
/// buildx refuses it ("docker exporter does not currently support exporting
/// manifest lists"); builder loads the image and says, in those words, what
/// stays behind. With a running dockerd the image is loaded (and removed
/// after); without one the warning still comes first, before the load fails.
#[test]
fn load_warns_that_the_attestations_stay_behind() {
    let cli = Command::new("docker")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status();
    if cli.is_err() {
        eprintln!("no docker CLI on PATH: --load is refused before the build, not exercised");
        return;
    }
    let (w, ctx) = World::with_copy_context();
    let docker_up = Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let tag = format!("builder-attest-load-{}:1", std::process::id());
    let mut cmd = w.builder();
    cmd.args([
        "build",
        "--sbom=true",
        "--provenance=mode=max",
        "--load",
        "-t",
        &tag,
    ])
    .arg(&ctx);
    if !docker_up {
        cmd.env(
            "DOCKER_HOST",
            format!("unix://{}", w.path("no-docker.sock").display()),
        );
    }
    let o = run(&mut cmd);
    let err = String::from_utf8_lossy(&o.stderr);
    if docker_up {
        let _ = run(Command::new("docker").args(["rmi", &tag]));
        assert!(o.status.success(), "{err}");
    }
    let warning = err
        .lines()
        .find(|l| l.starts_with("warning: --load: "))
        .unwrap_or_else(|| panic!("no --load warning: {err}"));
    assert!(
        warning.contains("docker exporter does not currently support exporting manifest lists")
            && warning.contains("(provenance, sbom)")
            && warning.contains("--output type=oci"),
        "{warning}"
    );
    // The store keeps them: the tag names the attested index.
    let out: Value = serde_json::from_str(&run_ok(w.builder().args(["inspect", &tag]))).unwrap();
    assert_eq!(
        out["Attestations"][0]["Statements"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
