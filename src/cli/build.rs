//! `builder build`: Dockerfile + context → image, like `docker build`.

use std::path::PathBuf;

use clap::Args;

/// Options of `builder build`, named as `docker build` / `docker buildx build` names them.
#[derive(Debug, Args)]
pub struct BuildArgs {
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
    /// Network for RUN steps: `default`, `host` or `none`.
    #[arg(long, default_value = "default")]
    pub network: String,
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
    /// The build context: a directory, or `-` for a tar on stdin.
    pub context: String,
}

/// Runs `builder build`.
pub fn run(args: BuildArgs) -> anyhow::Result<i32> {
    let _ = args;
    anyhow::bail!("building is being wired up: use --dry-run")
}
