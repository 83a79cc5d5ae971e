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

/// Where the stage rules get what they need of the build: the plans (one per
/// target platform), the store and registry for base images, the main
/// context's `.dockerignore`.
pub struct StageInputs<'a> {
    /// The plans to check (findings are merged without repeats).
    pub plans: &'a [crate::plan::Plan],
    /// Every stage (`--check`) or the needed ones (a build).
    pub all_stages: bool,
    /// The main context's ignore matcher.
    pub ignore: Option<&'a crate::context::PatternMatcher>,
    /// Store base images are looked up in (and pulled to); `None` when no
    /// stage has an image base (`--check` then leaves no store behind).
    pub store: Option<&'a crate::store::Store>,
    /// Registry client for bases not in the store.
    pub client: Option<&'a crate::registry::RegistryClient>,
    /// `--pull`: with `never` a base not in the store is not fetched.
    pub pull: crate::engine::base::PullPolicy,
    /// The runtime pulls run on.
    pub rt: &'a tokio::runtime::Runtime,
}

/// The findings of the rules that need the build's state
/// (`dockerfile::lint::stages`), minus those `config` turns off. A base
/// image is looked up in the store, pulled when missing (as BuildKit
/// resolves base image configs before the build); one that cannot be had
/// is left to the build to report.
pub fn stage_findings(inputs: &StageInputs<'_>, config: &Config) -> Vec<Finding> {
    use crate::dockerfile::lint::stages::{lint_stages, BaseImage, StageLint};
    if config.skip_all {
        return Vec::new();
    }
    let mut resolve = |name: &str, platform: &crate::plan::Platform| -> Option<BaseImage> {
        let image = stored_or_pulled(inputs, name, platform)?;
        let c = &image.config;
        let platform = format!("{}/{}", c.os, c.architecture)
            .parse::<crate::plan::Platform>()
            .ok()
            .map(|mut p| {
                if !c.variant.is_empty() && c.architecture != "arm64" {
                    p.variant = c.variant.clone();
                }
                p
            })
            .unwrap_or_else(|| platform.clone());
        Some(BaseImage {
            env: image.scope.env.iter().cloned().collect(),
            platform,
        })
    };
    let mut out: Vec<Finding> = Vec::new();
    for plan in inputs.plans {
        let found = lint_stages(
            plan,
            StageLint {
                all_stages: inputs.all_stages,
                ignore: inputs.ignore,
                resolve_all: inputs.all_stages,
                resolve: &mut resolve,
            },
        );
        for f in found {
            // Platforms' plans mostly repeat each other's findings: keep one of each.
            if config.enabled(&f.rule) && (inputs.plans.len() == 1 || !out.contains(&f)) {
                out.push(f);
            }
        }
    }
    out
}

/// A base image for the stage rules: the stored one for any platform (so a
/// base for another platform is seen as such), else pulled.
fn stored_or_pulled(
    inputs: &StageInputs<'_>,
    name: &str,
    platform: &crate::plan::Platform,
) -> Option<crate::engine::StageImage> {
    use crate::engine::base::{load_local, resolve_image, PullPolicy};
    let (store, client) = (inputs.store?, inputs.client?);
    let r = crate::registry::Reference::parse(name).ok()?;
    let want: crate::store::Platform = platform.to_string().parse().ok()?;
    // The stored copy even with --pull=always: the build fetches the tag's
    // current image itself, the lint only needs its ENV and platform.
    if let Ok(Some(desc)) = store.resolve(&super::pull::store_name(&r)) {
        if let Ok((image, _)) = load_local(store, &desc, &want) {
            return Some(image);
        }
    }
    if inputs.pull == PullPolicy::Never {
        return None;
    }
    inputs
        .rt
        .block_on(resolve_image(
            store,
            client,
            name,
            platform,
            PullPolicy::Missing,
        ))
        .ok()
        .map(|(image, _)| image)
}

/// All findings in BuildKit's order (by line, then rule).
pub fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        a.start_line
            .cmp(&b.start_line)
            .then(a.rule.name.cmp(b.rule.name))
    });
    findings
}

/// `--check`: the file rules' `findings` plus the stage rules over every
/// stage, planned as the build would plan them (named contexts that are
/// images are honoured; directories and OCI layouts are not stored for a check).
#[allow(clippy::too_many_arguments)]
pub fn check_findings(
    args: &BuildArgs,
    df: &Dockerfile,
    text: &str,
    file: &str,
    build_args: &BTreeMap<String, String>,
    named: &BTreeMap<String, super::build_context::NamedContext>,
    platforms: &[crate::plan::Platform],
    dockerfile_path: Option<&std::path::Path>,
    findings: Vec<Finding>,
    config: &Config,
) -> Result<Vec<Finding>> {
    let named_images: BTreeMap<String, String> = named
        .iter()
        .filter_map(|(k, v)| match v {
            super::build_context::NamedContext::Image(r) => Some((k.clone(), r.clone())),
            _ => None,
        })
        .collect();
    let targets: Vec<Option<crate::plan::Platform>> = match platforms.len() {
        0 => vec![None],
        _ => platforms.iter().cloned().map(Some).collect(),
    };
    let mut plans = Vec::new();
    for platform in targets {
        let opts = crate::plan::PlanOptions {
            build_args: build_args.clone(),
            target: args.target.clone(),
            platform,
            build_platform: None,
            source: text.to_string(),
            file: file.to_string(),
            named_contexts: named_images.clone(),
        };
        // A file the build would refuse (an invalid base name, an unknown
        // --target) still gets its file rules' result; the stage rules need a plan.
        match crate::plan::plan(df, &opts) {
            Ok(p) => plans.push(p),
            Err(_) => return Ok(sorted(findings)),
        }
    }
    let ignore = if args.context == "-" {
        None
    } else {
        let root = std::path::Path::new(&args.context);
        let spec = crate::context::IgnoreSpec::Auto {
            dockerfile: dockerfile_path
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())),
        };
        let loaded = crate::context::load_ignore(root, &spec)?;
        Some(crate::context::dockerignore::build_matcher(&loaded)?)
    };
    let store_args = super::pull::StoreArgs {
        root: args.root.clone(),
        registry_config: args.registry_config.clone(),
    };
    let image_bases = plans.iter().any(|p| {
        p.stages
            .iter()
            .any(|s| matches!(s.base, crate::plan::Base::Image(_)))
    });
    let (store, client) = if image_bases {
        (Some(store_args.open_store()?), Some(store_args.client()?))
    } else {
        (None, None)
    };
    let rt = super::pull::runtime()?;
    let inputs = StageInputs {
        plans: &plans,
        all_stages: true,
        ignore: ignore.as_ref(),
        store: store.as_ref(),
        client: client.as_ref(),
        pull: args.pull.parse().map_err(|e: String| anyhow!(e))?,
        rt: &rt,
    };
    let mut all = findings;
    all.extend(stage_findings(&inputs, config));
    Ok(sorted(all))
}
