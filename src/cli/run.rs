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
    /// Network: `default` (a network namespace of its own with outbound
    /// access through slirp4netns, as Docker's `bridge`), `host` or `none`.
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Resource limits (`--memory`, `--cpus`, `--pids-limit`, `--ulimit`).
    #[command(flatten)]
    pub limits: super::limits::LimitArgs,
    /// Allocate a terminal (accepted for docker compatibility; output is streamed).
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Keep stdin open (accepted for docker compatibility).
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// The image.
    pub image: String,
    /// Command and arguments (replace the image's CMD).
    pub command: Vec<String>,
}

/// Runs `builder run`.
pub fn run(args: RunArgs) -> Result<i32> {
    let limits = args.limits.limits()?;
    let store = args.store.open_store()?;
    let (_, desc) = find_local(&store, &args.image).with_context(|| {
        format!(
            "image {} is not in the store: build or pull it first",
            args.image
        )
    })?;
    let (image, _) = load_local(&store, &desc, &crate::store::Platform::host())?;
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
        "default" | "bridge" => match sandbox::network::tun_unusable() {
            Some(why) => {
                eprintln!("warning: {why}");
                sandbox::Network::Host
            }
            None => sandbox::Network::Sandbox,
        },
        "host" => sandbox::Network::Host,
        "none" => sandbox::Network::None,
        other => bail!("--network {other}: use default, host or none"),
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
    // The chroot level (and a store on overlayfs) runs in a throwaway copy
    // of the image's files.
    let rootfs = if sandbox::isolation::copies() {
        let root = dirs.path().join("root");
        crate::engine::flat::Flat::prepare(&lowers, &root)?;
        if sandbox::isolation::chroot_level() {
            crate::engine::flat::EtcFiles::install(&root, &etc.named())?;
            sandbox::RootFs::Chroot(root)
        } else {
            sandbox::RootFs::Dir(root)
        }
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
        insecure: false,
        limits,
    };
    let outcome = sandbox::spawn(std::path::Path::new("/proc/self/exe"), &spec)
        .and_then(|r| {
            r.wait_outcome(|stream, line| {
                let _ = match stream {
                    Stream::Stdout => {
                        writeln!(std::io::stdout(), "{}", String::from_utf8_lossy(line))
                    }
                    _ => writeln!(std::io::stderr(), "{}", String::from_utf8_lossy(line)),
                };
            })
        })
        .map_err(|e| anyhow!("running {}: {e}", args.image))?;
    // `docker run` says nothing (the exit code is 137, `docker inspect`
    // shows OOMKilled); a line on stderr says which limit did it.
    if let Some(why) = sandbox::limits::explain(&spec.limits, &outcome.events, outcome.code) {
        eprintln!("builder run: {} {why}", args.image);
    }
    Ok(outcome.code)
}
