//! `builder save -o FILE [--format oci|docker] REF...`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::pull::{find_local, StoreArgs};
use crate::registry::Reference;
use crate::store::{save_archive, ArchiveFormat, ArchiveImage};

/// Archive formats for `--format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SaveFormat {
    /// A tar of an OCI image layout (`oci-archive:`).
    Oci,
    /// docker-archive, for `docker load`.
    Docker,
}

/// `builder save` options.
#[derive(Debug, Args)]
pub struct SaveArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The output file.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Archive format.
    #[arg(long, value_enum, default_value = "docker")]
    pub format: SaveFormat,
    /// The images to save.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Runs `builder save`.
pub fn run(args: SaveArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let mut images = Vec::new();
    for i in &args.images {
        let (name, desc) = find_local(&store, i)?;
        let r = Reference::parse(&name).ok();
        let tagged = r.as_ref().is_some_and(|r| r.tag().is_some());
        images.push(ArchiveImage {
            familiar: r.as_ref().filter(|_| tagged).map(Reference::familiar),
            name: Some(name),
            manifest: desc,
        });
    }
    let format = match args.format {
        SaveFormat::Oci => ArchiveFormat::Oci,
        SaveFormat::Docker => ArchiveFormat::Docker,
    };
    save_archive(&store, &images, format, &args.output)?;
    Ok(0)
}
