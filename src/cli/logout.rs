//! `builder logout [REGISTRY]`.

use anyhow::Result;
use clap::Args;

use crate::registry::credentials::registry_from_arg;
use crate::registry::DockerConfig;

/// `builder logout` options.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub).
    pub registry: Option<String>,
}

/// Runs `builder logout`.
pub fn run(args: LogoutArgs) -> Result<i32> {
    let registry = registry_from_arg(args.registry.as_deref().unwrap_or("docker.io"));
    let mut cfg = DockerConfig::load_default()?;
    if cfg.remove(&registry)? {
        eprintln!("Removing login credentials for {registry}");
    } else {
        eprintln!("Not logged in to {registry}");
    }
    Ok(0)
}
