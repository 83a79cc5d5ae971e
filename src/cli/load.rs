//! `builder load [-i FILE]`: images from a docker-archive or OCI archive
//! (plain, gzip or zstd; a file or stdin) into the store, as `docker load`
//! does; prints `Loaded image: NAME` per name, `Loaded image ID: ID` for an
//! image the archive names none for (it is kept, listed as `<none>`).

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::pull::{store_name, StoreArgs};
use crate::registry::Reference;

/// `builder load` options.
#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Read from this archive instead of stdin.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `builder load`.
pub fn run(args: LoadArgs) -> Result<i32> {
    let input: Box<dyn std::io::Read + Send> = match &args.input {
        Some(p) => {
            Box::new(std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?)
        }
        None if std::io::stdin().is_terminal() => {
            // docker load's words.
            bail!("requested load from stdin, but stdin is empty (give -i FILE or pipe an archive)")
        }
        None => Box::new(std::io::stdin()),
    };
    let store = args.store.open_store()?;
    let normalize = |n: &str| Reference::parse(n).ok().map(|r| store_name(&r));
    let images = crate::store::load::load_archive(&store, input, &normalize)
        .context("loading the archive")?;
    if images.is_empty() {
        bail!("the archive holds no images");
    }
    for img in &images {
        if img.names.is_empty() {
            store.add_untagged(&img.descriptor)?;
            if !args.quiet {
                println!("Loaded image ID: {}", img.id);
            }
        }
        for n in &img.names {
            store.set_tag(n, &img.descriptor)?;
            if !args.quiet {
                let shown = Reference::parse(n)
                    .map(|r| r.familiar())
                    .unwrap_or(n.clone());
                println!("Loaded image: {shown}");
            }
        }
    }
    Ok(0)
}
