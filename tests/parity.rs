//! The BuildKit parity suite. Each case under `tests/parity/cases/` was built by Docker 26.1 /
//! BuildKit 0.13 (scripts/record-parity.sh) and its image listed into `expected.json`;
//! `parity_matches_buildkit` builds the same cases with builder and compares the listings.
//!
//! - `cargo test --test parity` — lister self-tests and case sanity (no Docker, no builder).
//! - `cargo test --test parity -- --ignored parity_matches_buildkit --nocapture` — the comparison
//!   (root; `PARITY_CASES=01,50` and `PARITY_KIND=run|norun` select cases).
//! - `prepare_contexts` and `record` are steps of scripts/record-parity.sh.

#[path = "parity/cases.rs"]
mod cases;
#[path = "parity/lister.rs"]
mod lister;

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

/// Recording step 1: prepared contexts and docker arguments in `$PARITY_OUT/cases/NAME/`.
#[test]
#[ignore = "a step of scripts/record-parity.sh"]
fn prepare_contexts() -> Result<()> {
    let out = out_dir()?;
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
        std::fs::write(d.join("docker-args"), args)?;
    }
    Ok(())
}

/// Recording step 2: list `$PARITY_OUT/cases/NAME/image.tar` (from `docker save`) into the
/// case's expected.json; `$PARITY_OUT/base.tar` is the base image, `$PARITY_OUT/rootfs` its tree.
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
        lister::render(&base_json).as_bytes(),
    )?;
    for case in load_cases()? {
        let img = out.join("cases").join(&case.name).join("image.tar");
        let listing = lister::list_archive(&img)
            .with_context(|| format!("case {}: listing {}", case.name, img.display()))?;
        let doc = listing.to_json(&case.name, &base.history);
        write_atomic(
            &case.dir.join("expected.json"),
            lister::render(&doc).as_bytes(),
        )?;
        println!("recorded {}", case.name);
    }
    Ok(())
}

/// Case names listed in known-differences.txt (`NAME  reason` lines, `#` comments).
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

/// Builds, saves and lists one case with builder; returns the differences.
fn check_case(
    case: &Case,
    root: &Path,
    work: &Path,
    base_history: &[(String, bool)],
    busybox: &(String, u64),
) -> Result<Vec<String>> {
    let d = work.join(&case.name);
    let ctx = d.join("ctx");
    prepare_context(case, &ctx)?;
    let tag = format!("parity/{}:latest", case.name);
    run(builder_build_cmd(root, case, &ctx, &tag), "builder build")?;
    let tar = d.join("image.tar");
    run(builder_save_cmd(root, &tag, &tar), "builder save")?;
    let actual = lister::list_archive(&tar)?.to_json(&case.name, base_history);
    let exp_path = case.dir.join("expected.json");
    let mut expected: Value = serde_json::from_slice(
        &std::fs::read(&exp_path).with_context(|| format!("reading {}", exp_path.display()))?,
    )?;
    adapt_busybox(&mut expected, &busybox.0, busybox.1)?;
    Ok(lister::diff(&expected, &actual))
}

