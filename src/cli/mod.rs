//! The command line: one file per subcommand, each with a clap `Args` struct
//! and a `run` function. `main.rs` only calls [`main`].

use clap::{Parser, Subcommand};

pub mod build;
mod build_args;
pub mod build_attest;
pub mod build_compat;
pub mod build_context;
mod build_flags;
mod build_input;
mod build_multi;
mod build_multi_attest;
mod build_prepare;
mod build_single;
pub mod debug;
pub mod format;
pub mod history;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod limits;
pub mod lint;
pub mod load;
pub mod login;
pub mod logout;
pub mod output;
mod output_index;
pub mod prune;
pub mod pull;
pub mod push;
pub mod rmi;
pub mod run;
pub mod sandbox_child;
pub mod save;
pub mod stdin_context;
pub mod system;
pub mod tag;
pub mod template;
pub mod validate;
pub mod version;

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
    /// Load images from a docker or OCI archive (a file or stdin).
    Load(load::LoadArgs),
    /// Show the history of an image.
    History(history::HistoryArgs),
    /// Show builder's version.
    Version(version::VersionArgs),
    /// Store-wide commands (`system df`).
    System(system::SystemArgs),
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
    // Set but empty means unset, as Docker reads these (an empty
    // SOURCE_DATE_EPOCH is no clamp, an empty BUILDER_ROOT the default root).
    // Still single-threaded here, so changing the environment is sound.
    for var in [
        "SOURCE_DATE_EPOCH",
        crate::store::ROOT_ENV,
        crate::sandbox::isolation::ISOLATION_ENV,
    ] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(var);
        }
    }
    let cli = match Cli::try_parse_from(validate::normalize_pull(std::env::args_os().collect())) {
        Ok(cli) => cli,
        // A usage error (an unknown flag, a missing value) exits 125, as the
        // docker CLI's do; `--help` and `--version` print and exit 0.
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 125 } else { 0 };
        }
    };
    // Bad flags fail before any work (and before a rootless re-exec).
    if let Command::Build(args) = &cli.command {
        if let Err(err) = validate::check(args) {
            eprintln!("error: {err:#}");
            return 1;
        }
    }
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
        Command::Images(_)
            | Command::Inspect(_)
            | Command::Info(_)
            | Command::History(_)
            | Command::Version(_)
            | Command::System(_)
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
        Command::Load(args) => load::run(args),
        Command::History(args) => history::run(args),
        Command::Version(args) => version::run(args),
        Command::System(args) => system::run(args),
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
    let (flag, root) = match command {
        Command::Build(a) => (a.isolation, a.root.clone()),
        Command::Run(a) => (a.isolation, a.store.root.clone()),
        Command::Import(_)
        | Command::Pull(_)
        | Command::Rmi(_)
        | Command::Prune(_)
        | Command::Load(_) => (None, None),
        _ => return Ok(None),
    };
    let choice = Choice::resolve(flag)?;
    let root = root.unwrap_or_else(crate::store::Store::default_root);
    isolation::enter(choice, &root)
}

/// Reads a Dockerfile from a path, or from stdin for `-`; returns the name
/// shown in messages and the bytes.
pub fn read_dockerfile(path: &std::path::Path) -> anyhow::Result<(String, Vec<u8>)> {
    use crate::context::regular::{read_limited, read_regular, MAX_DOCKERFILE_BYTES};
    if path.as_os_str() == "-" {
        let bytes = read_limited(
            std::io::stdin().lock(),
            path,
            "Dockerfile",
            MAX_DOCKERFILE_BYTES,
        )
        .map_err(|e| anyhow::anyhow!("reading the Dockerfile from stdin: {e}"))?;
        return Ok(("-".to_string(), bytes));
    }
    // Only a regular file: a FIFO would block the open, a device never end.
    let bytes = read_regular(path, "Dockerfile", MAX_DOCKERFILE_BYTES).map_err(|e| match e {
        // BuildKit's words for a missing one (`failed to read dockerfile:
        // open Dockerfile: no such file or directory`), with the path.
        crate::context::ContextError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            anyhow::anyhow!(
                "failed to read dockerfile: open {}: no such file or directory",
                path.display()
            )
        }
        crate::context::ContextError::Io { source, .. } => {
            anyhow::Error::new(source).context(format!("reading the Dockerfile {}", path.display()))
        }
        other => anyhow::anyhow!("{other}"),
    })?;
    Ok((path.display().to_string(), bytes))
}
