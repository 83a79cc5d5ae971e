//! `builder history IMAGE`: an image's history, as `docker history` shows
//! it (Docker 26.1): IMAGE (the image ID on the newest row, `<missing>` on
//! the others, as for any image BuildKit built or Docker pulled), CREATED,
//! CREATED BY (cut to 45 characters with `…` unless `--no-trunc`), SIZE
//! (the layer's unpacked size, `0B` for steps without a layer), COMMENT;
//! newest first. `--format` and `-q` as Docker's.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};

use super::format::{created_since, human_size, rfc3339, rfc3339_secs, Format};
use super::pull::{find_local, StoreArgs};
use crate::store::{Digest, Platform};

/// `builder history` options.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Do not truncate CREATED BY or the image ID.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Sizes and dates in bytes and RFC 3339 (`--human=false`).
    #[arg(short = 'H', long, default_value = "true", action = clap::ArgAction::Set)]
    pub human: bool,
    /// Format: `table`, `table TEMPLATE`, `json` or a Go template
    /// (`{{.ID}}`, `{{.CreatedSince}}`, `{{.CreatedAt}}`, `{{.CreatedBy}}`,
    /// `{{.Size}}`, `{{.Comment}}`).
    #[arg(long)]
    pub format: Option<String>,
    /// The image (name or ID).
    pub image: String,
}

const DEFAULT_TABLE: &str = "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// `stringutils.Ellipsis`: at most `max` characters, the last one `…`.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Runs `builder history`.
pub fn run(args: HistoryArgs) -> Result<i32> {
    // Not human: the table shows CREATED AT and sizes in bytes (Docker 26.1).
    let default_table = if args.human {
        DEFAULT_TABLE
    } else {
        "{{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    };
    let format = Format::parse(args.format.as_deref(), default_table)?;
    let store = args.store.open_store()?;
    let (_, desc) = find_local(&store, &args.image)?;
    let (_, manifest, config) = store.manifest_and_config(&desc, &Platform::host())?;
    let id = store.image_id(&desc)?.to_string();
    let layers: Vec<Digest> = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| Digest::parse(l["digest"].as_str().unwrap_or_default()))
        .collect::<Result<_, _>>()
        .context("a layer descriptor without a digest")?;
    let history: Vec<Value> = config["history"].as_array().cloned().unwrap_or_default();
    let rows: Vec<(Value, bool)> = history
        .iter()
        .map(|h| (h.clone(), h["empty_layer"].as_bool().unwrap_or(false)))
        .collect();
    // Layers pair with the non-empty history entries in order.
    let mut sizes = Vec::new();
    let mut next_layer = layers.iter();
    for (_, empty) in &rows {
        sizes.push(if *empty {
            0
        } else {
            match next_layer.next() {
                Some(d) => store.layer_size(d)?,
                None => 0,
            }
        });
    }
    let mut items = Vec::new();
    for (n, ((h, _), size)) in rows.iter().zip(sizes).enumerate().rev() {
        let newest = n + 1 == rows.len();
        let image = if !newest {
            "<missing>".to_string()
        } else if args.no_trunc {
            id.clone()
        } else {
            id.trim_start_matches("sha256:").chars().take(12).collect()
        };
        let created_by = h["created_by"]
            .as_str()
            .unwrap_or_default()
            .replace('\t', " ");
        let secs = h["created"].as_str().and_then(rfc3339_secs).unwrap_or(0);
        // Docker shows N/A for a step created at the Unix epoch (zero).
        let since = if secs == 0 {
            "N/A".to_string()
        } else {
            created_since(h["created"].as_str())
        };
        items.push(json!({
            "Comment": h["comment"].as_str().unwrap_or_default(),
            "CreatedAt": rfc3339(secs),
            "CreatedBy": if args.no_trunc { created_by } else { ellipsis(&created_by, 45) },
            "CreatedSince": since,
            "ID": image,
            "Size": if args.human { human_size(size, 3) } else { size.to_string() },
        }));
    }
    if args.quiet {
        for i in &items {
            println!("{}", i["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    let headers = json!({"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"});
    print!("{}", format.render(&items, &headers)?);
    Ok(0)
}