/// The comparison with BuildKit: every case not in known-differences.txt must list exactly as
/// recorded. Needs root and the builder engine (import, build, save).
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

    let skip = known_differences()?;
    let cases = load_cases()?;
    let (mut matched, mut total, mut failed) = (0, 0, Vec::new());
    for case in &cases {
        if let Some((_, why)) = skip.iter().find(|(n, _)| *n == case.name) {
            println!("parity: {} skipped (known difference: {why})", case.name);
            continue;
        }
        total += 1;
        match check_case(case, &root, work.path(), &base_history, &busybox) {
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
            cases.iter().any(|c| &c.name == n) || std::env::var_os("PARITY_CASES").is_some(),
            "known-differences.txt names unknown case {n}"
        );
        assert!(!why.is_empty(), "known difference {n} gives no reason");
    }
    let tmp = tempfile::tempdir()?;
    for case in &cases {
        prepare_context(case, &tmp.path().join(&case.name))?;
        let p = case.dir.join("expected.json");
        let v: Value = serde_json::from_slice(
            &std::fs::read(&p).with_context(|| format!("case {}: no expected.json", case.name))?,
        )
        .with_context(|| format!("parsing {}", p.display()))?;
        assert_eq!(v["case"], json!(case.name), "{}", p.display());
        assert!(v["files"].as_array().is_some_and(|f| !f.is_empty()) || v["layers"] == json!(0));
        assert_eq!(v["os"], json!("linux"), "{}", p.display());
        // The expectation must be exactly what the renderer writes (no hand edits drift).
        let text = std::fs::read_to_string(&p)?;
        assert_eq!(
            text,
            lister::render(&v),
            "{} is not in canonical form",
            p.display()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Lister self-tests on hand-made archives.

/// A tar entry for the hand-made layers.
enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, u32, &'a [u8]),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn layer_tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::Dir(p, m) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*m);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::File(p, m, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*m);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Link(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hard(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A docker-archive with the given layers (the second one gzipped, to cover both).
fn archive(layers: &[Vec<u8>], config: Value) -> tempfile::NamedTempFile {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let blob = if i == 1 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(l).unwrap();
            gz.finish().unwrap()
        } else {
            l.clone()
        };
        let name = format!("blobs/sha256/{}", hex::encode(Sha256::digest(&blob)));
        add(&name, &blob);
        names.push(name);
    }
    let cfg = serde_json::to_vec(&config).unwrap();
    add("blobs/sha256/config", &cfg);
    let manifest =
        json!([{"Config": "blobs/sha256/config", "RepoTags": ["t:latest"], "Layers": names}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&b.into_inner().unwrap()).unwrap();
    f
}

#[test]
fn lister_applies_whiteouts_and_opaque_dirs() -> Result<()> {
    let l1 = layer_tar(&[
        E::Dir("etc/", 0o755),
        E::File("etc/group", 0o644, b"root:x:0:\n"),
        E::File("etc/passwd", 0o644, b"root\n"),
        E::Dir("home/", 0o755),
        E::Dir("home/old/", 0o700),
        E::File("home/old/f", 0o600, b"x"),
        E::File("home/top", 0o644, b"y"),
        E::Dir("var/", 0o755),
        E::File("var/gone", 0o644, b"z"),
    ]);
    let l2 = layer_tar(&[
        E::Dir("etc/", 0o755),
        E::File("etc/.wh.group", 0o600, b""),
        E::Dir("home/", 0o711),
        // The opaque marker after a new entry of the same layer must not delete it.
        E::File("home/new", 0o4755, b"new"),
        E::File("home/.wh..wh..opq", 0o600, b""),
        E::File(".wh.var", 0o600, b""),
        E::Link("bin", "usr/bin"),
    ]);
    let cfg = json!({"architecture": "amd64", "os": "linux",
        "config": {"Env": ["A=1"], "Cmd": ["sh"], "Volumes": {}, "ArgsEscaped": false},
        "history": [{"created_by": "base"}, {"created_by": "RUN x", "empty_layer": false},
                    {"created_by": "ENV A=1", "empty_layer": true}]});
    let ar = archive(&[l1, l2], cfg);
    let l = lister::list_archive(ar.path())?;
    let paths: Vec<&str> = l.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        ["/bin", "/etc", "/etc/passwd", "/home", "/home/new"],
        "whiteouts resolved"
    );
    assert_eq!(l.files["/home"].mode, 0o711, "upper dir metadata wins");
    assert_eq!(l.files["/home/new"].mode, 0o4755, "suid kept");
    assert_eq!(l.files["/bin"].link.as_deref(), Some("usr/bin"));
    assert_eq!(l.layers, 2);
    assert_eq!(l.config["Volumes"], Value::Null, "empty map folded to null");
    assert_eq!(l.config["ArgsEscaped"], Value::Null);
    let doc = l.to_json("x", &[("base".to_string(), false)]);
    assert_eq!(doc["base_history_entries"], json!(1));
    assert_eq!(
        doc["history"],
        json!([{"created_by": "RUN x", "empty_layer": false},
               {"created_by": "ENV A=1", "empty_layer": true}])
    );
    // render() output parses back to the same document.
    let back: Value = serde_json::from_str(&lister::render(&doc))?;
    assert_eq!(back, doc);
    Ok(())
}

#[test]
fn lister_describes_hardlinks_order_independently() -> Result<()> {
    let a = layer_tar(&[
        E::Dir("d/", 0o755),
        E::File("d/z", 0o640, b"same"),
        E::Hard("d/a", "d/z"),
    ]);
    let b = layer_tar(&[
        E::Dir("d/", 0o755),
        E::File("d/a", 0o640, b"same"),
        E::Hard("d/z", "d/a"),
    ]);
    let cfg = json!({"architecture": "amd64", "os": "linux", "config": {}});
    let la = lister::list_archive(archive(&[a], cfg.clone()).path())?;
    let lb = lister::list_archive(archive(&[b], cfg).path())?;
    assert_eq!(la.files, lb.files);
    assert_eq!(la.files["/d/a"].kind, "file");
    assert_eq!(la.files["/d/z"].kind, "hardlink");
    assert_eq!(la.files["/d/z"].link.as_deref(), Some("/d/a"));
    assert_eq!(la.files["/d/z"].mode, 0o640);
    // A later layer that rewrites one name breaks the link.
    let c = layer_tar(&[E::Dir("d/", 0o755), E::File("d/z", 0o644, b"other")]);
    let base = layer_tar(&[
        E::Dir("d/", 0o755),
        E::File("d/a", 0o640, b"same"),
        E::Hard("d/z", "d/a"),
    ]);
    let lc = lister::list_archive(archive(&[base, c], json!({"config": {}})).path())?;
    assert_eq!(lc.files["/d/a"].kind, "file");
    assert_eq!(lc.files["/d/z"].kind, "file");
    assert_eq!(lc.files["/d/z"].size, 5);
    Ok(())
}

#[test]
fn diff_reports_fields_and_files() {
    let e = json!({"layers": 2, "config": {"Cmd": ["sh"], "User": null},
        "files": [{"path": "/a", "type": "file", "mode": "0644"}, {"path": "/b", "type": "dir"}]});
    let a = json!({"layers": 3, "config": {"Cmd": ["sh"], "User": "app"},
        "files": [{"path": "/a", "type": "file", "mode": "0600"}, {"path": "/c", "type": "dir"}]});
    let d = lister::diff(&e, &a);
    let all = d.join("\n");
    assert!(all.contains("layers: expected 2, got 3"), "{all}");
    assert!(
        all.contains("config.User: expected null, got \"app\""),
        "{all}"
    );
    assert!(all.contains("file /a: mode \"0644\" ≠ \"0600\""), "{all}");
    assert!(all.contains("file /b: missing"), "{all}");
    assert!(all.contains("file /c: unexpected"), "{all}");
    assert_eq!(d.len(), 5, "{all}");
    assert!(lister::diff(&e, &e).is_empty());
}
