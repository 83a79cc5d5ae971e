//! Builds the root the command sees, inside the init's new mount namespace:
//! the overlay (or a ready dir) on a private staging tmpfs, host sources of
//! extra mounts pinned as `O_PATH` fds, `pivot_root`, then `/proc`, `/dev`,
//! `/sys`, the generated `/etc` files and the extra mounts — mounted after
//! the pivot so every target path (symlinks included) resolves inside the
//! new root and can never reach the host.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{chown, fchdir, pivot_root, Gid, Uid};

use super::spec::{Mount, Network, RootFs, RunSpec};
use super::{dev, mountapi, net, overlay};

/// Docker's masked paths: hidden behind /dev/null (files) or an empty
/// read-only tmpfs (dirs).
const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// A mount source opened before the pivot, mounted after it.
enum Source {
    /// Attach a detached clone of a file or dir (a bind mount).
    Tree { tree: OwnedFd, is_dir: bool },
    /// A fresh tmpfs.
    Tmpfs { size: Option<u64> },
}

struct Planned {
    target: String,
    source: Source,
}

/// Sets up the namespaces and the root; on success the process is inside
/// the new root with `cwd` as its working directory. Every mount point
/// created on the rootfs is appended to `created` (relative to the root).
pub(super) fn setup(spec: &RunSpec, staging: &Path, created: &mut Vec<String>) -> Result<()> {
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
    if spec.network == Network::None {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    unshare(flags).context("creating the mount, UTS and IPC namespaces")?;
    if spec.network == Network::None {
        net::loopback_up().context("bringing up lo in the new network namespace")?;
    }
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making mounts private")?;
    mount(
        Some("tmpfs"),
        staging,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0700"),
    )
    .with_context(|| format!("mounting the staging tmpfs on {}", staging.display()))?;

    let root = staging.join("root");
    std::fs::create_dir(&root)?;
    mount_rootfs(&spec.rootfs, staging, &root)?;
    let planned = plan_mounts(spec, staging)?;

    // In a user namespace /proc and /sys must be made while the host's are
    // still visible, and device nodes can only be bound from the host.
    let host = dev::HostSources::open()?;
    // `--security=insecure` at level 1 makes the nodes with mknod on a
    // /dev that allows devices, as Docker's privileged mode gives them all.
    let devices = match spec.insecure && host.is_none() {
        false => Some(dev::host_devices()?),
        true => None,
    };

    pivot(&root)?;
    let root_dev = std::fs::metadata("/")?.dev();
    let mut mp = MountPoints { root_dev, created };

    mp.ensure("/proc", true)?;
    match &host {
        Some(h) => mountapi::attach(&h.proc, Path::new("/proc")),
        None => mount(
            Some("proc"),
            "/proc",
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(std::io::Error::from),
    }
    .context("mounting /proc")?;
    dev::setup(&mut mp, devices.as_deref(), spec.shm_size)?;
    mp.ensure("/sys", true)?;
    match &host {
        Some(h) => mountapi::attach(&h.sys, Path::new("/sys")),
        None => mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(std::io::Error::from),
    }
    .context("mounting /sys read-only")?;
    mask_paths()?;

    for p in planned {
        mount_planned(&p, &mut mp)?;
    }
    // Where the devices cgroup rules (level 1 on cgroup v1), as in Docker.
    if !spec.insecure && host.is_none() && !super::devices::confined() {
        super::nodev::seal()?;
    }

    // A seccomp profile may refuse sethostname without CAP_SYS_ADMIN in the
    // initial namespace even in this UTS namespace (podman's default does):
    // at level 2 RUN then keeps the container's name; /etc/hostname is
    // still the sandbox's.
    if !spec.hostname.is_empty() {
        match nix::unistd::sethostname(&spec.hostname) {
            Err(nix::errno::Errno::EPERM) if crate::layer::xattrs::in_user_namespace() => {}
            r => r.with_context(|| format!("setting the hostname to {:?}", spec.hostname))?,
        }
    }
    make_cwd(&spec.cwd, spec.user.uid, spec.user.gid)?;
    Ok(())
}

fn mount_rootfs(rootfs: &RootFs, staging: &Path, root: &Path) -> Result<()> {
    match rootfs {
        RootFs::Overlay {
            lowers,
            upper,
            work,
        } => {
            let mut lowers = lowers.clone();
            if lowers.is_empty() {
                // overlay needs a lower dir; `FROM scratch` has none.
                let empty = staging.join("empty");
                std::fs::create_dir(&empty)?;
                lowers.push(empty);
            }
            overlay::mount(&lowers, Some((upper, work)), root)
        }
        RootFs::Chroot(dir) => bail!(
            "the chroot rootfs {} reached the namespace sandbox",
            dir.display()
        ),
        RootFs::Dir(dir) => mount(
            Some(dir.as_path()),
            root,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("binding the rootfs {}", dir.display())),
    }
}

/// Opens every source while the host is still reachable: generated files
/// and secrets are written to the staging tmpfs (memory only), rw binds get
/// a throwaway overlay upper there.
fn plan_mounts(spec: &RunSpec, staging: &Path) -> Result<Vec<Planned>> {
    let mut planned = Vec::new();
    let etc = [
        ("/etc/resolv.conf", &spec.etc.resolv_conf),
        ("/etc/hosts", &spec.etc.hosts),
        ("/etc/hostname", &spec.etc.hostname),
    ];
    for (i, (target, content)) in etc.iter().enumerate() {
        if let Some(content) = content {
            let file = staging.join(format!("etc-{i}"));
            write_file(&file, content.as_bytes(), 0o644)?;
            planned.push(Planned {
                target: (*target).to_string(),
                source: tree(&file, false)?,
            });
        }
    }
    for (i, m) in spec.mounts.iter().enumerate() {
        let source = match m {
            Mount::Bind {
                source,
                readonly: true,
                ..
            }
            | Mount::Cache {
                source,
                readonly: true,
                ..
            } => tree(source, true)?,
            Mount::Cache {
                source,
                readonly: false,
                ..
            }
            | Mount::Ssh { socket: source, .. } => tree(source, false)?,
            Mount::Bind {
                source,
                readonly: false,
                ..
            } => {
                let copy = discarding_copy(source, &staging.join(format!("rw-{i}")))?;
                tree(&copy, false)?
            }
            Mount::Tmpfs { size, .. } => Source::Tmpfs { size: *size },
            Mount::Secret {
                content,
                mode,
                uid,
                gid,
                ..
            } => {
                let file = staging.join(format!("secret-{i}"));
                write_file(&file, &content.0, *mode)?;
                chown(&file, Some(Uid::from_raw(*uid)), Some(Gid::from_raw(*gid)))?;
                tree(&file, true)?
            }
        };
        planned.push(Planned {
            target: m.target().to_string(),
            source,
        });
    }
    Ok(planned)
}

/// A writable view of `source` whose writes are thrown away with the run:
/// an overlay with an upper on the staging tmpfs for a dir, a copy there for
/// a file.
fn discarding_copy(source: &Path, dir: &Path) -> Result<PathBuf> {
    let meta =
        std::fs::metadata(source).with_context(|| format!("bind source {}", source.display()))?;
    std::fs::create_dir(dir)?;
    if meta.is_dir() {
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir(d)?;
        }
        overlay::mount(&[source.to_path_buf()], Some((&upper, &work)), &merged)?;
        Ok(merged)
    } else {
        let copy = dir.join("file");
        std::fs::copy(source, &copy)
            .with_context(|| format!("copying bind source {}", source.display()))?;
        Ok(copy)
    }
}

fn write_file(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(content)?;
    // The umask must not narrow the requested mode.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Clones the mount tree at `path` (made read-only if asked) for
/// attaching after the pivot.
fn tree(path: &Path, readonly: bool) -> Result<Source> {
    let is_dir = std::fs::metadata(path)
        .with_context(|| format!("mount source {}", path.display()))?
        .is_dir();
    let tree = mountapi::clone_tree(path)
        .with_context(|| format!("cloning mount source {}", path.display()))?;
    if readonly {
        mountapi::make_readonly(&tree)
            .with_context(|| format!("making {} read-only", path.display()))?;
    }
    Ok(Source::Tree { tree, is_dir })
}

/// `pivot_root(".", ".")` then detaching the old root stacked on top, so no
/// directory for the old root is needed inside the new one.
fn pivot(root: &Path) -> Result<()> {
    let old = File::open("/").context("opening the old root")?;
    let new = File::open(root).context("opening the new root")?;
    fchdir(&new)?;
    pivot_root(".", ".").context("pivot_root")?;
    fchdir(&old)?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    std::env::set_current_dir("/")?;
    Ok(())
}

fn mask_paths() -> Result<()> {
    for path in MASKED {
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        let result = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                *path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0"),
            )
        } else {
            mount(
                Some("/dev/null"),
                *path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        result.with_context(|| format!("masking {path}"))?;
    }
    for path in READONLY {
        if std::fs::symlink_metadata(path).is_err() {
            continue;
        }
        mount(
            Some(*path),
            *path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("binding {path}"))?;
        remount_readonly(
            path,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        )?;
    }
    Ok(())
}

fn remount_readonly(target: &str, locked: MsFlags) -> Result<()> {
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked,
        None::<&str>,
    )
    .with_context(|| format!("making {target} read-only"))
}

fn mount_planned(p: &Planned, mp: &mut MountPoints<'_>) -> Result<()> {
    match &p.source {
        Source::Tree { tree, is_dir } => {
            mp.ensure(&p.target, *is_dir)?;
            mountapi::attach(tree, Path::new(&p.target))
                .with_context(|| format!("mounting {}", p.target))?;
        }
        Source::Tmpfs { size } => {
            mp.ensure(&p.target, true)?;
            let mut opts = String::from("mode=1777");
            if let Some(size) = size {
                opts.push_str(&format!(",size={size}"));
            }
            mount(
                Some("tmpfs"),
                p.target.as_str(),
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(opts.as_str()),
            )
            .with_context(|| format!("mounting a tmpfs on {}", p.target))?;
        }
    }
    Ok(())
}

/// Lexically cleaned absolute components of `path` (`..` stops at `/`).
fn components(path: &str) -> Vec<&std::ffi::OsStr> {
    let mut out = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Creates missing mount points and records the ones created on the rootfs
/// itself (not on a tmpfs or bind mounted inside it).
pub(super) struct MountPoints<'a> {
    root_dev: u64,
    created: &'a mut Vec<String>,
}

impl MountPoints<'_> {
    pub(super) fn ensure(&mut self, target: &str, dir: bool) -> Result<()> {
        let parts = components(target);
        let mut cur = PathBuf::from("/");
        for (i, part) in parts.iter().enumerate() {
            let next = cur.join(part);
            let last = i + 1 == parts.len();
            match std::fs::symlink_metadata(&next) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let on_root = std::fs::metadata(&cur)
                        .map(|m| m.dev() == self.root_dev)
                        .unwrap_or(false);
                    if last && !dir {
                        OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .mode(0o644)
                            .open(&next)
                            .with_context(|| format!("creating mount point {}", next.display()))?;
                    } else {
                        std::fs::create_dir(&next)
                            .with_context(|| format!("creating mount point {}", next.display()))?;
                    }
                    if on_root {
                        // Record where it really is (symlinks on the way
                        // resolved), relative to the root.
                        if let Some(rel) = std::fs::canonicalize(&next)
                            .ok()
                            .and_then(|p| p.to_str().map(|s| s.trim_start_matches('/').to_string()))
                        {
                            self.created.push(rel);
                        }
                    }
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("checking mount point {}", next.display()))
                }
            }
            cur = next;
        }
        if parts.is_empty() {
            bail!("cannot mount over the root directory");
        }
        Ok(())
    }
}

