//! `builder debug …`: tools for looking inside builder's front end.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `builder debug` subcommands.
#[derive(Debug, Args)]
pub struct DebugArgs {
    /// What to show.
    #[command(subcommand)]
    pub what: DebugCommand,
}

/// The debug views.
#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print a Dockerfile's syntax tree in BuildKit's `Node.Dump()` format.
    Ast {
        /// The Dockerfile (`-` for stdin).
        file: PathBuf,
    },
    /// Verify the store: every blob's content against its digest name,
    /// every snapshot against a fresh extraction of its layer, and every
    /// delta snapshot's record, base and tree over that base likewise. Exit
    /// status 1 when something is wrong, each problem on a line of its own.
    CheckStore {
        #[command(flatten)]
        store: super::pull::StoreArgs,
    },
}

/// Runs `builder debug`.
pub fn run(args: DebugArgs) -> anyhow::Result<i32> {
    match args.what {
        DebugCommand::CheckStore { store } => check_store(&store),
        DebugCommand::Ast { file } => {
            let (name, source) = super::read_dockerfile(&file)?;
            match crate::dockerfile::parse_bytes(&source) {
                Ok(df) => {
                    print!("{}", crate::dockerfile::dump(&df));
                    Ok(0)
                }
                Err(diag) => {
                    eprintln!("error: {}", diag.in_file(name));
                    Ok(1)
                }
            }
        }
    }
}

/// `builder debug check-store`.
fn check_store(args: &super::pull::StoreArgs) -> anyhow::Result<i32> {
    let store = args.open_store()?;
    let mut extract = |input: &mut dyn std::io::Read, dest: &std::path::Path| {
        crate::layer::extract(input, dest, &Default::default()).map(|_| ())
    };
    let r = store.check(&mut extract)?;
    for p in &r.problems {
        println!("problem: {p}");
    }
    println!(
        "{} blobs verified, {} snapshots and {} deltas compared with their layer, {} without a layer to compare, {} problems",
        r.blobs,
        r.snapshots_compared,
        r.deltas_compared,
        r.snapshots_unverified,
        r.problems.len()
    );
    Ok(if r.problems.is_empty() { 0 } else { 1 })
}
