//! The flags of `builder build`, named as `docker build` / `docker buildx
//! build` names them (checked in `build_prepare` and `validate`).

use std::path::PathBuf;

use clap::Args;

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
    /// `docker build` flags buildx accepts and ignores (hidden).
    #[command(flatten)]
    pub compat: super::build_compat::CompatArgs,
    /// The build context: a directory, or `-` for a tar on stdin.
    pub context: String,
}
