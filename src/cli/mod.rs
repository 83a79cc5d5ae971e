//! The command line: one file per subcommand, each with a clap `Args` struct
//! and a `run` function. `main.rs` only calls [`main`].

use clap::{Parser, Subcommand};

pub mod build;
mod build_multi;
pub mod debug;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod login;
pub mod logout;
pub mod output;
pub mod prune;
pub mod pull;
pub mod push;
pub mod rmi;
pub mod run;
pub mod sandbox_child;
pub mod save;
pub mod tag;

/// builder: build OCI images from Dockerfiles, no daemon needed.
#[derive(Debug, Parser)]
#[command(name = "builder", version, about)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
// Parsed once per process; boxing the large build options buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Load a root filesystem directory as a one-layer image.
    Import(import::ImportArgs),
    /// Run a command in an image.
    Run(run::RunArgs),
    /// Look inside builder (e.g. `debug ast FILE`).
    Debug(debug::DebugArgs),
    /// Pull images from a registry into the store.
    Pull(pull::PullArgs),
    /// Push an image from the store to a registry.
    Push(push::PushArgs),
    /// List the images in the store.
    Images(images::ImagesArgs),
    /// Show an image's manifest and config.
    Inspect(inspect::InspectArgs),
    /// Give an image another name.
    Tag(tag::TagArgs),
    /// Remove image names from the store.
    Rmi(rmi::RmiArgs),
    /// Delete store data no image or cache references.
    Prune(prune::PruneArgs),
    /// Write images to an OCI or docker archive.
    Save(save::SaveArgs),
    /// Log in to a registry.
    Login(login::LoginArgs),
    /// Log out from a registry.
    Logout(logout::LogoutArgs),
    /// Show the isolation level builder uses here and why.
    Info(info::InfoArgs),
    // Subcommands are added here, one line each: `Name(name::NameArgs),`
    /// The sandbox helper of a RUN step (internal).
    #[command(name = "__sandbox-child", hide = true)]
    SandboxChild(sandbox_child::SandboxChildArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    if let Err(err) = crate::sandbox::userns::enter_if_reexecuted() {
        eprintln!("error: entering the user namespace: {err:#}");
        return 1;
    }
    let cli = Cli::parse();
    match isolate(&cli.command) {
        Ok(None) => {}
        Ok(Some(code)) => return code,
        Err(err) => {
            eprintln!("error: {err:#}");
            return 1;
        }
    }
    if matches!(
        cli.command,
        Command::Images(_) | Command::Inspect(_) | Command::Info(_)
    ) {
        // Commands that only print: `builder images | head` ends quietly when
        // the reader closes the pipe, as `docker images | head` does (Rust
        // ignores SIGPIPE, so println! would panic on EPIPE).
        // SAFETY: restoring a default disposition before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result: anyhow::Result<i32> = match cli.command {
        Command::Build(args) => build::run(args),
        Command::Debug(args) => debug::run(args),
        Command::Run(args) => run::run(args),
        Command::Import(args) => import::run(args),
        Command::Pull(args) => pull::run(args),
        Command::Push(args) => push::run(args),
        Command::Images(args) => images::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Tag(args) => tag::run(args),
        Command::Rmi(args) => rmi::run(args),
        Command::Prune(args) => prune::run(args),
        Command::Save(args) => save::run(args),
        Command::Login(args) => login::run(args),
        Command::Logout(args) => logout::run(args),
        Command::Info(args) => info::run(args),
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

/// Picks the isolation level for commands that run the sandbox or create or
/// remove files with other owners in the store: `Some(exit code)` when the
/// command ran re-executed in a user namespace (rootless), `None` to run it
/// here.
fn isolate(command: &Command) -> anyhow::Result<Option<i32>> {
    use crate::sandbox::isolation::{self, Choice};
    let (flag, needs_sandbox, root) = match command {
        Command::Build(a) => (a.isolation, true, a.root.clone()),
        Command::Run(a) => (a.isolation, true, a.store.root.clone()),
        Command::Import(_) | Command::Pull(_) | Command::Rmi(_) | Command::Prune(_) => {
            (None, false, None)
        }
        _ => return Ok(None),
    };
    let choice = Choice::resolve(flag)?;
    let root = root.unwrap_or_else(crate::store::Store::default_root);
    isolation::enter(choice, needs_sandbox, &root)
}

/// Reads a Dockerfile from a path, or from stdin for `-`; returns the name
/// shown in messages and the bytes.
pub fn read_dockerfile(path: &std::path::Path) -> anyhow::Result<(String, Vec<u8>)> {
    use anyhow::Context as _;
    use std::io::Read as _;
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading the Dockerfile from stdin")?;
        return Ok(("-".to_string(), bytes));
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading the Dockerfile {}", path.display()))?;
    Ok((path.display().to_string(), bytes))
}
