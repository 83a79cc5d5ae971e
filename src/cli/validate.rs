//! `builder build`'s flags checked before any work: every tag, label, output,
//! cache, secret and ssh spec and every enumerated value, so a typo fails in
//! milliseconds, not after the build (the promise of `docker buildx build`,
//! whose flag parsing rejects these before the solve starts).
//!
//! Each error names the flag as the user spelled it and what it accepts,
//! e.g. `--compression lz4: unknown compression "lz4" (expected gzip, zstd or
//! uncompressed)`.

use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};

use super::build::BuildArgs;
use super::build_flags::SecretSpec;
use crate::registry::Reference;

/// The values `--pull` takes besides its bare form (buildx's boolean
/// `--pull` = `always`); `true`/`false` are buildx's spellings.
pub const PULL_VALUES: [&str; 5] = ["always", "missing", "never", "true", "false"];

/// Output exporter types (`-o type=…`) builder writes.
pub const OUTPUT_TYPES: [&str; 6] = ["oci", "docker", "tar", "local", "registry", "image"];

/// Checks every flag of `builder build` that can be checked without reading
/// the Dockerfile or the context. Errors name the flag and what it accepts.
pub fn check(args: &BuildArgs) -> Result<()> {
    for t in &args.tags {
        Reference::parse(t).map_err(|e| anyhow!("-t/--tag {t:?}: {e}"))?;
    }
    for a in &args.build_args {
        check_build_arg(a)?;
    }
    super::build_flags::parse_labels(&args.labels)?;
    let algo: crate::layer::Compression = args
        .compression
        .parse()
        .map_err(|e| anyhow!("--compression {}: {e}", args.compression))?;
    if let Some(level) = args.compression_level {
        algo.check_level(level)
            .map_err(|e| anyhow!("--compression-level {level}: {e}"))?;
    }
    match args.format.as_str() {
        "oci" | "docker" => {}
        other => bail!("--format {other:?}: use oci or docker"),
    }
    match args.network.as_str() {
        "default" | "host" | "none" => {}
        other => {
            bail!("--network {other:?}: use default, host or none")
        }
    }
    super::build_flags::parse_add_hosts(&args.add_hosts)?;
    if let Some(v) = &args.shm_size {
        super::build_flags::parse_shm_size(v)?;
    }
    crate::image::annotations::Annotations::parse(&args.annotations)?;
    super::build_context::parse_all(&args.build_contexts)?;
    super::lint::check_call(args)?;
    if !args.quiet {
        args.progress
            .parse::<crate::progress::Mode>()
            .map_err(|e| anyhow!("--progress: {e}"))?;
    } else if !matches!(args.progress.as_str(), "auto" | "quiet") {
        // buildx refuses a progress display the quiet flag would hide (its words).
        bail!(
            "-q/--quiet: progress={} and quiet cannot be used together",
            args.progress
        );
    }
    for w in args.compat.warnings()? {
        eprintln!("warning: {w}");
    }
    args.pull
        .parse::<crate::engine::base::PullPolicy>()
        .map_err(|e| anyhow!("--pull={}: {e}", args.pull))?;
    if args.jobs == Some(0) {
        bail!("--jobs 0: give at least 1");
    }
    let mut pushes_by_output = false;
    for o in &args.outputs {
        pushes_by_output |= check_output(o)?;
    }
    if args.push && args.tags.is_empty() && !pushes_by_output {
        bail!("--push needs the image's name: give -t REGISTRY/NAME:TAG (or -o type=registry,name=REGISTRY/NAME:TAG)");
    }
    for c in &args.cache_from {
        crate::engine::CacheSpec::parse_import(c)?;
    }
    for c in &args.cache_to {
        crate::engine::CacheSpec::parse_export(c)?;
    }
    for s in &args.secrets {
        check_secret(s)?;
    }
    for s in &args.ssh {
        check_ssh(s)?;
    }
    if args.file.as_deref() == Some("-") && args.context == "-" {
        bail!("-f - and context -: stdin can hold the Dockerfile or the context, not both");
    }
    Ok(())
}

/// `--build-arg NAME=VALUE` or `--build-arg NAME`; the name must not be empty.
pub fn check_build_arg(a: &str) -> Result<()> {
    let name = a.split_once('=').map_or(a, |(k, _)| k);
    if name.is_empty() {
        bail!("--build-arg {a:?}: the name is empty (expected NAME=VALUE or NAME)");
    }
    if name.chars().any(char::is_whitespace) {
        bail!("--build-arg {a:?}: the name {name:?} contains white space");
    }
    Ok(())
}

