//! `builder images`: the tags in the store.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::pull::StoreArgs;
use crate::registry::Reference;

/// `builder images` options.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print only manifest digests.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show full names (`docker.io/library/ubuntu`) instead of Docker's short ones.
    #[arg(long)]
    pub no_trunc: bool,
}

fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.3}{}", units[i]).replace(".000", "")
    }
}

/// Runs `builder images`.
pub fn run(args: ImagesArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let images = store.list_images()?;
    if args.quiet {
        for i in images {
            println!("{}", i.descriptor.digest);
        }
        return Ok(0);
    }
    println!(
        "{:<40} {:<16} {:<20} {:<16} {:>10}",
        "REPOSITORY", "TAG", "DIGEST", "PLATFORM", "SIZE"
    );
    for i in images {
        let (repo, tag) = match Reference::parse(&i.name) {
            Ok(r) => {
                let short = if args.no_trunc {
                    r.name()
                } else {
                    r.with_tag("x")
                        .familiar()
                        .trim_end_matches(":x")
                        .to_string()
                };
                (short, r.tag().map_or("<none>".to_string(), str::to_string))
            }
            Err(_) => (i.name.clone(), "<none>".to_string()),
        };
        // Size as `docker images` shows it: the compressed blobs.
        let size = store
            .read_blob(&i.descriptor.digest)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map(|m| {
                let sz = |v: &Value| v.get("size").and_then(Value::as_u64).unwrap_or(0);
                sz(&m["config"])
                    + m["layers"]
                        .as_array()
                        .map_or(0, |ls| ls.iter().map(sz).sum())
            })
            .unwrap_or(0);
        let digest = i.descriptor.digest.to_string();
        let short = if args.no_trunc {
            digest.as_str()
        } else {
            &digest[..19.min(digest.len())]
        };
        let platform = match &i.descriptor.platform {
            Some(p) => p.to_string(),
            // A multi-platform image: the platforms its index lists.
            None => crate::registry::push_index::index_children(&store, &i.descriptor)
                .map(|c| {
                    let p: Vec<String> = c
                        .iter()
                        .filter_map(|d| d.platform.as_ref())
                        .map(|p| p.to_string())
                        .collect();
                    p.join(",")
                })
                .unwrap_or_default(),
        };
        println!(
            "{repo:<40} {tag:<16} {short:<20} {platform:<16} {:>10}",
            human(size)
        );
    }
    Ok(0)
}
