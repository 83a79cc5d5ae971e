//! Parity cases on disk: `tests/parity/cases/NN-name/` holds a Dockerfile, context files and
//! optional metadata files (never part of the build context):
//! - `build-args`: `KEY=VALUE` lines (`#` comments) passed as `--build-arg`
//! - `target`: the stage name for `--target`
//! - `platform`: the `--platform` value (a foreign one runs its RUN steps through QEMU)
//! - `kind`: `run` for cases with RUN steps (they need the sandbox)
//! - `setup.sh`: run with `sh` inside the prepared context for what git cannot store (hardlinks,
//!   empty directories, odd modes)
//! - `base`: names of per-case base images (one a line), made by `bases.rs` and reached as
//!   `FROM NAME` (Docker through its docker.io mirror, builder from a registry the test starts)
//! - `layers`: also list every entry of each layer the case adds, in tar order, with mtimes,
//!   PAX records and link names, and the layer's diffID when no mtime in it is recent (see
//!   `layer_entries.rs`); expected.json then has `layer_entries`
//! - `expect-error`: the case must fail; its lines are fragments of Docker's error that builder's
//!   error must contain too (`#` comments)
//! - `expected.json`: what Docker 26.1 / BuildKit 0.13 produced, written by the recorder; for
//!   failing cases `expected-error.json` instead (Docker's exact error, see `failure.rs`)

use anyhow::{bail, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files in a case directory that describe the case and are not copied into the context.
pub const META_FILES: &[&str] = &[
    "build-args",
    "target",
    "platform",
    "kind",
    "setup.sh",
    "base",
    "expect-error",
    "layers",
    "expected.json",
    "expected-error.json",
];

/// One case directory.
#[derive(Debug, Clone)]
pub struct Case {
    /// Directory name, e.g. `01-copy-file-to-dir`.
    pub name: String,
    pub dir: PathBuf,
    /// `--build-arg` values in file order.
    pub build_args: Vec<String>,
    pub target: Option<String>,
    /// `--platform`, from `platform`.
    pub platform: Option<String>,
    /// True for `kind` = `run`.
    pub is_run: bool,
    /// Per-case base image recipes (`base`), in file order.
    pub bases: Vec<String>,
    /// Fragments of the expected error (`expect-error`); `None` when the build must succeed.
    pub expect_error: Option<Vec<String>>,
    /// Layer entries are compared too (a `layers` file).
    pub layers: bool,
}

/// The suite directory (`tests/parity`).
pub fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity")
}

/// All cases, sorted by name, optionally filtered by `PARITY_CASES` (comma-separated name
/// prefixes or case numbers) and `PARITY_KIND` (`run` or `norun`).
pub fn load_cases() -> Result<Vec<Case>> {
    let root = suite_dir().join("cases");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let only: Vec<String> = std::env::var("PARITY_CASES")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let kind = std::env::var("PARITY_KIND").ok();
    let mut cases = Vec::new();
    for name in names {
        if !only.is_empty() && !only.iter().any(|p| selects(p, &name)) {
            continue;
        }
        let case = load_case(&root.join(&name))?;
        match kind.as_deref() {
            Some("run") if !case.is_run => continue,
            Some("norun") if case.is_run => continue,
            _ => {}
        }
        cases.push(case);
    }
    Ok(cases)
}

/// Whether `PARITY_CASES` prefix `p` selects case `name`: a number selects that case number only
/// (`10` is `10-…`, not `100-…`), anything else is a plain name prefix.
pub fn selects(p: &str, name: &str) -> bool {
    if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
        name.strip_prefix(p).is_some_and(|r| r.starts_with('-'))
    } else {
        name.starts_with(p)
    }
}

/// Reads one case directory's metadata.
pub fn load_case(dir: &Path) -> Result<Case> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !dir.join("Dockerfile").is_file() {
        bail!("case {name}: no Dockerfile");
    }
    let read_opt = |f: &str| -> Result<Option<String>> {
        let p = dir.join(f);
        if p.exists() {
            Ok(Some(
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?,
            ))
        } else {
            Ok(None)
        }
    };
    let lines = |text: Option<String>| -> Vec<String> {
        text.unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect()
    };
    let build_args = lines(read_opt("build-args")?);
    for a in &build_args {
        if !a.contains('=') {
            bail!("case {name}: build-args line {a:?} is not KEY=VALUE");
        }
    }
    let target = read_opt("target")?
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let platform = read_opt("platform")?
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let is_run = match read_opt("kind")?.as_deref().map(str::trim) {
        None => false,
        Some("run") => true,
        Some(other) => bail!("case {name}: unknown kind {other:?}"),
    };
    let bases = lines(read_opt("base")?);
    let expect_error = read_opt("expect-error")?.map(|t| lines(Some(t)));
    if expect_error.as_ref().is_some_and(Vec::is_empty) {
        bail!("case {name}: expect-error lists no fragment");
    }
    Ok(Case {
        name,
        dir: dir.to_path_buf(),
        build_args,
        target,
        platform,
        is_run,
        bases,
        expect_error,
        layers: dir.join("layers").exists(),
    })
}

/// Copies the case's context into `dest` (which must not exist): metadata files are left out,
/// modes are normalised (git keeps only the executable bit; the checkout's umask must not
/// matter), symlinks stay symlinks, then `setup.sh` runs inside `dest`.
pub fn prepare_context(case: &Case, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))?;
    for entry in walkdir::WalkDir::new(&case.dir)
        .min_depth(1)
        .sort_by_file_name()
    {
        let entry = entry.with_context(|| format!("walking {}", case.dir.display()))?;
        let rel = entry.path().strip_prefix(&case.dir)?;
        if rel.components().count() == 1 && META_FILES.contains(&rel.to_string_lossy().as_ref()) {
            continue;
        }
        let to = dest.join(rel);
        let ft = entry.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            std::os::unix::fs::symlink(&target, &to)
                .with_context(|| format!("symlink {}", to.display()))?;
        } else if ft.is_dir() {
            std::fs::create_dir(&to).with_context(|| format!("mkdir {}", to.display()))?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
        } else {
            let exec = entry.metadata()?.permissions().mode() & 0o111 != 0;
            std::fs::copy(entry.path(), &to)
                .with_context(|| format!("copying {}", entry.path().display()))?;
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))?;
        }
    }
    let setup = case.dir.join("setup.sh");
    if setup.is_file() {
        let st = Command::new("sh")
            .arg("-eu")
            .arg(&setup)
            .current_dir(dest)
            .status()
            .with_context(|| format!("running {}", setup.display()))?;
        if !st.success() {
            bail!("case {}: setup.sh failed ({st})", case.name);
        }
    }
    Ok(())
}
