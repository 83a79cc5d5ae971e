//! The command line: one file per subcommand, each with a clap `Args` struct
//! and a `run` function. `main.rs` only calls [`main`].

use clap::{Parser, Subcommand};

pub mod build;
pub mod debug;

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
    /// Look inside builder (e.g. `debug ast FILE`).
    Debug(debug::DebugArgs),
    // Subcommands are added here, one line each: `Name(name::NameArgs),`
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result: anyhow::Result<i32> = match cli.command {
        Command::Build(args) => build::run(args),
        Command::Debug(args) => debug::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    }
}

/// Reads a Dockerfile from a path, or from stdin for `-`; returns the name
/// shown in messages and the text.
pub fn read_dockerfile(path: &std::path::Path) -> anyhow::Result<(String, String)> {
    use anyhow::Context as _;
    use std::io::Read as _;
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the Dockerfile from stdin")?;
        return Ok(("-".to_string(), text));
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the Dockerfile {}", path.display()))?;
    Ok((path.display().to_string(), text))
}
