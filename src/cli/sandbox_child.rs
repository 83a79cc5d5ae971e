//! `builder __sandbox-child` (hidden): the helper process of a `RUN` step.
//! The engine re-executes the binary with this subcommand so namespaces are
//! created from a fresh single-threaded process, never from inside the
//! tokio runtime. It reads its spec from stdin; see `sandbox`.

use clap::Args;

/// No arguments: everything comes over stdin.
#[derive(Debug, Args)]
pub struct SandboxChildArgs {}

/// Runs the helper and returns its exit code.
pub fn run(_args: SandboxChildArgs) -> anyhow::Result<i32> {
    Ok(crate::sandbox::helper_main())
}
