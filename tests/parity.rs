//! The BuildKit parity suite. Each case under `tests/parity/cases/` was built by Docker 26.1 /
//! BuildKit 0.13 (scripts/record-parity.sh) and its image listed into `expected.json`;
//! `parity_matches_buildkit` builds the same cases with builder and compares the listings.
//!
//! - `cargo test --test parity` — lister self-tests and case sanity (no Docker, no builder).
//! - `cargo test --test parity -- --ignored parity_matches_buildkit --nocapture` — the comparison
//!   (root; `PARITY_CASES=01,50` and `PARITY_KIND=run|norun` select cases).
//! - `prepare_contexts` and `record` are steps of scripts/record-parity.sh.

#[path = "parity/bases.rs"]
mod bases;
#[path = "parity/cases.rs"]
mod cases;
#[path = "parity/compare.rs"]
mod compare;
#[path = "parity/failure.rs"]
mod failure;
#[path = "parity/layer_entries.rs"]
mod layer_entries;
#[path = "parity/lister.rs"]
mod lister;
#[path = "parity/selftests.rs"]
mod selftests;
#[path = "support/mod.rs"]
mod support;

use anyhow::{anyhow, bail, Context, Result};
use cases::{load_cases, prepare_context, suite_dir, Case};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The base image config every case's `FROM busybox` sees.
const BASE_PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The name the base image is imported under, so `FROM busybox` resolves to it.
const BASE_REF: &str = "docker.io/library/busybox:latest";

// ---------------------------------------------------------------------------------------------
// builder's command line: the only place that knows it, so it is easy to adapt.

fn builder_bin() -> PathBuf {
    std::env::var_os("PARITY_BUILDER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_builder")))
}

/// `builder import`: load a rootfs directory as a one-layer image into the store at `root`.
fn builder_import_cmd(root: &Path, rootfs: &Path) -> Command {
    let mut c = Command::new(builder_bin());
    c.arg("import").arg("--root").arg(root).arg(rootfs).args([
        "-t",
        BASE_REF,
        "--env",
        BASE_PATH_ENV,
        "--cmd",
        "sh",
    ]);
    c
}

/// `builder build` for one case.
fn builder_build_cmd(root: &Path, case: &Case, ctx: &Path, tag: &str) -> Command {
    let mut c = Command::new(builder_bin());
    c.arg("build")
        .arg("--root")
        .arg(root)
        .args(["-t", tag, "-f"])
        .arg(ctx.join("Dockerfile"));
    for a in &case.build_args {
        c.args(["--build-arg", a]);
    }
    if let Some(t) = &case.target {
        c.args(["--target", t]);
    }
    if let Some(p) = &case.platform {
        c.args(["--platform", p]);
    }
    c.arg(ctx);
    c
}

/// `builder save` in docker-archive format.
fn builder_save_cmd(root: &Path, tag: &str, out: &Path) -> Command {
    let mut c = Command::new(builder_bin());
    c.arg("save")
        .arg("--root")
        .arg(root)
        .args(["--format", "docker", "-o"])
        .arg(out)
        .arg(tag);
    c
}

// ---------------------------------------------------------------------------------------------

