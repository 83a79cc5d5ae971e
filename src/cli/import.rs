//! `builder import ROOTFS -t NAME`: a directory as a one-layer image in the
//! store (how the tests and the demo make base images without Docker).

use std::path::PathBuf;

use anyhow::{anyhow, Context as _, Result};
use clap::Args;

use super::pull::{store_name, StoreArgs};
use crate::engine::{base, commit, store_image};
use crate::layer::{write, SourceKind, WriteOptions};
use crate::plan::Platform;
use crate::registry::Reference;
use crate::store::{Descriptor, Digest};

/// `builder import` options.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Name(s) for the image.
    #[arg(short = 't', long = "tag", required = true)]
    pub tags: Vec<String>,
    /// `KEY=VALUE` for the config's Env (repeatable; PATH defaults to Docker's).
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// The config's Cmd, one argument per flag.
    #[arg(long = "cmd")]
    pub cmd: Vec<String>,
    /// History text of the layer.
    #[arg(long, default_value = "builder import")]
    pub message: String,
    /// Platform of the image (default: the host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Clamp file mtimes and `created` to this time (also `SOURCE_DATE_EPOCH`).
    #[arg(long, env = "SOURCE_DATE_EPOCH")]
    pub source_date_epoch: Option<i64>,
    /// The root filesystem directory.
    pub rootfs: PathBuf,
}

/// Runs `builder import`.
pub fn run(args: ImportArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).map_err(|e| anyhow!("--platform {p}: {e:?}"))?,
        None => Platform::host(),
    };
    let opts = WriteOptions {
        kind: SourceKind::Plain,
        source_date_epoch: args.source_date_epoch,
    };
    let written = write(&args.rootfs, &store.temp_dir()?, &opts)
        .with_context(|| format!("packing {}", args.rootfs.display()))?;
    let diff_id = Digest::parse(&format!("sha256:{}", written.diff_id.hex()))?;
    let stored = store.put_blob_file(&written.path, Some(&diff_id));
    let _ = std::fs::remove_file(&written.path);
    let (digest, size) = stored?;

    let mut image = base::scratch(&platform);
    image.config.config.working_dir.clear();
    image.config.config.env.clear();
    for e in &args.env {
        let (k, v) = e
            .split_once('=')
            .ok_or_else(|| anyhow!("--env {e}: expected KEY=VALUE"))?;
        crate::engine::stage::set_env(&mut image.config.config.env, k, v);
    }
    if !image
        .config
        .config
        .env
        .iter()
        .any(|e| e.starts_with("PATH="))
    {
        image
            .config
            .config
            .env
            .insert(0, format!("PATH={}", crate::sandbox::DEFAULT_PATH));
    }
    image.config.config.cmd = args.cmd.clone();
    image.push_layer(crate::engine::LayerRef {
        diff_id,
        blob: Descriptor::new(commit::MEDIA_TYPE_LAYER_TAR, digest, size),
    });
    image.config.history.push(crate::image::History {
        created_by: args.message.clone(),
        ..Default::default()
    });
    image.base_history = 0;
    let tags: Vec<String> = args
        .tags
        .iter()
        .map(|t| {
            Reference::parse(t)
                .map(|r| store_name(&r))
                .map_err(|e| anyhow!("-t {t}: {e}"))
        })
        .collect::<Result<_>>()?;
    let out = store_image(&store, &image, args.source_date_epoch, &[], &tags)?;
    println!("{}", out.config_digest);
    Ok(0)
}
