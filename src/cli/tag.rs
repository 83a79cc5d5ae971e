//! `builder tag SOURCE TARGET`.

use anyhow::Result;
use clap::Args;

use super::pull::{find_local, store_name, StoreArgs};
use crate::registry::Reference;

/// `builder tag` options.
#[derive(Debug, Args)]
pub struct TagArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The local image.
    pub source: String,
    /// The new name (`name[:tag]`).
    pub target: String,
}

/// Runs `builder tag`.
pub fn run(args: TagArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let (_, desc) = find_local(&store, &args.source)?;
    let target = Reference::parse(&args.target)?;
    if target.digest().is_some() {
        anyhow::bail!(
            "refusing to create a tag with a digest reference: {}",
            args.target
        );
    }
    store.set_tag(&store_name(&target), &desc)?;
    Ok(0)
}
