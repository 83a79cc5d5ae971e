//! `builder run IMAGE [CMD…]`: runs a stored image's ENTRYPOINT + CMD (or the
//! given command) in the build sandbox on a throwaway upper dir, and exits
//! with the command's status.

use std::io::Write as _;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;

use super::pull::{find_local, StoreArgs};
use crate::engine::base::load_local;
use crate::sandbox::{self, Stream};

/// `builder run` options.
#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// How builds are isolated: `auto` (the best level available, see `builder info`),
    /// `namespaces` (root with CAP_SYS_ADMIN), `rootless` (a user namespace), `chroot`.
    #[arg(long, value_enum)]
    pub isolation: Option<crate::sandbox::isolation::Choice>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Remove the container's filesystem afterwards (always done; accepted for docker compatibility).
    #[arg(long)]
    pub rm: bool,
    /// Set an environment variable, `KEY=VALUE` or `KEY` (from this environment).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Override the image's ENTRYPOINT.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// User (name, uid, name:group or uid:gid).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Network: `host` (default) or `none`.
    #[arg(long, default_value = "host")]
    pub network: String,
    /// Allocate a terminal (accepted for docker compatibility; output is streamed).
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Keep stdin open (accepted for docker compatibility).
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// The platform's image to run from a multi-platform image (default: this machine's).
    #[arg(long)]
    pub platform: Option<String>,
    /// The image.
    pub image: String,
    /// Command and arguments (replace the image's CMD).
    pub command: Vec<String>,
}

/// Runs `builder run`.
pub fn run(args: RunArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let (_, desc) = find_local(&store, &args.image).with_context(|| {
        format!(
            "image {} is not in the store: build or pull it first",
            args.image
        )
    })?;
    let platform = match &args.platform {
        Some(p) => crate::plan::Platform::parse(p).map_err(|e| anyhow!("--platform {e}"))?,
        None => crate::plan::Platform::host(),
    };
    let want: crate::store::Platform = crate::engine::export_index::store_platform(&platform);
    let (image, _) = load_local(&store, &desc, &want)
        .with_context(|| format!("{}: no image for {platform} in the store", args.image))?;
    // A single-platform image is only ever the platform its config says.
    let c = &image.config;
    let have = crate::plan::Platform::new(&c.os, &c.architecture, &c.variant);
    if args.platform.is_some()
        && !c.architecture.is_empty()
        && have.architecture != platform.architecture
    {
        bail!("{} is an image for {have}, not {platform}", args.image);
    }
    sandbox::foreign::can_run(&have)?;
    let cfg = &image.config.config;
    let entrypoint = match &args.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => cfg.entrypoint.clone(),
    };
    let cmd = if !args.command.is_empty() {
        args.command.clone()
    } else if args.entrypoint.is_some() {
        Vec::new()
    } else {
        cfg.cmd.clone()
    };
    let argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        bail!("no command: the image has no ENTRYPOINT or CMD; give one after the image name");
    }
    let mut env = cfg.env.clone();
    for e in &args.env {
        match e.split_once('=') {
            Some((k, v)) => crate::engine::stage::set_env(&mut env, k, v),
            None => {
                if let Ok(v) = std::env::var(e) {
                    crate::engine::stage::set_env(&mut env, e, &v);
                }
            }
        }
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={}", sandbox::DEFAULT_PATH));
    }
    let lowers = image.lowers(&store)?;
    let user = sandbox::user::resolve(&lowers, args.user.as_deref().unwrap_or(&cfg.user))?;
    let cwd = args
        .workdir
        .clone()
        .or_else(|| Some(cfg.working_dir.clone()).filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".to_string());
    let network = match args.network.as_str() {
        "host" | "default" | "bridge" => sandbox::Network::Host,
        "none" => sandbox::Network::None,
        other => bail!("--network {other}: use host or none"),
    };
    let dirs = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(store.temp_dir()?)?;
    let upper = dirs.path().join("upper");
    let work = dirs.path().join("work");
    std::fs::create_dir(&upper)?;
    std::fs::create_dir(&work)?;
    let hostname = desc.digest.hex()[..12].to_string();
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let etc = sandbox::EtcFiles::defaults(&hostname, &host_resolv);
    // The chroot level runs in a throwaway copy of the image's files.
    let rootfs = if sandbox::isolation::chroot_level() {
        let root = dirs.path().join("root");
        crate::engine::flat::Flat::prepare(&lowers, &root)?;
        crate::engine::flat::EtcFiles::install(&root, &etc.named())?;
        sandbox::RootFs::Chroot(root)
    } else {
        sandbox::RootFs::Overlay {
            lowers,
            upper,
            work,
        }
    };
    let spec = sandbox::RunSpec {
        rootfs,
        argv,
        env,
        cwd,
        user,
        hostname: hostname.clone(),
        network,
        mounts: Vec::new(),
        etc,
    };
    let code = sandbox::run(&spec, |stream, line| {
        let _ = match stream {
            Stream::Stdout => writeln!(std::io::stdout(), "{}", String::from_utf8_lossy(line)),
            _ => writeln!(std::io::stderr(), "{}", String::from_utf8_lossy(line)),
        };
    })
    .map_err(|e| anyhow!("running {}: {e}", args.image))?;
    Ok(code)
}
