//! `builder pull`, plus the options and helpers the other image commands
//! share (store root, registries config, local lookup).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use clap::Args;

use crate::progress::{Mode, Progress};
use crate::registry::{
    self, DockerConfig, PullOptions, Reference, RegistriesConfig, RegistryClient,
};
use crate::store::{Descriptor, Platform, Store};

/// Where the store and the registries config are.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The store's state directory (default: `$BUILDER_ROOT`, `/var/lib/builder` for root,
    /// `$XDG_DATA_HOME/builder` otherwise).
    #[arg(long, env = "BUILDER_ROOT")]
    pub root: Option<PathBuf>,
    /// The registries configuration file (mirrors, insecure registries).
    #[arg(long)]
    pub registry_config: Option<PathBuf>,
}

impl StoreArgs {
    /// Opens the store and reclaims what killed builders left in its temp
    /// dir (see [`Store::reclaim_temp`]).
    pub fn open_store(&self) -> Result<Store> {
        Ok(self.open_store_reclaiming()?.0)
    }

    /// [`Self::open_store`], also returning how many temp areas were
    /// reclaimed. A failure to reclaim is a warning, not an error.
    pub fn open_store_reclaiming(&self) -> Result<(Store, usize)> {
        let root = self.root.clone().unwrap_or_else(Store::default_root);
        let store = Store::open(&root)
            .with_context(|| format!("opening the store at {}", root.display()))?;
        let reclaimed = store.reclaim_temp().unwrap_or_else(|e| {
            eprintln!("warning: removing temp files of stopped builders: {e:#}");
            0
        });
        Ok((store, reclaimed))
    }

    /// A registry client with the config and docker credentials; notes go to stderr.
    pub fn client(&self) -> Result<RegistryClient> {
        let config = RegistriesConfig::load(self.registry_config.as_deref())?;
        let creds = DockerConfig::load_default()?;
        Ok(RegistryClient::new(config, creds)?
            .with_notify(Arc::new(|m: &str| eprintln!("warning: {m}"))))
    }
}

/// Runs `fut` (a pull or a push) as progress step `name`, its blob
/// transfers reported under it (byte bars on a terminal, periodic lines in
/// plain mode for slow ones), then tears the view down.
pub(crate) fn transfer_step<T>(
    rt: &tokio::runtime::Runtime,
    progress: &Progress,
    name: String,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let step = progress.start(name);
    let result = rt.block_on(crate::registry::client::scoped(step, fut));
    match &result {
        Ok(_) => progress.done(step, false),
        Err(e) => progress.error(step, format!("{e:#}")),
    }
    progress.close();
    result
}

/// A progress view for pull and push: none with `--quiet`, else bars on a
/// terminal and plain lines otherwise.
pub(crate) fn transfer_progress(quiet: bool) -> Progress {
    Progress::new(if quiet { Mode::Quiet } else { Mode::Auto })
}

/// A tokio runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The store name a reference is tagged under (`name:tag` or `name@digest`).
pub fn store_name(r: &Reference) -> String {
    match (r.tag(), r.digest()) {
        (Some(t), _) => format!("{}:{t}", r.name()),
        (None, Some(d)) => format!("{}@{d}", r.name()),
        (None, None) => format!("{}:latest", r.name()),
    }
}

