//! `builder rmi REF...`: remove tags (`builder prune` frees the space).

use anyhow::Result;
use clap::Args;

use super::pull::{find_local, StoreArgs};

/// `builder rmi` options.
#[derive(Debug, Args)]
pub struct RmiArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Also run `prune` afterwards to delete data no tag references.
    #[arg(long)]
    pub prune: bool,
    /// The images to untag.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Runs `builder rmi`.
pub fn run(args: RmiArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let mut code = 0;
    for i in &args.images {
        match find_local(&store, i) {
            Ok((name, _)) => {
                store.remove_tag(&name)?;
                println!("Untagged: {name}");
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                code = 1;
            }
        }
    }
    if args.prune {
        let r = store.prune(&Default::default())?;
        println!(
            "Deleted {} blobs and {} snapshots, freed {} bytes",
            r.blobs_removed, r.snapshots_removed, r.bytes_freed
        );
    }
    Ok(code)
}