/// Runs a command, returning its combined output as the error when it fails.
fn run(mut c: Command, what: &str) -> Result<()> {
    let out = c
        .output()
        .with_context(|| format!("{what}: starting {c:?}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Writes `data` to `path` atomically (temp file in the same dir, fsync, rename).
fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", path.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

fn sha256_file(p: &Path) -> Result<(String, u64)> {
    let data = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    Ok((hex::encode(Sha256::digest(&data)), data.len() as u64))
}

/// Makes the base rootfs with the project's script.
fn make_rootfs(dir: &Path) -> Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkrootfs-busybox.sh");
    let mut c = Command::new("bash");
    c.arg(script).arg(dir);
    run(c, "scripts/mkrootfs-busybox.sh")
}

fn out_dir() -> Result<PathBuf> {
    std::env::var_os("PARITY_OUT")
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("PARITY_OUT is not set (scripts/record-parity.sh sets it)"))
}

/// Recording step 1: prepared contexts and docker arguments in `$PARITY_OUT/cases/NAME/` (plus
/// an `expect-error` marker for cases Docker must refuse), and the OCI layouts of the per-case
/// base images the selected cases name in `$PARITY_OUT/bases/NAME/` (from `$PARITY_OUT/rootfs`).
#[test]
#[ignore = "a step of scripts/record-parity.sh"]
fn prepare_contexts() -> Result<()> {
    let out = out_dir()?;
    let bases_dir = out.join("bases");
    if bases_dir.exists() {
        std::fs::remove_dir_all(&bases_dir)?;
    }
    for case in load_cases()? {
        let d = out.join("cases").join(&case.name);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        prepare_context(&case, &d.join("ctx"))?;
        let mut args = String::new();
        for a in &case.build_args {
            args.push_str(&format!("--build-arg\n{a}\n"));
        }
        if let Some(t) = &case.target {
            args.push_str(&format!("--target\n{t}\n"));
        }
        if let Some(p) = &case.platform {
            args.push_str(&format!("--platform\n{p}\n"));
        }
        std::fs::write(d.join("docker-args"), args)?;
        if case.expect_error.is_some() {
            std::fs::write(d.join("expect-error"), "")?;
        }
        for b in &case.bases {
            let layout = bases_dir.join(b);
            if !layout.exists() {
                bases::write_layout(b, &out.join("rootfs"), &layout)?;
            }
        }
    }
    Ok(())
}

/// The history prefix `to_json` leaves out: the longest of the candidate base histories the
/// image's history starts with (none when it starts with none of them).
fn base_history_of(
    listing: &lister::Listing,
    busybox: &[(String, bool)],
    case: &Case,
) -> Result<Vec<(String, bool)>> {
    let mut best: Vec<(String, bool)> = Vec::new();
    let mut candidates = vec![busybox.to_vec()];
    for b in &case.bases {
        candidates.push(bases::history(b)?);
    }
    for c in candidates {
        if listing.history.starts_with(&c) && c.len() > best.len() {
            best = c;
        }
    }
    Ok(best)
}

/// Recording step 2: list `$PARITY_OUT/cases/NAME/image.tar` (from `docker save`) into the
/// case's expected.json, or for a case Docker refused its `build.log` into expected-error.json;
/// `$PARITY_OUT/base.tar` is the base image, `$PARITY_OUT/rootfs` its tree.
#[test]
#[ignore = "a step of scripts/record-parity.sh"]
fn record() -> Result<()> {
    let out = out_dir()?;
    let base = lister::list_archive(&out.join("base.tar")).context("listing base.tar")?;
    let (bb_sha, bb_size) = sha256_file(&out.join("rootfs/bin/busybox"))?;
    let base_json = json!({
        "busybox_sha256": bb_sha,
        "busybox_size": bb_size,
        "history": base.history.iter().map(|(c, e)| json!([c, e])).collect::<Vec<_>>(),
    });
    write_atomic(
        &suite_dir().join("base.json"),
        compare::render(&base_json).as_bytes(),
    )?;
    for case in load_cases()? {
        let d = out.join("cases").join(&case.name);
        let (file, stale, doc) = if case.expect_error.is_some() {
            let log = std::fs::read_to_string(d.join("build.log"))
                .with_context(|| format!("case {}: reading build.log", case.name))?;
            let doc = failure::record(&case, &log)?;
            ("expected-error.json", "expected.json", doc)
        } else {
            let img = d.join("image.tar");
            let listing = lister::list_archive(&img)
                .with_context(|| format!("case {}: listing {}", case.name, img.display()))?;
            let strip = base_history_of(&listing, &base.history, &case)?;
            let doc = layer_entries::document(&listing, &case, &strip);
            ("expected.json", "expected-error.json", doc)
        };
        write_atomic(&case.dir.join(file), compare::render(&doc).as_bytes())?;
        let stale = case.dir.join(stale);
        if stale.exists() {
            std::fs::remove_file(&stale)?;
        }
        println!("recorded {} ({file})", case.name);
    }
    Ok(())
}

/// Case names listed in known-differences.txt (`NAME  reason` lines, `#` comments). A name
/// written `NAME@LEVEL` is skipped only at that isolation level (`BUILDER_ISOLATION`).
fn known_differences() -> Result<Vec<(String, String)>> {
    let p = suite_dir().join("known-differences.txt");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((n, r)) => (n.to_string(), r.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect())
}

/// Where the recording's busybox binary differs from this machine's (another Debian build),
/// expect this machine's binary instead: the suite tests the builder, not the busybox package.
fn adapt_busybox(expected: &mut Value, local_sha: &str, local_size: u64) -> Result<()> {
    let base: Value = serde_json::from_slice(&std::fs::read(suite_dir().join("base.json"))?)?;
    let rec_sha = base["busybox_sha256"].as_str().unwrap_or_default();
    if rec_sha == local_sha {
        return Ok(());
    }
    if let Some(files) = expected["files"].as_array_mut() {
        for f in files {
            if f["sha256"].as_str() == Some(rec_sha) {
                f["sha256"] = json!(local_sha);
                f["size"] = json!(local_size);
            }
        }
    }
    Ok(())
}

/// Per-case base images for builder: made from the comparison's rootfs, pushed to a registry
/// started on first use, pulled and tagged `docker.io/library/NAME:latest` in the store.
#[derive(Default)]
struct Bases {
    registry: Option<support::Registry>,
    loaded: Vec<String>,
}

impl Bases {
    fn ensure(&mut self, name: &str, root: &Path, rootfs: &Path, work: &Path) -> Result<()> {
        if self.loaded.iter().any(|n| n == name) {
            return Ok(());
        }
        let registry = self
            .registry
            .get_or_insert_with(|| support::Registry::start(support::Auth::Plain));
        let layout = work.join("bases").join(name);
        bases::write_layout(name, rootfs, &layout)?;
        let remote = format!("{}/library/{name}:latest", registry.addr);
        let mut c = Command::new("skopeo");
        c.args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{remote}"));
        run(c, "skopeo copy (base image)")?;
        let mut c = Command::new(builder_bin());
        c.arg("pull").arg("--root").arg(root).args(["-q", &remote]);
        run(c, "builder pull (base image)")?;
        let mut c = Command::new(builder_bin());
        c.arg("tag")
            .arg("--root")
            .arg(root)
            .args([remote.as_str(), &format!("docker.io/library/{name}:latest")]);
        run(c, "builder tag (base image)")?;
        self.loaded.push(name.to_string());
        Ok(())
    }
}

/// What a case needs besides itself: the store, the busybox base and the per-case bases.
struct Env<'a> {
    root: &'a Path,
    work: &'a Path,
    rootfs: &'a Path,
    base_history: &'a [(String, bool)],
    busybox: &'a (String, u64),
}