/// One `-o`/`--output`; true when it pushes to a named registry image.
fn check_output(spec: &str) -> Result<bool> {
    let f = super::output::parse_output(spec)?;
    let kind = f["type"].as_str();
    if !OUTPUT_TYPES.contains(&kind) {
        bail!(
            "--output {spec}: type={kind} is not supported: use {}",
            OUTPUT_TYPES.join(", ")
        );
    }
    for key in ["force-compression", "oci-mediatypes", "push"] {
        if let Some(v) = f.get(key) {
            if !matches!(v.as_str(), "true" | "false" | "1" | "0") {
                bail!("--output {spec}: {key}={v}: expected true or false");
            }
        }
    }
    let algo: crate::layer::Compression = match f.get("compression") {
        Some(a) => a
            .parse()
            .map_err(|e| anyhow!("--output {spec}: compression={a}: {e}"))?,
        None => crate::layer::Compression::Gzip,
    };
    if let Some(l) = f.get("compression-level") {
        let level: i32 = l
            .parse()
            .map_err(|_| anyhow!("--output {spec}: compression-level={l} is not a number"))?;
        if f.contains_key("compression") {
            algo.check_level(level)
                .map_err(|e| anyhow!("--output {spec}: {e}"))?;
        }
    }
    match kind {
        "registry" | "image" => {
            let name = f.get("name").ok_or_else(|| {
                anyhow!("--output {spec}: type={kind} needs name=REGISTRY/NAME:TAG")
            })?;
            for n in name.split(',') {
                Reference::parse(n).map_err(|e| anyhow!("--output {spec}: name={n:?}: {e}"))?;
            }
            Ok(kind == "registry" || f.get("push").is_some_and(|v| v == "true" || v == "1"))
        }
        _ => {
            if !f.contains_key("dest") {
                bail!("--output {spec}: type={kind} needs dest=PATH");
            }
            Ok(false)
        }
    }
}

/// `--secret id=X[,type=file|env][,src=FILE|,env=VAR]`: the fields (as
/// buildx parses them, see [`SecretSpec`]), and that the file or variable
/// is there (buildx's secret store stats the file before the build).
fn check_secret(spec: &str) -> Result<()> {
    let s = SecretSpec::parse(spec)?;
    match (&s.env, &s.file) {
        (Some(var), _) => {
            if std::env::var_os(var).is_none() {
                bail!("--secret {spec}: environment variable {var} is not set");
            }
        }
        (None, Some(path)) => {
            std::fs::metadata(path)
                .map_err(|e| crate::diag::go_error("stat", Path::new(path), &e))
                .with_context(|| format!("--secret {spec}"))?;
        }
        (None, None) => {}
    }
    Ok(())
}

/// `--ssh default|ID[=SOCKET|KEY[,…]]`: the socket or key files exist.
fn check_ssh(spec: &str) -> Result<()> {
    let (id, paths) = match spec.split_once('=') {
        Some((id, p)) => (id, p),
        None => (spec, ""),
    };
    if id.is_empty() {
        bail!("--ssh {spec}: the id is empty (expected default or ID=SOCKET)");
    }
    if paths.is_empty() {
        if std::env::var_os("SSH_AUTH_SOCK").is_none() {
            bail!("--ssh {spec}: SSH_AUTH_SOCK is not set (give ID=SOCKET)");
        }
        return Ok(());
    }
    for p in paths.split(',') {
        if !Path::new(p).exists() {
            bail!("--ssh {spec}: {p} does not exist");
        }
    }
    Ok(())
}

/// Rewrites `--pull VALUE` to `--pull=VALUE` for the words `--pull` takes,
/// so the bare boolean `--pull` of buildx never swallows the context
/// (`build -t x --pull .`) while `--pull missing` keeps working.
pub fn normalize_pull(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let is_build = args.get(1).is_some_and(|a| a == "build");
    if !is_build {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a);
            out.extend(it.by_ref());
            break;
        }
        let next_is_value = it
            .peek()
            .and_then(|n| n.to_str())
            .is_some_and(|n| PULL_VALUES.contains(&n));
        if a == "--pull" && next_is_value {
            let mut joined = std::ffi::OsString::from("--pull=");
            joined.push(it.next().expect("peeked"));
            out.push(joined);
        } else {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_pull;
    use std::ffi::OsString;

    fn norm(v: &[&str]) -> Vec<String> {
        normalize_pull(v.iter().map(OsString::from).collect())
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn pull_values_are_joined_and_contexts_left_alone() {
        assert_eq!(
            norm(&["b", "build", "--pull", "never", "."]),
            ["b", "build", "--pull=never", "."]
        );
        assert_eq!(
            norm(&["b", "build", "--pull", "."]),
            ["b", "build", "--pull", "."]
        );
        assert_eq!(
            norm(&["b", "run", "--pull", "never"]),
            ["b", "run", "--pull", "never"]
        );
    }
}
