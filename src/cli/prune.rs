//! `builder prune`: delete blobs and snapshots that no tag and no cache
//! root references.

use anyhow::Result;
use clap::Args;

use super::pull::StoreArgs;

/// `builder prune` options.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `builder prune`.
pub fn run(args: PruneArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let r = store.prune(&Default::default())?;
    println!(
        "Deleted {} blobs, {} snapshots, {} temp files; freed {} bytes",
        r.blobs_removed, r.snapshots_removed, r.temp_removed, r.bytes_freed
    );
    Ok(0)
}