/// Creates the working directory (and missing parents) owned by the user,
/// as Docker does, and enters it.
///
/// A WORKDIR keeps an absolute path as written (BuildKit's `NormalizeWorkdir`), so `cwd` may
/// hold `..`: BuildKit's executor creates the cleaned path for the user, then runc's
/// `os.MkdirAll(cwd, 0755)` walks the raw one and also creates, as root, each directory
/// named before a `..` (`/x/../y` leaves `/x` in the RUN's layer).
pub(super) fn make_cwd(cwd: &str, uid: u32, gid: u32) -> Result<()> {
    let entered = make_clean_cwd(cwd, uid, gid)?;
    let mut raw = PathBuf::from("/");
    for c in Path::new(cwd).components() {
        match c {
            Component::Normal(n) => {
                raw.push(n);
                match std::fs::create_dir(&raw) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("creating the working directory {cwd}"))
                    }
                }
            }
            Component::ParentDir => {
                raw.pop();
            }
            _ => {}
        }
    }
    std::env::set_current_dir(&entered)
        .with_context(|| format!("entering the working directory {cwd}"))
}

/// The cleaned `cwd` created with missing parents owned by the user; returns its path.
fn make_clean_cwd(cwd: &str, uid: u32, gid: u32) -> Result<PathBuf> {
    let mut cur = PathBuf::from("/");
    for part in components(cwd) {
        cur.push(part);
        match std::fs::create_dir(&cur) {
            Ok(()) => {
                chown(&cur, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("creating the working directory {cwd}"))
            }
        }
    }
    Ok(cur)
}
