//! `builder system df`: the store's disk usage by images, build cache,
//! layer snapshots and delta snapshots, laid out as `docker system df` (TYPE, TOTAL, ACTIVE,
//! SIZE, RECLAIMABLE with its percentage); see
//! [`crate::store::DiskUsage`] for what each row counts.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::format::{human_size, Format};
use super::pull::StoreArgs;
use crate::store::Usage;

/// `builder system` options.
#[derive(Debug, Args)]
pub struct SystemArgs {
    /// The system subcommand.
    #[command(subcommand)]
    pub command: SystemCommand,
}

/// `builder system` subcommands.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show the store's disk usage.
    Df(DfArgs),
}

/// `builder system df` options.
#[derive(Debug, Args)]
pub struct DfArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Format: `table`, `table TEMPLATE`, `json` or a Go template
    /// (`{{.Type}}`, `{{.TotalCount}}`, `{{.Active}}`, `{{.Size}}`, `{{.Reclaimable}}`).
    #[arg(long)]
    pub format: Option<String>,
}

const DEFAULT_TABLE: &str = "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

/// One row as the docker CLI's disk-usage formatter fills it.
fn row(kind: &str, u: &Usage) -> Value {
    // `docker system df`: HumanSize (4 digits), the percentage of SIZE,
    // none when SIZE is 0.
    let mut reclaimable = human_size(u.reclaimable, 4);
    if u.size > 0 {
        reclaimable = format!(
            "{reclaimable} ({}%)",
            (100.0 * u.reclaimable as f64 / u.size as f64) as u64
        );
    }
    json!({"Type": kind, "TotalCount": u.total.to_string(), "Active": u.active.to_string(),
        "Size": human_size(u.size, 4), "Reclaimable": reclaimable})
}

/// Runs `builder system`.
pub fn run(args: SystemArgs) -> Result<i32> {
    match args.command {
        SystemCommand::Df(a) => df(a),
    }
}

fn df(args: DfArgs) -> Result<i32> {
    let format = Format::parse(args.format.as_deref(), DEFAULT_TABLE)?;
    let store = args.store.open_store()?;
    let entries = crate::engine::cache::entries(&store)?.len();
    let u = store.disk_usage(entries)?;
    let items = vec![
        row("Images", &u.images),
        row("Build Cache", &u.build_cache),
        row("Snapshots", &u.snapshots),
        row("Snapshot Deltas", &u.deltas),
    ];
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE",
        "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    print!("{}", format.render(&items, &headers)?);
    Ok(0)
}