/// Finds a local image as Docker does: by reference (`ubuntu`, `host/x:1`,
/// `x@sha256:…`) first, then by image ID (`sha256:<64 hex>`, a unique
/// prefix such as the 12 digits `builder images` shows) or manifest digest
/// (see [`Store::find_by_id`]). The name is empty for an image kept
/// without one.
pub fn find_local(store: &Store, what: &str) -> Result<(String, Descriptor)> {
    let parsed = Reference::parse(what);
    // 64 hex digits are an ID, never a repository name (as in Docker).
    let looks_like_id = what.len() == 64 && what.bytes().all(|b| b.is_ascii_hexdigit());
    if let (Ok(r), false) = (&parsed, looks_like_id) {
        let name = store_name(r);
        if let Some(d) = store.resolve(&name)? {
            if r.digest()
                .is_some_and(|want| r.tag().is_some() && d.digest.to_string() != want)
            {
                anyhow::bail!(
                    "{name} is {} in the store, not {}",
                    d.digest,
                    r.digest().unwrap_or_default()
                );
            }
            return Ok((name, d));
        }
        // name@digest of a manifest stored under a tag.
        if let Some(want) = r.digest() {
            if let Some(i) = store.list_images()?.into_iter().find(|i| {
                i.descriptor.digest.to_string() == want
                    && i.name.starts_with(&format!("{}:", r.name()))
            }) {
                return Ok((i.name, i.descriptor));
            }
        }
    }
    if let Some(first) = store.find_by_id(what)?.into_iter().next() {
        return Ok((first.name, first.descriptor));
    }
    match parsed {
        Ok(r) => anyhow::bail!(
            "image {} not found in the store {} (pull it first)",
            r.familiar(),
            store.root().display()
        ),
        Err(e) => {
            anyhow::bail!("{what} is neither an image reference ({e}) nor an image ID in the store")
        }
    }
}

/// `builder pull` options.
#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The platforms to pull from a multi-platform image, comma-separated
    /// (default: this machine's). Several keep the image index tagged.
    #[arg(long, conflicts_with = "all_platforms")]
    pub platform: Option<String>,
    /// Pull every platform a multi-platform image has.
    #[arg(short = 'a', long)]
    pub all_platforms: bool,
    /// Print only the image digest.
    #[arg(short, long)]
    pub quiet: bool,
    /// The images to pull (`ubuntu:16.04`, `host:5000/app@sha256:…`).
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Runs `builder pull`.
pub fn run(args: PullArgs) -> Result<i32> {
    let platforms: Vec<Platform> = match &args.platform {
        Some(p) => crate::plan::platform::parse_list(p)
            .map_err(|e| anyhow!("--platform {e}"))?
            .iter()
            .map(crate::engine::export_index::store_platform)
            .collect(),
        None => vec![Platform::host()],
    };
    let refs = args
        .images
        .iter()
        .map(|s| Reference::parse(s).map_err(anyhow::Error::from))
        .collect::<Result<Vec<_>>>()?;
    let store = args.store.open_store()?;
    let progress = transfer_progress(args.quiet);
    let client = args.store.client()?.with_transfers(progress.on_transfer());
    let rt = runtime()?;
    for r in &refs {
        let platforms = match args.all_platforms {
            true => match rt.block_on(registry::pull::list_platforms(&client, r))? {
                all if all.is_empty() => vec![Platform::host()],
                all => all,
            },
            false => platforms.clone(),
        };
        for platform in platforms.iter().cloned() {
            let opts = PullOptions {
                keep_index: platforms.len() > 1,
                platform,
            };
            pull_one(&args, &client, &store, &rt, &progress, r, &opts)?;
        }
    }
    Ok(0)
}

/// Pulls one platform of `r` and reports it as `docker pull` does.
fn pull_one(
    args: &PullArgs,
    client: &registry::RegistryClient,
    store: &crate::store::Store,
    rt: &tokio::runtime::Runtime,
    progress: &Progress,
    r: &Reference,
    opts: &PullOptions,
) -> Result<()> {
    {
        if !args.quiet {
            eprintln!(
                "{}: Pulling from {}",
                r.tag().or(r.digest()).unwrap_or("latest"),
                r.repository()
            );
        }
        let img = transfer_step(
            rt,
            progress,
            format!("pulling {}", r.familiar()),
            registry::pull(client, store, r, opts),
        )?;
        if args.quiet {
            println!("{}", img.manifest.digest);
        } else {
            eprintln!(
                "Digest: {}\nStatus: {} ({} blobs, {} bytes from {})",
                img.manifest.digest,
                if img.downloaded == 0 {
                    format!("Image is up to date for {}", r.familiar())
                } else {
                    format!("Downloaded newer image for {}", r.familiar())
                },
                img.downloaded,
                img.bytes,
                img.source
            );
            println!("{}", img.name);
        }
    }
    Ok(())
}
