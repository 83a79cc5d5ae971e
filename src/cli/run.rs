//! `builder run IMAGE [CMD…]`: runs a stored image's ENTRYPOINT + CMD (or the
//! given command) in the build sandbox on a throwaway upper dir, and exits
//! with the command's status.

use std::io::Write as _;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;

use super::pull::{find_local, StoreArgs};
use crate::engine::base::load_local;
use crate::sandbox::{self, Stream};

/// `builder run` options. As in `docker run`, options come before the image;
/// everything after it is the command and its arguments (`run IMAGE -x`).
#[derive(Debug, Args)]
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
    /// Allocate a terminal (accepted for docker compatibility; output is streamed).
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Keep stdin open: the command reads builder's stdin.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// The platform's image to run from a multi-platform image (default: this machine's).
    #[arg(long)]
    pub platform: Option<String>,
    /// The image, then the command and its arguments (replacing the image's
    /// CMD); nothing after the image is read as an option of builder.
    #[arg(
        value_name = "IMAGE [COMMAND [ARG...]]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub image_and_command: Vec<String>,
}

impl RunArgs {
    /// The image named on the command line.
    pub fn image(&self) -> &str {
        &self.image_and_command[0]
    }

    /// The command and arguments given after the image.
    pub fn command(&self) -> &[String] {
        &self.image_and_command[1..]
    }
}

/// Runs `builder run`.
pub fn run(args: RunArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let (_, desc) = find_local(&store, args.image()).with_context(|| {
        format!(
            "image {} is not in the store: build or pull it first",
            args.image()
        )
    })?;
    let platform = match &args.platform {
        Some(p) => crate::plan::Platform::parse(p).map_err(|e| anyhow!("--platform {e}"))?,
        None => crate::plan::Platform::host(),
    };
    let want: crate::store::Platform = crate::engine::export_index::store_platform(&platform);
    let (image, _) = load_local(&store, &desc, &want)
        .with_context(|| format!("{}: no image for {platform} in the store", args.image()))?;
    // A single-platform image is only ever the platform its config says.
    let c = &image.config;
    if !c.architecture.is_empty() {
        let os = if c.os.is_empty() { "linux" } else { &c.os };
        let have = crate::plan::Platform::new(os, &c.architecture, &c.variant);
        if args.platform.is_some() && have.architecture != platform.architecture {
            bail!("{} is an image for {have}, not {platform}", args.image());
        }
        // A foreign image runs through QEMU user emulation, if registered.
        sandbox::binfmt::ensure_runnable(&have).map_err(|e| anyhow!("{}: {e}", args.image()))?;
    }
    let cfg = &image.config.config;
    let entrypoint = match &args.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => cfg.entrypoint.clone(),
    };
    let cmd = if !args.command().is_empty() {
        args.command().to_vec()
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
        attach: sandbox::Attach {
            forward_signals: true,
            stdin: args.interactive,
        },
    };
    // Stop signals go to the command, which decides, as with `docker run`
    // (its sig-proxy); the exit status is the command's, 128+n when a
    // signal n ended it.
    forward_stop_signals();
    let running = sandbox::spawn(std::path::Path::new("/proc/self/exe"), &spec)
        .map_err(|e| anyhow!("running {}: {e}", args.image()))?;
    set_helper(running.helper_pid().unwrap_or(0));
    let code = running
        .wait(|stream, line| {
            let _ = match stream {
                Stream::Stdout => writeln!(std::io::stdout(), "{}", String::from_utf8_lossy(line)),
                _ => writeln!(std::io::stderr(), "{}", String::from_utf8_lossy(line)),
            };
        })
        .map_err(|e| anyhow!("running {}: {e}", args.image()))?;
    set_helper(0);
    Ok(code)
}

/// The sandbox helper signals are forwarded to (0: none yet).
static HELPER: AtomicI32 = AtomicI32::new(0);
/// A signal that came before the helper existed, sent once it does.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = HELPER.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

fn set_helper(pid: i32) {
    HELPER.store(pid, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pid > 0 && pending > 0 {
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(pid, pending) };
    }
}

/// SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to the helper, which
/// passes them on to the command (see `sandbox::Attach`).
fn forward_stop_signals() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: the handler only touches atomics and calls kill(2).
        let _ = unsafe { signal(s, SigHandler::Handler(forward)) };
    }
}
