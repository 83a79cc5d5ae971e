//! The command line: one file per subcommand, each with a clap `Args` struct
//! and a `run` function. `main.rs` only calls [`main`].

use clap::{Parser, Subcommand};

pub mod build;

/// builder: build OCI images from Dockerfiles, no daemon needed.
#[derive(Debug, Parser)]
#[command(name = "builder", version, about)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    // Subcommands are added here, one line each: `Name(name::NameArgs),`
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result: anyhow::Result<i32> = match cli.command {
        Command::Build(args) => build::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    }
}