/// Builds, saves and lists one case with builder; returns the differences. A case Docker refused
/// must fail with the recorded fragments in builder's stderr.
fn check_case(case: &Case, env: &Env, bases: &mut Bases) -> Result<Vec<String>> {
    for b in &case.bases {
        bases.ensure(b, env.root, env.rootfs, env.work)?;
    }
    let d = env.work.join(&case.name);
    let ctx = d.join("ctx");
    prepare_context(case, &ctx)?;
    let tag = format!("parity/{}:latest", case.name);
    if case.expect_error.is_some() {
        let p = case.dir.join("expected-error.json");
        let expected: Value = serde_json::from_slice(
            &std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
        )?;
        let out = builder_build_cmd(env.root, case, &ctx, &tag)
            .output()
            .context("starting builder build")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Ok(failure::check(&expected, out.status.success(), &stderr));
    }
    run(
        builder_build_cmd(env.root, case, &ctx, &tag),
        "builder build",
    )?;
    let tar = d.join("image.tar");
    run(builder_save_cmd(env.root, &tag, &tar), "builder save")?;
    let listing = lister::list_archive(&tar)?;
    let strip = base_history_of(&listing, env.base_history, case)?;
    let actual = layer_entries::document(&listing, case, &strip);
    let exp_path = case.dir.join("expected.json");
    let mut expected: Value = serde_json::from_slice(
        &std::fs::read(&exp_path).with_context(|| format!("reading {}", exp_path.display()))?,
    )?;
    adapt_busybox(&mut expected, &env.busybox.0, env.busybox.1)?;
    let mut diffs = compare::diff(&expected, &actual);
    if case.layers {
        diffs.extend(layer_entries::diff(
            &expected["layer_entries"],
            &actual["layer_entries"],
        ));
    }
    Ok(diffs)
}

