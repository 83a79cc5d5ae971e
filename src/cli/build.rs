//! `builder build`: Dockerfile + context → image, like `docker build`.
//!
//! * `build_args`: the flags.
//! * `build_prepare`: everything before the first step (`--check` and
//!   `--dry-run` end there).
//! * here: the context, the stage lint rules, the engine, the build.
//! * `build_single` / `build_multi`: storing and publishing the result.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};

pub use super::build_args::BuildArgs;
use super::build_flags::{parse_secrets, parse_ssh};
use super::build_prepare::{prepare, Next};
use super::pull::{runtime, StoreArgs};
use crate::context::{BuildContext, IgnoreSpec};
use crate::engine::{CacheSpec, Engine, EngineOptions};
use crate::plan::instructions::Network;
use crate::progress::{Mode, Progress};
use crate::registry::Reference;

/// Runs `builder build`.
pub fn run(args: BuildArgs) -> Result<i32> {
    // With --progress=json every line is an event: the error that ends the
    // build too (not an `error:` text line).
    let json = !args.quiet && matches!(args.progress.as_str(), "json" | "rawjson");
    match run_build(args) {
        Err(e) if json => {
            Progress::new(Mode::Json).build_error(format!("{e:#}"));
            Ok(1)
        }
        other => other,
    }
}

