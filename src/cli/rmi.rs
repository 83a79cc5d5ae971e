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
            Ok((name, desc)) if name.is_empty() => {
                store.remove_untagged(&desc.digest)?;
                println!("Deleted: {}", store.image_id(&desc)?);
            }
            Ok((name, desc)) => {
                // By ID, an image with several names is refused, as Docker does.
                let by_name = crate::registry::Reference::parse(i)
                    .is_ok_and(|r| super::pull::store_name(&r) == name);
                let id = store.image_id(&desc)?;
                let names: Vec<String> = store
                    .list_images()?
                    .into_iter()
                    .filter(|e| store.image_id(&e.descriptor).ok().as_ref() == Some(&id))
                    .map(|e| e.name)
                    .collect();
                if !by_name && names.len() > 1 {
                    eprintln!(
                        "error: conflict: unable to delete {i} (must be forced) - image is \
                         referenced in multiple repositories ({})",
                        names.join(", ")
                    );
                    code = 1;
                    continue;
                }
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
