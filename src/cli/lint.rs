//! `builder build --check` / `--call check` and the lint warnings of a normal
//! build, as buildx 0.15+ prints them (`commands/build.go printResult`,
//! `printWarnings`) over BuildKit's rules (`dockerfile::lint`).

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::{anyhow, bail, Result};

use super::build::BuildArgs;
use crate::dockerfile::lint::{self, print, Config, Finding};
use crate::dockerfile::Dockerfile;

/// `--call` values builder knows; buildx's others (`outline`, `targets`)
/// are refused by name.
pub fn check_call(args: &BuildArgs) -> Result<()> {
    match args.call.as_deref() {
        None | Some("build") | Some("check") | Some("lint") => Ok(()),
        Some(other) => bail!(
            "--call {other}: not supported (builder knows build and check); outline and targets \
             are not implemented"
        ),
    }
}

/// True for `--check` and `--call check` (buildx's alias `lint`).
pub fn is_check(args: &BuildArgs) -> bool {
    args.check || matches!(args.call.as_deref(), Some("check") | Some("lint"))
}

/// The lint findings of `df`, with its `# check=` directive applied.
/// Errors: a malformed directive (BuildKit's message).
pub fn run(
    df: &Dockerfile,
    text: &str,
    file: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<(Vec<Finding>, Config)> {
    // BUILDKIT_DOCKERFILE_CHECK as a build arg overrides the directive, as in BuildKit.
    let directive = build_args
        .get("BUILDKIT_DOCKERFILE_CHECK")
        .cloned()
        .or_else(|| df.directives.check.clone())
        .unwrap_or_default();
    let config = Config::parse(&directive).map_err(|e| anyhow!("{file}: check directive: {e}"))?;
    Ok((lint::lint(df, text, &config, build_args), config))
}

/// `--check`: the findings on stdout as buildx prints them; exit status 1
/// with BuildKit's error when the directive says `error=true` and there are
/// findings, else 0.
pub fn report_check(findings: &[Finding], config: &Config, file: &str, text: &str) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    if !findings.is_empty() {
        write!(out, "{}", print::summary(findings.len()))?;
    }
    for f in findings {
        write!(out, "{}", print::finding(f, file, text))?;
    }
    if config.error && !findings.is_empty() {
        writeln!(out)?;
        out.flush()?;
        eprintln!("ERROR: {}", print::error_message(findings));
        return Ok(1);
    }
    if findings.is_empty() {
        write!(out, "{}", print::summary(0))?;
    }
    Ok(0)
}

/// During a build: buildx's short list on stderr
/// (a count line, then ` - Rule: message (line N)` per finding); with `error=true` the build fails.
pub fn print_warnings(findings: &[Finding], config: &Config) -> Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    let n = findings.len();
    // buildx words it ` N warnings found (use docker --debug to expand):`;
    // "lint findings" here, so the lines are not mistaken for builder's own
    // `warning:` lines by scripts that grep for those.
    eprintln!(
        " {n} lint finding{} (builder build --check shows them in full):",
        if n == 1 { "" } else { "s" }
    );
    for f in findings {
        eprintln!(" - {}: {} (line {})", f.rule.name, f.message, f.start_line);
    }
    if config.error {
        bail!("{}", print::error_message(findings));
    }
    Ok(())
}
