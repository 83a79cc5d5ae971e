//! The first half of `builder build`, before any step runs: the Dockerfile
//! read and parsed, every flag checked, the lint rules of the file run
//! (`--check` ends here), the named contexts stored and one plan made per
//! target platform (`--dry-run` ends here).

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::build::BuildArgs;
use super::build_flags::{parse_build_args, parse_labels};
use super::pull::StoreArgs;
use crate::plan::{Plan, PlanOptions, Platform};

/// What [`prepare`] hands to the build.
pub(super) struct Prepared {
    /// The Dockerfile's name as shown in messages, its bytes and its path
    /// (`None` on stdin).
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub dockerfile_path: Option<PathBuf>,
    /// The context tar read from stdin (it held the Dockerfile).
    pub stdin_context: Option<super::build_input::StdinTar>,
    /// The Dockerfile decoded as BuildKit reads it.
    pub text: String,
    pub build_args: std::collections::BTreeMap<String, String>,
    pub annotations: crate::image::annotations::Annotations,
    /// The file's lint findings and the `# check=` configuration.
    pub findings: Vec<crate::dockerfile::lint::Finding>,
    pub lint_config: crate::dockerfile::lint::Config,
    /// One plan per target platform; `plan` is the first.
    pub plans: Vec<Plan>,
    pub plan: Plan,
    /// `--allow` entitlements (plus network.host for `--network host`).
    pub allowed: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub limits: crate::sandbox::limits::Limits,
    pub attest_opts: crate::attest::AttestOptions,
    /// When the build started (for provenance).
    pub started: i64,
}

/// Either the build goes on, or the command is done with this exit status
/// (`--check`, `--dry-run`).
pub(super) enum Next {
    Exit(i32),
    Build(Box<Prepared>),
}

/// Everything `builder build` checks and plans before the first step.
/// Errors: bad flags, an unreadable or invalid Dockerfile, a failed plan,
/// all naming the flag or the line.
pub(super) fn prepare(args: &BuildArgs) -> Result<Next> {
    // Before any work: the target platforms (all Linux); whether a RUN can execute for a
    // foreign one is checked when the first one runs (sandbox::binfmt::ensure_runnable).
    let platforms: Vec<Platform> = match &args.platform {
        Some(p) => crate::plan::platform::build_targets(p)?,
        None => Vec::new(),
    };
    let (file_name, bytes, dockerfile_path, stdin_context) =
        super::build_input::read_dockerfile(args)?;
    // Bytes that are not UTF-8 are read as BuildKit reads them (see dockerfile::parse_bytes).
    let text = crate::dockerfile::decode(&bytes);
    let df = match crate::dockerfile::parse_bytes(&bytes) {
        Ok(df) => df,
        Err(diag) => bail!("{}", diag.in_file(file_name)),
    };
    let mut build_args = parse_build_args(&args.build_args)?;
    // buildx passes SOURCE_DATE_EPOCH from its environment as the build-arg
    // unless one is given (`build/build.go`), so `ARG SOURCE_DATE_EPOCH` sees it.
    if let Some(epoch) = args.source_date_epoch {
        build_args
            .entry("SOURCE_DATE_EPOCH".to_string())
            .or_insert_with(|| epoch.to_string());
    }
    let named = super::build_context::parse_all(&args.build_contexts)?;
    let annotations = crate::image::annotations::Annotations::parse(&args.annotations)?;
    // Lint rules (BuildKit's): with --check / --call check they are the result.
    let (findings, lint_config) = super::lint::run(&df, &text, &file_name, &build_args)?;
    if super::lint::is_check(args) {
        let findings = super::lint::check_findings(
            args,
            &df,
            &text,
            &file_name,
            &build_args,
            &named,
            &platforms,
            dockerfile_path.as_deref(),
            findings,
            &lint_config,
        )?;
        return Ok(Next::Exit(super::lint::report_check(
            &findings,
            &lint_config,
            &file_name,
            &text,
        )?));
    }
    super::output::check_outputs(&args.outputs, args.load)?;
    if platforms.len() > 1 && args.load {
        // As buildx: `docker load` takes one platform's image, not an index.
        bail!(
            "--load: docker load takes one image, not several platforms' ({}); build one \
             --platform for --load, or use --push / --output type=oci",
            args.platform.as_deref().unwrap_or_default()
        );
    }

    // Named contexts that are directories or OCI layouts become images in
    // the store first, one per target platform (a directory's image carries
    // the platform it is a base for); docker-image:// ones are only names.
    let context_store = if named.is_empty() {
        None
    } else {
        Some(
            StoreArgs {
                root: args.root.clone(),
                registry_config: args.registry_config.clone(),
            }
            .open_store()?,
        )
    };
    // One plan per target platform: each sees its own TARGET* args.
    let targets: Vec<Option<Platform>> = match platforms.len() {
        0 => vec![None],
        _ => platforms.iter().cloned().map(Some).collect(),
    };
    let mut plans = Vec::new();
    for platform in targets {
        let named_images = match &context_store {
            Some(store) => {
                let p = platform.clone().unwrap_or_else(Platform::host);
                super::build_context::prepare(store, &named, &p)?
            }
            None => Default::default(),
        };
        let opts = PlanOptions {
            build_args: build_args.clone(),
            target: args.target.clone(),
            platform,
            build_platform: None,
            source: text.clone(),
            file: file_name.clone(),
            named_contexts: named_images,
        };
        match crate::plan::plan(&df, &opts) {
            Ok(p) => plans.push(p),
            Err(diag) => bail!("{diag}"),
        }
    }
    let plan = plans[0].clone();
    let mut allowed = crate::plan::entitlements::parse_allow(&args.allow)?;
    // buildx's `--network host` adds the network.host entitlement to the
    // build's allowed ones itself (build/opt.go), and dockerd's BuildKit
    // grants it: so it needs no `--allow`, and RUN --network=host is allowed too.
    if args.network == "host" {
        allowed.push(crate::plan::entitlements::NETWORK_HOST.to_string());
    }
    for p in &plans {
        if let Err(diag) = crate::plan::entitlements::check(p, &allowed) {
            bail!("{diag}");
        }
    }
    let labels = parse_labels(&args.labels)?;
    let limits = args.limits.limits()?;
    for o in &args.outputs {
        super::output::parse_output(o)?;
    }
    let attest_opts = super::build_attest::options(args)?;
    let started = super::build_attest::now();
    if args.dry_run {
        for p in &plans {
            print!("{}", p.render_dry_run());
        }
        return Ok(Next::Exit(0));
    }
    Ok(Next::Build(Box::new(Prepared {
        file_name,
        bytes,
        dockerfile_path,
        stdin_context,
        text,
        build_args,
        annotations,
        findings,
        lint_config,
        plans,
        plan,
        allowed,
        labels,
        limits,
        attest_opts,
        started,
    })))
}