fn run_build(args: BuildArgs) -> Result<i32> {
    let mut p = match prepare(&args)? {
        Next::Exit(code) => return Ok(code),
        Next::Build(p) => *p,
    };
    let mode: Mode = if args.quiet {
        Mode::Quiet
    } else {
        args.progress.parse().map_err(|e: String| anyhow!(e))?
    };
    let progress = Progress::new(mode);
    for w in &p.plan.warnings {
        progress.warn(w.as_str());
    }

    let store_args = StoreArgs {
        root: args.root.clone(),
        registry_config: args.registry_config.clone(),
    };
    let store = Arc::new(store_args.open_store()?);
    let client = Arc::new(store_args.client()?.with_transfers(progress.on_transfer()));
    // Declared before `context`, so its store (whose temp area holds the
    // extracted tar) is dropped after it.
    let (stdin_context, _stdin_store) = match p.stdin_context.take() {
        Some(t) => (Some(t.context), Some(t.store)),
        None => (None, None),
    };
    let mut context = if let Some(c) = stdin_context {
        c
    } else if args.context == "-" {
        // The Dockerfile came on stdin: the context is empty, as Docker's.
        BuildContext::from_tar_in(std::io::empty(), IgnoreSpec::None, &store.temp_dir()?)?
    } else {
        super::build_input::open_context(&args.context, p.dockerfile_path.as_deref(), &store)?
    };
    // What Docker's client would send of it (see context_paths).
    context.limit_to_read_paths(crate::plan::context_paths(&p.plan))?;
    let rt = runtime()?;
    progress.report_interrupts(rt.handle());
    // The rules that need the build's state, with the file's, before any step runs.
    let mut findings = p.findings.clone();
    findings.extend(super::lint::stage_findings(
        &super::lint::StageInputs {
            plans: &p.plans,
            all_stages: false,
            ignore: Some(context.ignore()),
            store: Some(&store),
            client: Some(&store_args.client()?),
            pull: args.pull.parse().map_err(|e: String| anyhow!(e))?,
            rt: &rt,
        },
        &p.lint_config,
    ));
    super::lint::print_warnings(&super::lint::sorted(findings), &p.lint_config)?;
    let allow_network_host = p
        .allowed
        .iter()
        .any(|a| a == crate::plan::entitlements::NETWORK_HOST);
    let network = match args.network.as_str() {
        "default" => Network::Default,
        "host" => Network::Host,
        "none" => Network::None,
        other => bail!("--network {other}: use default, host or none"),
    };
    if network == Network::Default && crate::sandbox::isolation::chroot_level() {
        progress.warn(
            "the chroot isolation level cannot give RUN a network namespace: RUN steps share \
             the host's network (see docs/compatibility.md)",
        );
    } else if network == Network::Default {
        if let Some(why) = crate::sandbox::network::tun_unusable() {
            progress.warn(why);
        }
    }
    let cache_from: Vec<CacheSpec> = args
        .cache_from
        .iter()
        .map(|s| CacheSpec::parse_import(s))
        .collect::<Result<_>>()?;
    let cache_to: Vec<CacheSpec> = args
        .cache_to
        .iter()
        .map(|s| CacheSpec::parse_export(s))
        .collect::<Result<_>>()?;
    let engine = Engine::new(EngineOptions {
        store: store.clone(),
        client: client.clone(),
        progress: progress.clone(),
        source_date_epoch: args.source_date_epoch,
        network,
        allow_network_host,
        run_extras: crate::engine::RunExtras {
            extra_hosts: super::build_flags::parse_add_hosts(&args.add_hosts)?,
            shm_size: match &args.shm_size {
                Some(v) => super::build_flags::parse_shm_size(v)?,
                None => None,
            },
        },
        limits: p.limits,
        secrets: parse_secrets(&args.secrets)?,
        ssh: parse_ssh(&args.ssh)?,
        pull: args.pull.parse().map_err(|e: String| anyhow!(e))?,
        jobs: args.jobs.unwrap_or(usize::MAX),
        helper: PathBuf::from("/proc/self/exe"),
        dockerfile_text: p.text.clone(),
        dockerfile_name: p.file_name.clone(),
        runtime: rt.handle().clone(),
        no_cache: args.no_cache,
        no_cache_stages: args.no_cache_filter.clone(),
        cache_from: cache_from.clone(),
    });
    // `BUILDKIT_SBOM_SCAN_STAGE`: the scanned stages' images are kept for the SBOM.
    let keep: Vec<Vec<usize>> = p
        .plans
        .iter()
        .map(|plan| match &p.attest_opts.sbom {
            Some(_) => crate::attest::sbom::targets::scan_targets(plan).stages,
            None => Vec::new(),
        })
        .collect();
    let (mut images, scanned): (Vec<_>, Vec<_>) =
        match engine.build_many_keeping(&p.plans, &context, &keep) {
            Ok(built) => built.into_iter().unzip(),
            Err(e) => {
                progress.fail();
                return Err(e);
            }
        };
    let scanned: Vec<_> = p
        .plans
        .iter()
        .map(|p| p.platform.clone())
        .zip(scanned)
        .collect();
    // As BuildKit's dockerfile2llb does for an explicit target platform: the image's platform is
    // the normalised target's (`linux/arm64`, no `v8`), whatever its base's config said.
    if args.platform.is_some() {
        for (image, p) in images.iter_mut().zip(&p.plans) {
            image.config.os = p.platform.os.clone();
            image.config.architecture = p.platform.architecture.clone();
            image.config.variant = p.platform.variant.clone();
        }
    }
    let tags: Vec<String> = args
        .tags
        .iter()
        .map(|t| {
            Reference::parse(t)
                .map(|r| super::pull::store_name(&r))
                .map_err(|e| anyhow!("-t {t}: {e}"))
        })
        .collect::<Result<_>>()?;
    let images = p
        .plans
        .iter()
        .map(|p| p.platform.clone())
        .zip(images)
        .collect();
    let done = super::build_multi::Finish {
        args: &args,
        store: &store,
        client: &client,
        rt: &rt,
        engine: &engine,
        plan: &p.plan,
        progress: &progress,
        tags: &tags,
        labels: &p.labels,
        annotations: &p.annotations,
        cache_to: &cache_to,
        plans: &p.plans,
        attest_opts: &p.attest_opts,
        attest_inputs: &super::build_attest::Inputs {
            args: &args,
            dockerfile: (&p.file_name, &p.bytes),
            build_args: &p.build_args,
            labels: &p.labels,
            started: p.started,
            scanned: &scanned,
            context: &context,
        },
    };
    if p.plans.len() > 1 {
        return done.finish(images);
    }
    let image = images.into_iter().next().map(|(_, i)| i);
    done.finish_single(image.ok_or_else(|| anyhow!("the build made no image"))?)
}