/// The comparison with BuildKit: every case not in known-differences.txt must list exactly as
/// recorded, or fail as Docker did. Needs root and the builder engine (import, build, save; pull
/// and tag for per-case base images, with skopeo and docker-registry).
#[test]
fn parity_matches_buildkit() -> Result<()> {
    let work = tempfile::tempdir()?;
    let root = work.path().join("store");
    let rootfs = work.path().join("rootfs");
    make_rootfs(&rootfs)?;
    let busybox = sha256_file(&rootfs.join("bin/busybox"))?;
    run(builder_import_cmd(&root, &rootfs), "builder import")?;
    // The base image's own history, as builder made it, is left out of every comparison.
    let base_tar = work.path().join("base.tar");
    run(
        builder_save_cmd(&root, BASE_REF, &base_tar),
        "builder save (base)",
    )?;
    let base_history = lister::list_archive(&base_tar)?.history;
    let env = Env {
        root: &root,
        work: work.path(),
        rootfs: &rootfs,
        base_history: &base_history,
        busybox: &busybox,
    };
    let mut bases = Bases::default();

    let skip = known_differences()?;
    let level = std::env::var("BUILDER_ISOLATION").unwrap_or_default();
    let cases = load_cases()?;
    let (mut matched, mut total, mut failed) = (0, 0, Vec::new());
    for case in &cases {
        let at_level = format!("{}@{level}", case.name);
        if let Some((_, why)) = skip.iter().find(|(n, _)| *n == case.name || *n == at_level) {
            println!("parity: {} skipped (known difference: {why})", case.name);
            continue;
        }
        total += 1;
        match check_case(case, &env, &mut bases) {
            Ok(d) if d.is_empty() => {
                matched += 1;
                println!("parity: {} ok", case.name);
            }
            Ok(d) => {
                println!("parity: {} DIFFERS:", case.name);
                for l in &d {
                    println!("    {l}");
                }
                failed.push(case.name.clone());
            }
            Err(e) => {
                println!("parity: {} ERROR: {e:#}", case.name);
                failed.push(case.name.clone());
            }
        }
    }
    println!("parity: {matched}/{total} cases match");
    if !failed.is_empty() {
        bail!(
            "parity: {} case(s) differ: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Every case loads, prepares, and has a recorded expectation of the right shape.
#[test]
fn cases_are_well_formed() -> Result<()> {
    let cases = load_cases()?;
    if std::env::var_os("PARITY_CASES").is_none() && std::env::var_os("PARITY_KIND").is_none() {
        assert!(cases.len() >= 30, "only {} cases", cases.len());
        assert!(
            cases.iter().filter(|c| c.is_run).count() >= 8,
            "fewer than 8 RUN cases"
        );
    }
    let known = known_differences()?;
    for (n, why) in &known {
        assert!(
            cases
                .iter()
                .any(|c| c.name == n.split('@').next().unwrap_or(n))
                || std::env::var_os("PARITY_CASES").is_some(),
            "known-differences.txt names unknown case {n}"
        );
        assert!(!why.is_empty(), "known difference {n} gives no reason");
    }
    let tmp = tempfile::tempdir()?;
    for case in &cases {
        prepare_context(case, &tmp.path().join(&case.name))?;
        for b in &case.bases {
            bases::history(b).with_context(|| format!("case {}: base", case.name))?;
        }
        let (file, other) = if case.expect_error.is_some() {
            ("expected-error.json", "expected.json")
        } else {
            ("expected.json", "expected-error.json")
        };
        assert!(
            !case.dir.join(other).exists(),
            "case {}: has {other} besides {file}",
            case.name
        );
        let p = case.dir.join(file);
        let v: Value = serde_json::from_slice(
            &std::fs::read(&p).with_context(|| format!("case {}: no {file}", case.name))?,
        )
        .with_context(|| format!("parsing {}", p.display()))?;
        // The expectation must be exactly what the renderer writes (no hand edits drift).
        let text = std::fs::read_to_string(&p)?;
        assert_eq!(
            text,
            compare::render(&v),
            "{} is not in canonical form",
            p.display()
        );
        if case.expect_error.is_some() {
            failure::well_formed(case, &v)?;
            continue;
        }
        assert_eq!(v["case"], json!(case.name), "{}", p.display());
        assert!(v["files"].as_array().is_some_and(|f| !f.is_empty()) || v["layers"] == json!(0));
        assert_eq!(v["os"], json!("linux"), "{}", p.display());
    }
    Ok(())
}
