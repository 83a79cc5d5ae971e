//! `builder build`: Dockerfile + context → image, like `docker build`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;

use super::pull::{runtime, StoreArgs};
use crate::context::{BuildContext, IgnoreSpec};
use crate::engine::{CacheSpec, Engine, EngineOptions};
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
    /// Target platform, e.g. `linux/amd64`.
    #[arg(long)]
    pub platform: Option<String>,
    /// Push every tag after the build.
    #[arg(long)]
    pub push: bool,
    /// Outputs: `type=oci|docker|tar|local|registry,dest=…` (repeatable).
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
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
    /// own with outbound access through slirp4netns), `host` (needs
    /// `--allow network.host`) or `none`.
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Grant an entitlement, as `docker buildx build --allow`: `security.insecure`
    /// (for `RUN --security=insecure`) or `network.host` (`--network host`, `RUN
    /// --network=host`); repeatable, comma-separated.
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
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
    /// When to pull base images: `missing`, `always` or `never`.
    #[arg(long, default_value = "missing", num_args = 0..=1, default_missing_value = "always")]
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
    // Before any work: only the host's platform can be built (no emulation yet).
    let platform = match &args.platform {
        Some(p) => Some(crate::plan::platform::native_target(p, &Platform::host())?),
        None => None,
    };
    let (file_name, bytes, dockerfile_path) = read_dockerfile(&args)?;
    // Bytes that are not UTF-8 are read as BuildKit reads them (see dockerfile::parse_bytes).
    let text = crate::dockerfile::decode(&bytes);
    let df = match crate::dockerfile::parse_bytes(&bytes) {
        Ok(df) => df,
        Err(diag) => bail!("{}", diag.in_file(file_name)),
    };
    let build_args = parse_build_args(&args.build_args)?;

    let opts = PlanOptions {
        build_args: build_args.clone(),
        target: args.target.clone(),
        platform,
        build_platform: None,
        source: text.clone(),
        file: file_name.clone(),
    };
    let plan = match crate::plan::plan(&df, &opts) {
        Ok(p) => p,
        Err(diag) => bail!("{diag}"),
    };
    let allowed = crate::plan::entitlements::parse_allow(&args.allow)?;
    if let Err(diag) = crate::plan::entitlements::check(&plan, &allowed) {
        bail!("{diag}");
    }
    let labels = parse_labels(&args.labels)?;
    for o in &args.outputs {
        super::output::parse_output(o)?;
    }
    let attest_opts = super::build_attest::options(&args)?;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if args.dry_run {
        print!("{}", plan.render_dry_run());
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

    let store_args = StoreArgs {
        root: args.root.clone(),
        registry_config: args.registry_config.clone(),
    };
    let store = Arc::new(store_args.open_store()?);
    let client = Arc::new(store_args.client()?);
    let mut context = open_context(&args.context, dockerfile_path.as_deref(), &store)?;
    // What Docker's client would send of it (see context_paths).
    context.limit_to_read_paths(crate::plan::context_paths(&plan))?;
    let rt = runtime()?;
    let allow_network_host = allowed
        .iter()
        .any(|a| a == crate::plan::entitlements::NETWORK_HOST);
    let network = match args.network.as_str() {
        "default" => Network::Default,
        "host" if allow_network_host => Network::Host,
        "host" => {
            bail!("--network host needs the network.host entitlement: add --allow network.host")
        }
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
    let image = match engine.build(&plan, &context) {
        Ok(img) => img,
        Err(e) => {
            progress.finish(None);
            return Err(e);
        }
    };
    let tags: Vec<String> = args
        .tags
        .iter()
        .map(|t| {
            Reference::parse(t)
                .map(|r| super::pull::store_name(&r))
                .map_err(|e| anyhow!("-t {t}: {e}"))
        })
        .collect::<Result<_>>()?;
    let stored =
        crate::engine::store_image(&store, &image, args.source_date_epoch, &labels, &tags)?;
    // Attestations: predicates once, then one attestation manifest per
    // published form of the manifest (store, push, each output).
    let attest_inputs = super::build_attest::Inputs {
        args: &args,
        dockerfile: (&file_name, &bytes),
        build_args: &build_args,
        labels: &labels,
        started,
    };
    let preds = if attest_opts.any() {
        super::build_attest::predicates(
            &attest_opts,
            &attest_inputs,
            &plan,
            &store,
            &stored,
            &tags,
        )?
    } else {
        Vec::new()
    };
    if !preds.is_empty() {
        let index = super::build_attest::single_index(
            &store,
            &stored.manifest,
            &tags,
            &plan.platform,
            &preds,
        )?;
        for tag in &tags {
            store.set_tag(tag, &index)?;
        }
    }
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
            let pushed = rt.block_on(crate::registry::push(
                &client,
                &store,
                &stored.manifest,
                &dests,
                &opts,
            ))?;
            pushed.digest.map(|d| d.to_string())
        } else {
            let published =
                super::build_attest::exported(&store, &stored, opts.compression, false)?;
            let index = super::build_attest::single_index(
                &store,
                &published,
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
            &client,
            &rt,
            output_compression,
            (!preds.is_empty()).then_some(&attested),
        )?;
    }
    for spec in &cache_to {
        match engine.export_cache(&plan, spec) {
            Ok(s) if !args.quiet => eprintln!(
                "exported cache to {} ({} step records, {} layers, {})",
                spec.location, s.records, s.layers, s.digest
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
    if args.quiet {
        println!("{}", stored.config_digest);
    }
    Ok(0)
}

/// The Dockerfile: name for messages, its bytes, and its path when it is a file.
fn read_dockerfile(args: &BuildArgs) -> Result<(String, Vec<u8>, Option<PathBuf>)> {
    let path = match &args.file {
        Some(f) if f == "-" => {
            let (name, text) = super::read_dockerfile(Path::new("-"))?;
            return Ok((name, text, None));
        }
        Some(f) => PathBuf::from(f),
        None if args.context == "-" => {
            bail!("with the context on stdin, give the Dockerfile with -f")
        }
        None => Path::new(&args.context).join("Dockerfile"),
    };
    let (_, text) = super::read_dockerfile(&path)?;
    let name = if args.file.is_none() {
        "Dockerfile".to_string()
    } else {
        path.display().to_string()
    };
    Ok((name, text, Some(path)))
}

fn open_context(
    spec: &str,
    dockerfile: Option<&Path>,
    store: &crate::store::Store,
) -> Result<BuildContext> {
    if spec == "-" {
        let ignore = IgnoreSpec::Auto { dockerfile: None };
        return BuildContext::from_tar_in(std::io::stdin().lock(), ignore, &store.temp_dir()?)
            .context("reading the build context tar from stdin");
    }
    let root = Path::new(spec);
    if !root.is_dir() {
        bail!("the build context {spec} is not a directory");
    }
    let dockerfile =
        dockerfile.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
    BuildContext::from_dir(root, IgnoreSpec::Auto { dockerfile })
        .with_context(|| format!("opening the build context {spec}"))
}

fn parse_build_args(raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in raw {
        match a.split_once('=') {
            Some(("", _)) => bail!("--build-arg {a}: the name is empty (expected NAME=VALUE)"),
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            // `--build-arg NAME` takes the value from the environment, as docker does.
            None => {
                if let Ok(v) = std::env::var(a) {
                    out.insert(a.clone(), v);
                }
            }
        }
    }
    Ok(out)
}

fn parse_labels(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|l| match l.split_once('=') {
            Some(("", _)) => bail!("--label {l}: the key is empty (expected KEY=VALUE)"),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => bail!("--label {l}: expected KEY=VALUE"),
        })
        .collect()
}

/// `--secret id=X,src=FILE|env=VAR` (also `source=`, `type=file|env`).
fn parse_secrets(raw: &[String]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for spec in raw {
        let mut id = None;
        let mut src = None;
        let mut env = None;
        for field in spec.split(',') {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| anyhow!("--secret {spec}: expected key=value fields"))?;
            match k {
                "id" => id = Some(v.to_string()),
                "src" | "source" => src = Some(v.to_string()),
                "env" => env = Some(v.to_string()),
                "type" => {}
                other => bail!("--secret: unknown field {other}"),
            }
        }
        let id = id
            .or_else(|| src.clone().or_else(|| env.clone()))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| anyhow!("--secret {spec}: needs a non-empty id="))?;
        let content = match (src, env) {
            // Only a regular file, at most BuildKit's MaxSecretSize (500 KiB).
            (Some(path), _) => crate::context::regular::read_regular(
                Path::new(&path),
                "secret file",
                crate::context::regular::MAX_SECRET_BYTES,
            )
            .with_context(|| format!("--secret id={id}: reading {path}"))?,
            (None, Some(var)) => std::env::var(&var)
                .map_err(|_| anyhow!("--secret id={id}: environment variable {var} is not set"))?
                .into_bytes(),
            (None, None) => std::env::var(&id)
                .map_err(|_| anyhow!("--secret id={id}: give src=FILE or env=VAR"))?
                .into_bytes(),
        };
        out.insert(id, content);
    }
    Ok(out)
}

/// `--ssh default` (from `SSH_AUTH_SOCK`) or `--ssh ID=SOCKET`.
fn parse_ssh(raw: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for spec in raw {
        let (id, path) = match spec.split_once('=') {
            Some((id, p)) => (id.to_string(), PathBuf::from(p)),
            None => (
                spec.clone(),
                std::env::var_os("SSH_AUTH_SOCK")
                    .map(PathBuf::from)
                    .ok_or_else(|| anyhow!("--ssh {spec}: SSH_AUTH_SOCK is not set"))?,
            ),
        };
        out.insert(id, path);
    }
    Ok(out)
}
