//! `builder build`: Dockerfile + context → image, like `docker build`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::build_flags::{parse_build_args, parse_labels, parse_secrets, parse_ssh};
use super::pull::{runtime, StoreArgs};
use crate::context::{BuildContext, IgnoreSpec};
use crate::engine::{CacheSpec, Engine, EngineOptions};
use crate::image::annotations::Level;
use crate::plan::instructions::Network;
use crate::plan::{PlanOptions, Platform};
use crate::progress::{Mode, Progress};
use crate::registry::Reference;

/// Options of `builder build`, named as `docker build` / `docker buildx build` names them.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// How builds are isolated: `auto` (the best level available, see `builder info`),
    /// `namespaces` (root with CAP_SYS_ADMIN), `rootless` (a user namespace), `chroot`.
    #[arg(long, value_enum)]
    pub isolation: Option<crate::sandbox::isolation::Choice>,
    /// The Dockerfile (default: CONTEXT/Dockerfile; `-` reads it from stdin).
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Name and tag of the image (repeatable).
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// A build-time variable, `KEY=VALUE` or `KEY` (taken from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// The stage to build (default: the last one).
    #[arg(long)]
    pub target: Option<String>,
    /// Print the build plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Target platforms, e.g. `linux/amd64` or `linux/amd64,linux/arm64` (one image per
    /// platform, combined in an image index).
    #[arg(long)]
    pub platform: Option<String>,
    /// Push every tag after the build.
    #[arg(long)]
    pub push: bool,
    /// Outputs: `type=oci|docker|tar|local|registry,dest=…` (repeatable).
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
    /// Load the image into Docker: pipe it as a docker archive into `docker load`.
    #[arg(long)]
    pub load: bool,
    /// Write the image ID to this file.
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Write build results (image and manifest digests) as JSON to this file.
    #[arg(long)]
    pub metadata_file: Option<PathBuf>,
    /// Media types of the image: `oci` or `docker`.
    #[arg(long, default_value = "oci")]
    pub format: String,
    /// A label added to the final image, `KEY=VALUE` (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Layer compression when the image leaves the store: gzip, zstd or uncompressed.
    #[arg(long, default_value = "gzip")]
    pub compression: String,
    /// Compression level (gzip 0-9, zstd 1-22).
    #[arg(long)]
    pub compression_level: Option<i32>,
    /// Clamp timestamps to this Unix time (also read from `SOURCE_DATE_EPOCH`).
    #[arg(long, env = "SOURCE_DATE_EPOCH")]
    pub source_date_epoch: Option<i64>,
    /// Network for RUN steps: `default` (a network namespace of the RUN's
    /// own with outbound access through slirp4netns), `host` (the host's;
    /// grants the network.host entitlement, as buildx does) or `none`.
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Grant an entitlement, as `docker buildx build --allow`: `security.insecure`
    /// (for `RUN --security=insecure`) or `network.host` (`--network host`, `RUN
    /// --network=host`); repeatable, comma-separated.
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
    /// Resource limits of every RUN (`--memory`, `--cpus`, `--pids-limit`, `--ulimit`).
    #[command(flatten)]
    pub limits: super::limits::LimitArgs,
    /// A secret for `RUN --mount=type=secret`: `id=X,src=FILE` or `id=X,env=VAR` (repeatable).
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// An SSH agent socket or keys for `RUN --mount=type=ssh`: `default` or `ID=PATH` (repeatable).
    #[arg(long = "ssh")]
    pub ssh: Vec<String>,
    /// Do not use the step cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not use the cache for these stages (repeatable).
    #[arg(long = "no-cache-filter")]
    pub no_cache_filter: Vec<String>,
    /// When to pull base images: `--pull=missing|always|never`; a bare `--pull` is `always`
    /// (buildx's boolean flag), so it never takes the context as its value.
    #[arg(long, default_value = "missing", num_args = 0..=1, require_equals = true, default_missing_value = "always")]
    pub pull: String,
    /// Maximum number of RUN steps at once.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Progress output: auto, tty, plain, json or quiet.
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Print only the image ID.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Export the build cache: `type=registry,ref=…[,mode=min|max]` or `type=local,dest=DIR`.
    #[arg(long = "cache-to")]
    pub cache_to: Vec<String>,
    /// Import a build cache: `type=registry,ref=…` or `type=local,src=DIR`.
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// The store's state directory (default: `$BUILDER_ROOT`, `/var/lib/builder` for root).
    #[arg(long, env = "BUILDER_ROOT")]
    pub root: Option<PathBuf>,
    /// The registries configuration file (mirrors, insecure registries).
    #[arg(long)]
    pub registry_config: Option<PathBuf>,
    /// A custom host-to-IP mapping for RUN's /etc/hosts: `NAME:IP` or
    /// `NAME=IP` (repeatable).
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,
    /// Size of RUN's /dev/shm, e.g. `128m` or `1g` (default 64m).
    #[arg(long = "shm-size", value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// An OCI annotation: `KEY=VALUE`, or `TYPE[,TYPE][[PLATFORM]]:KEY=VALUE` with TYPE
    /// `manifest` (default), `index` or `manifest-descriptor` (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// An extra named context: `NAME=DIR`, `NAME=docker-image://REF` or
    /// `NAME=oci-layout://DIR[:TAG|@DIGEST]` (repeatable); `FROM NAME`, `COPY --from=NAME`
    /// and `RUN --mount=from=NAME` use it.
    #[arg(long = "build-context", value_name = "NAME=VALUE")]
    pub build_contexts: Vec<String>,
    /// Check the Dockerfile with BuildKit's lint rules and stop (`--call check`).
    #[arg(long)]
    pub check: bool,
    /// What to do with the Dockerfile: `build` (default) or `check`.
    #[arg(long, value_name = "METHOD")]
    pub call: Option<String>,
    /// SBOM attestation: `true`, `false` or `generator=IMAGE` (as `--attest type=sbom,…`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sbom: Option<String>,
    /// Provenance attestation: `true`, `false`, `mode=min|max[,version=v1]`
    /// (on with mode=min by default for --push and registry outputs).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub provenance: Option<String>,
    /// An attestation, `type=sbom|provenance[,disabled=true][,KEY=VALUE…]` (repeatable).
    #[arg(long = "attest")]
    pub attest: Vec<String>,
    /// The build context: a directory, or `-` for a tar on stdin.
    pub context: String,
}

