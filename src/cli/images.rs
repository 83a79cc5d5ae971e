//! `builder images`: the images in the store, as `docker images` (Docker
//! 26.1, classic image store) lists them: REPOSITORY, TAG, IMAGE ID (the
//! config digest, 12 digits), CREATED, SIZE (the layers' unpacked sizes,
//! see [`crate::store::Store::layer_size`]) and, builder's addition,
//! PLATFORM; newest first. `--filter` takes Docker's `reference=`,
//! `dangling=`, `label=`, `before=` and `since=`; `--format` Docker's
//! templates, `table …` and `json`.

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};

use super::format::{created_at, created_since, human_size, rfc3339_secs, Format};
use super::pull::{find_local, StoreArgs};
use crate::registry::Reference;
use crate::store::{Platform, Store};

/// `builder images` options.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate IDs (`sha256:` and 64 digits).
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests (the manifest digest).
    #[arg(long)]
    pub digests: bool,
    /// Filter: `reference=PATTERN`, `dangling=true|false`, `label=KEY[=VALUE]`,
    /// `before=IMAGE`, `since=IMAGE` (repeatable).
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format: `table`, `table TEMPLATE`, `json`, or a Go template such as
    /// `{{.Repository}}:{{.Tag}}`.
    #[arg(long)]
    pub format: Option<String>,
    /// Only images of this repository (`REPOSITORY[:TAG]`), as `docker images NAME`.
    pub repository: Option<String>,
}

const DEFAULT_TABLE: &str =
    "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.Platform}}";
const DIGESTS_TABLE: &str =
    "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.Platform}}";

/// One row: the template data and what filters look at.
struct Row {
    data: Value,
    name: Option<Reference>,
    created: i64,
    labels: Value,
}

/// The column titles of `docker images`.
fn headers() -> Value {
    json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
        "Containers": "CONTAINERS", "Platform": "PLATFORM"})
}

fn rows(store: &Store, no_trunc: bool) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for i in store.list_images()? {
        let (_, manifest, config) = store.manifest_and_config(&i.descriptor, &Platform::host())?;
        let id = store.image_id(&i.descriptor)?.to_string();
        let name = Reference::parse(&i.name)
            .ok()
            .filter(|_| !i.name.is_empty());
        let (repo, tag) = match &name {
            Some(r) => (
                r.with_tag("x")
                    .familiar()
                    .trim_end_matches(":x")
                    .to_string(),
                r.tag().unwrap_or("<none>").to_string(),
            ),
            None => ("<none>".to_string(), "<none>".to_string()),
        };
        let created_str = config["created"].as_str();
        let created = created_str.and_then(rfc3339_secs).unwrap_or(0);
        let bytes = store.image_size(&manifest)?;
        let size = human_size(bytes, 3);
        let children = if crate::store::descriptor::is_index(&i.descriptor.media_type) {
            crate::registry::push_index::index_children(store, &i.descriptor)?
        } else {
            Vec::new()
        };
        let platform = match &i.descriptor.platform {
            Some(p) => p.to_string(),
            // A multi-platform image: the platforms its index lists.
            None if !children.is_empty() => children
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(","),
            None => {
                let mut p = format!(
                    "{}/{}",
                    config["os"].as_str().unwrap_or_default(),
                    config["architecture"].as_str().unwrap_or_default()
                );
                if let Some(v) = config["variant"].as_str() {
                    p = format!("{p}/{v}");
                }
                p
            }
        };
        let short_id = if no_trunc {
            id.clone()
        } else {
            id.trim_start_matches("sha256:").chars().take(12).collect()
        };
        out.push(Row {
            data: json!({
                "Containers": "N/A",
                "CreatedAt": created_at(created),
                "CreatedSince": created_since(created_str),
                "Digest": if name.is_some() { i.descriptor.digest.to_string() } else { String::new() },
                "ID": short_id,
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": size,
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(bytes, 4),
                "Platform": platform,
            }),
            name,
            created,
            labels: config.pointer("/config/Labels").cloned().unwrap_or(Value::Null),
        });
    }
    // Newest first, as the docker CLI sorts.
    out.sort_by_key(|r| std::cmp::Reverse(r.created));
    Ok(out)
}

/// `reference=` as Docker matches it: the pattern against the familiar
/// `name:tag`, or against the familiar name when the pattern has no tag.
fn reference_matches(pattern: &str, r: &Reference) -> bool {
    let full = r.familiar();
    let name = r
        .with_tag("x")
        .familiar()
        .trim_end_matches(":x")
        .to_string();
    let glob = |s: &str| {
        crate::context::gomatch::go_match(pattern.as_bytes(), s.as_bytes()).unwrap_or(false)
    };
    glob(&full) || glob(&name)
}

/// Applies `--filter` values (different keys: all must hold; the same key
/// repeated: any, as Docker).
fn filter(store: &Store, rows: Vec<Row>, filters: &[String]) -> Result<Vec<Row>> {
    let mut by_key: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for f in filters {
        let Some((k, v)) = f.split_once('=') else {
            bail!("--filter {f}: expected KEY=VALUE (reference, dangling, label, before, since)");
        };
        match k {
            "reference" | "dangling" | "label" | "before" | "since" => {
                by_key.entry(k).or_default().push(v)
            }
            other => bail!(
                "--filter {other}: invalid filter (use reference, dangling, label, before or since)"
            ),
        }
    }
    let created_of = |what: &str| -> Result<i64> {
        let (_, desc) = find_local(store, what)?;
        let (_, _, config) = store.manifest_and_config(&desc, &Platform::host())?;
        Ok(config["created"]
            .as_str()
            .and_then(rfc3339_secs)
            .unwrap_or(0))
    };
    let mut bounds = Vec::new();
    for (k, vs) in &by_key {
        for v in vs {
            match *k {
                "dangling" if !matches!(*v, "true" | "false" | "1" | "0") => {
                    bail!("--filter dangling={v}: use true or false")
                }
                "before" | "since" => bounds.push((*k, created_of(v)?)),
                _ => {}
            }
        }
    }
    Ok(rows
        .into_iter()
        .filter(|row| {
            by_key.iter().all(|(k, vs)| match *k {
                "reference" => row
                    .name
                    .as_ref()
                    .is_some_and(|r| vs.iter().any(|p| reference_matches(p, r))),
                "dangling" => vs
                    .iter()
                    .any(|v| matches!(*v, "true" | "1") == row.name.is_none()),
                "label" => vs.iter().any(|v| match v.split_once('=') {
                    Some((lk, lv)) => row.labels.get(lk).and_then(Value::as_str) == Some(lv),
                    None => row.labels.get(v).is_some(),
                }),
                _ => true,
            })
        })
        .filter(|row| {
            bounds.iter().all(|(k, t)| match *k {
                "before" => row.created < *t,
                _ => row.created > *t,
            })
        })
        .collect())
}

/// Runs `builder images`.
pub fn run(args: ImagesArgs) -> Result<i32> {
    let format = Format::parse(
        args.format.as_deref(),
        if args.digests {
            DIGESTS_TABLE
        } else {
            DEFAULT_TABLE
        },
    )?;
    let store = args.store.open_store()?;
    let mut filters = args.filter.clone();
    if let Some(r) = &args.repository {
        filters.push(format!("reference={r}"));
    }
    let rows = filter(&store, rows(&store, args.no_trunc)?, &filters)?;
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = r.data["ID"].as_str().unwrap_or_default().to_string();
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    let items: Vec<Value> = rows.into_iter().map(|r| r.data).collect();
    print!("{}", format.render(&items, &headers())?);
    Ok(0)
}
