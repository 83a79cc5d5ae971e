//! The command line: one file per subcommand, each with a clap `Args` struct
//! and a `run` function. `main.rs` only calls [`main`].

use clap::{Parser, Subcommand};

pub mod sandbox_child;

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
    // Subcommands are added here, one line each: `Name(name::NameArgs),`
    /// The sandbox helper of a RUN step (internal).
    #[command(name = "__sandbox-child", hide = true)]
    SandboxChild(sandbox_child::SandboxChildArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result: anyhow::Result<i32> = match cli.command {
        Command::SandboxChild(args) => sandbox_child::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    }
}
