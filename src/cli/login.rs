//! `builder login [REGISTRY] -u USER --password-stdin`: checks the
//! credentials against the registry and stores them like `docker login`.

use std::io::Read;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::pull::{runtime, StoreArgs};
use crate::registry::credentials::registry_from_arg;
use crate::registry::{Credential, DockerConfig};

/// `builder login` options.
#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// User name.
    #[arg(short, long)]
    pub username: String,
    /// Password (visible in the process list; prefer --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Store the credentials without checking them against the registry.
    #[arg(long)]
    pub no_verify: bool,
    /// The registry (default: Docker Hub).
    pub registry: Option<String>,
}

/// Runs `builder login`.
pub fn run(args: LoginArgs) -> Result<i32> {
    let password = if args.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from stdin")?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = args.password.clone() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        bail!("no password given: use --password-stdin");
    };
    if password.is_empty() {
        bail!("empty password");
    }
    let registry = registry_from_arg(args.registry.as_deref().unwrap_or("docker.io"));
    let cred = Credential::Basic {
        username: args.username.clone(),
        password,
    };
    if !args.no_verify {
        let client = args.store.client()?;
        let ep = client.config().registry_endpoint(&registry);
        runtime()?.block_on(client.verify_login(&ep, &cred))?;
    }
    let mut cfg = DockerConfig::load_default()?;
    cfg.store(&registry, &cred)?;
    eprintln!(
        "Login Succeeded (credentials saved in {})",
        cfg.path().display()
    );
    Ok(0)
}
