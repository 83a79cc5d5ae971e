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
}

/// Runs `builder debug`.
pub fn run(args: DebugArgs) -> anyhow::Result<i32> {
    match args.what {
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