/// Runs `builder build`.
pub fn run(args: BuildArgs) -> Result<i32> {
    // Before any work: the target platforms (all Linux); whether a RUN can execute for a
    // foreign one is checked when the first one runs (sandbox::binfmt::ensure_runnable).
    let platforms: Vec<Platform> = match &args.platform {
        Some(p) => crate::plan::platform::build_targets(p)?,
        None => Vec::new(),
    };
    let (file_name, bytes, dockerfile_path) = super::build_input::read_dockerfile(&args)?;
    // Bytes that are not UTF-8 are read as BuildKit reads them (see dockerfile::parse_bytes).
    let text = crate::dockerfile::decode(&bytes);
    let df = match crate::dockerfile::parse_bytes(&bytes) {
        Ok(df) => df,
        Err(diag) => bail!("{}", diag.in_file(file_name)),
    };
    let build_args = parse_build_args(&args.build_args)?;
    let named = super::build_context::parse_all(&args.build_contexts)?;
    let annotations = crate::image::annotations::Annotations::parse(&args.annotations)?;
    // Lint rules (BuildKit's): with --check / --call check they are the result.
    let (findings, lint_config) = super::lint::run(&df, &text, &file_name, &build_args)?;
    if super::lint::is_check(&args) {
        return super::lint::report_check(&findings, &lint_config, &file_name, &text);
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
    let attest_opts = super::build_attest::options(&args)?;
    let started = super::build_attest::now();
    if args.dry_run {
        for p in &plans {
            print!("{}", p.render_dry_run());
        }
        return Ok(0);
    }
    let mode: Mode = if args.quiet {
        Mode::Quiet
    } else {
        args.progress.parse().map_err(|e: String| anyhow!(e))?
    };
    let progress = Progress::new(mode);
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    super::lint::print_warnings(&findings, &lint_config)?;

    let store_args = StoreArgs {
        root: args.root.clone(),
        registry_config: args.registry_config.clone(),
    };
    let store = Arc::new(store_args.open_store()?);
    let client = Arc::new(store_args.client()?.with_transfers(progress.on_transfer()));
    let mut context = if args.context == "-" && args.file.is_none() {
        // The Dockerfile came on stdin: the context is empty, as Docker's.
        BuildContext::from_tar_in(std::io::empty(), IgnoreSpec::None, &store.temp_dir()?)?
    } else {
        super::build_input::open_context(&args.context, dockerfile_path.as_deref(), &store)?
    };
    // What Docker's client would send of it (see context_paths).
    context.limit_to_read_paths(crate::plan::context_paths(&plan))?;
    let rt = runtime()?;
    let allow_network_host = allowed
        .iter()
        .any(|a| a == crate::plan::entitlements::NETWORK_HOST);
    let network = match args.network.as_str() {
        "default" => Network::Default,
        "host" => Network::Host,
        "none" => Network::None,
        other => bail!("--network {other}: use default, host or none"),
    };
    if network == Network::Default && crate::sandbox::isolation::chroot_level() {
        eprintln!(
            "warning: the chroot isolation level cannot give RUN a network namespace: RUN \
             steps share the host's network (see docs/compatibility.md)"
        );
    } else if network == Network::Default {
        if let Some(why) = crate::sandbox::network::tun_unusable() {
            eprintln!("warning: {why}");
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
        limits,
        secrets: parse_secrets(&args.secrets)?,
        ssh: parse_ssh(&args.ssh)?,
        pull: args.pull.parse().map_err(|e: String| anyhow!(e))?,
        jobs: args.jobs.unwrap_or(usize::MAX),
        helper: PathBuf::from("/proc/self/exe"),
        dockerfile_text: text.clone(),
        dockerfile_name: file_name.clone(),
        runtime: rt.handle().clone(),
        no_cache: args.no_cache,
        no_cache_stages: args.no_cache_filter.clone(),
        cache_from: cache_from.clone(),
    });
    // `BUILDKIT_SBOM_SCAN_STAGE`: the scanned stages' images are kept for the SBOM.
    let keep: Vec<Vec<usize>> = plans
        .iter()
        .map(|p| match &attest_opts.sbom {
            Some(_) => crate::attest::sbom::targets::scan_targets(p).stages,
            None => Vec::new(),
        })
        .collect();
    let (mut images, scanned): (Vec<_>, Vec<_>) =
        match engine.build_many_keeping(&plans, &context, &keep) {
            Ok(built) => built.into_iter().unzip(),
            Err(e) => {
                progress.finish(None);
                return Err(e);
            }
        };
    let scanned: Vec<_> = plans
        .iter()
        .map(|p| p.platform.clone())
        .zip(scanned)
        .collect();
    // As BuildKit's dockerfile2llb does for an explicit target platform: the image's platform is
    // the normalised target's (`linux/arm64`, no `v8`), whatever its base's config said.
    if args.platform.is_some() {
        for (image, p) in images.iter_mut().zip(&plans) {
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
    if plans.len() > 1 {
        let images = plans
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
            plan: &plan,
            progress: &progress,
            tags: &tags,
            labels: &labels,
            annotations: &annotations,
            cache_to: &cache_to,
            plans: &plans,
            attest_opts: &attest_opts,
            attest_inputs: &super::build_attest::Inputs {
                args: &args,
                dockerfile: (&file_name, &bytes),
                build_args: &build_args,
                labels: &labels,
                started,
                scanned: &scanned,
            },
        };
        return done.finish(images);
    }
    let image = images.remove(0);
    let platform_name = plan.platform.to_string();
    for level in [Level::Index, Level::ManifestDescriptor] {
        if annotations.has(level) {
            eprintln!(
                "warning: --annotation: {level:?} annotations need an image index (several \
                 --platform values); this build has one image, they are not written"
            );
        }
    }
    let stored = crate::engine::store_image_annotated(
        &store,
        &image,
        args.source_date_epoch,
        &labels,
        &tags,
        &annotations.at(Level::Manifest, Some(&platform_name)),
    )?;
    // Attestations: predicates once, then one attestation manifest per
    // published form of the manifest (store, push, each output).
    let attest_inputs = super::build_attest::Inputs {
        args: &args,
        dockerfile: (&file_name, &bytes),
        build_args: &build_args,
        labels: &labels,
        started,
        scanned: &scanned,
    };
    let preds = super::build_attest::store_attested(
        &attest_opts,
        &attest_inputs,
        &plan,
        &store,
        &stored,
        &tags,
    )?;
    progress.finish(Some(stored.config_digest.to_string()));

    if let Some(path) = &args.iidfile {
        crate::store::fsutil::write_atomic(
            path,
            stored.config_digest.to_string().as_bytes(),
            0o644,
        )?;
    }
    let mut pushed_digest = None;
    if args.push {
        if tags.is_empty() {
            bail!("--push needs at least one -t NAME:TAG");
        }
        let dests: Vec<Reference> = tags
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<_, _>>()?;
        let format = match args.format.as_str() {
            "oci" => None,
            "docker" => Some(crate::registry::ManifestFormat::Docker),
            other => bail!("--format {other}: use oci or docker"),
        };
        let opts = crate::registry::PushOptions {
            format,
            mount_from: Vec::new(),
            compression: super::push::export_compression(
                &args.compression,
                args.compression_level,
            )?,
        };
        pushed_digest = if preds.is_empty() {
            let names: Vec<String> = dests.iter().map(Reference::familiar).collect();
            let pushed = super::pull::transfer_step(
                &rt,
                &progress,
                format!("pushing {}", names.join(", ")),
                crate::registry::push(&client, &store, &stored.manifest, &dests, &opts),
            )?;
            pushed.digest.map(|d| d.to_string())
        } else {
            let index = super::build_attest::published_index(
                &store,
                &stored,
                opts.compression,
                &tags,
                &plan.platform,
                &preds,
            )?;
            let d = rt.block_on(crate::attest::store::push_index(
                &client, &store, &index, &dests,
            ))?;
            Some(d.to_string())
        };
        if !args.quiet {
            for d in &dests {
                eprintln!(
                    "pushed {} ({})",
                    d.familiar(),
                    pushed_digest.clone().unwrap_or_default()
                );
            }
        }
    }
    let output_compression =
        super::push::export_compression(&args.compression, args.compression_level)?;
    for output in &args.outputs {
        let attested = super::output::Attested {
            predicates: &preds,
            platform: &plan.platform,
        };
        super::output::write_output(
            &store,
            &stored,
            output,
            &tags,
            &client,
            &rt,
            output_compression,
            (!preds.is_empty()).then_some(&attested),
        )?;
    }
    if args.load {
        super::output::load_into_docker(&store, &stored, &tags)?;
    }
    for spec in &cache_to {
        match engine.export_cache(&plan, spec) {
            Ok(s) if !args.quiet => eprintln!(
                "exported cache to {} ({} step records, {} cache mounts, {} layers, {})",
                spec.location, s.records, s.mounts, s.layers, s.digest
            ),
            Ok(_) => {}
            Err(e) if spec.ignore_error => {
                eprintln!("warning: cache export to {} failed: {e:#}", spec.location)
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(path) = &args.metadata_file {
        let meta = serde_json::json!({
            "containerimage.config.digest": stored.config_digest.to_string(),
            "containerimage.digest": pushed_digest.clone().unwrap_or_else(|| stored.manifest.digest.to_string()),
            "image.name": tags.join(","),
        });
        crate::store::fsutil::write_atomic(
            path,
            serde_json::to_string_pretty(&meta)?.as_bytes(),
            0o644,
        )?;
    }
    // With an archive on stdout, the ID would corrupt it.
    let stdout_taken = args.outputs.iter().any(|o| {
        super::output::parse_output(o).is_ok_and(|f| f.get("dest").is_some_and(|d| d == "-"))
    });
    if args.quiet && !stdout_taken {
        println!("{}", stored.config_digest);
    }
    Ok(0)
}
