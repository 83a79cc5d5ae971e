//! `/dev` of the sandbox (Docker's default nodes, pts, shm, mqueue), and
//! the host sources that replace what cannot be made there: device nodes
//! bound from the host (in a user namespace mknod is refused; at every
//! level `/dev` itself is `nodev`, so that only these bound nodes open, see
//! [`nodev`](super::nodev)), and in a user namespace `/proc`
//! and `/sys` mounted before the pivot (the kernel allows a new proc or
//! sysfs in a user namespace only while a full one is visible; sysfs also
//! only with a network namespace of its own, else the host's is bound
//! read-only).

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context as _, Result};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use super::mountapi;
use super::rootfs::MountPoints;

/// Character devices of Docker's default /dev: name, major, minor.
pub(super) const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Mounts opened before the pivot, in a user namespace only.
pub(super) struct HostSources {
    pub(super) proc: OwnedFd,
    pub(super) sys: OwnedFd,
}

/// The host's nodes of [`DEVICES`], in order, as detached bind mounts
/// (opened before the pivot, attached in [`setup`]).
pub(super) fn host_devices() -> Result<Vec<OwnedFd>> {
    DEVICES
        .iter()
        .map(|(name, _, _)| {
            let path = format!("/dev/{name}");
            mountapi::clone_tree(Path::new(&path))
                .with_context(|| format!("binding the host's {path}"))
        })
        .collect()
}

impl HostSources {
    /// `None` outside a user namespace (everything is made after the pivot).
    pub(super) fn open() -> Result<Option<HostSources>> {
        if !super::userns::in_user_namespace() {
            return Ok(None);
        }
        let proc = mountapi::fresh_fs("proc", &[]).context(
            "mounting /proc in the user namespace (a container that masks parts of its \
             /proc does not allow it: run with --security-opt systempaths=unconfined or \
             procMount: Unmasked)",
        )?;
        let sys = match mountapi::fresh_fs("sysfs", &[]) {
            Ok(fd) => fd,
            Err(_) => {
                let fd =
                    mountapi::clone_tree(Path::new("/sys")).context("binding the host's /sys")?;
                mountapi::make_readonly(&fd).context("making /sys read-only")?;
                fd
            }
        };
        mountapi::make_readonly(&sys).context("making /sys read-only")?;
        Ok(Some(HostSources { proc, sys }))
    }
}

/// devpts options: group tty (5) for new ptys, when gid 5 is mapped.
fn devpts_options() -> String {
    let mut opts = String::from("newinstance,ptmxmode=0666,mode=0620");
    if super::userns::id_is_mapped("gid", 5) {
        opts.push_str(",gid=5");
    }
    opts
}

/// Makes `/dev`. With `devices` (from [`host_devices`]) the default nodes
/// are the host's, bound; without (`--security=insecure`) they are made
/// with mknod on a `/dev` that allows devices.
/// `shm_size` (bytes) sizes the `/dev/shm` tmpfs (`--shm-size`); `None`
/// is Docker's default 64 MiB.
pub(super) fn setup(
    mp: &mut MountPoints<'_>,
    devices: Option<&[OwnedFd]>,
    shm_size: Option<u64>,
) -> Result<()> {
    mp.ensure("/dev", true)?;
    // nodev: a node a RUN makes here (CAP_MKNOD stays, as in Docker) does
    // not open; the bound defaults are mounts of their own that allow it.
    // Where the devices cgroup rules (level 1 on cgroup v1), `/dev` is
    // Docker's: no nodev, and the open fails with the cgroup's EPERM.
    let nodev = match devices {
        Some(_) if !super::devices::confined() => MsFlags::MS_NODEV,
        _ => MsFlags::empty(),
    };
    mount(
        Some("tmpfs"),
        "/dev",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME | nodev,
        Some("mode=755,size=65536k"),
    )
    .context("mounting /dev")?;
    for (i, (name, major, minor)) in DEVICES.iter().enumerate() {
        let path = format!("/dev/{name}");
        if let Some(d) = devices {
            File::create(&path).with_context(|| format!("creating {path}"))?;
            mountapi::attach(&d[i], Path::new(&path))
                .with_context(|| format!("binding the host's {path}"))?;
            continue;
        }
        mknod(
            path.as_str(),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        )
        .with_context(|| format!("creating {path}"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
    }
    for dir in ["/dev/pts", "/dev/shm", "/dev/mqueue"] {
        std::fs::create_dir(dir)?;
    }
    mount(
        Some("devpts"),
        "/dev/pts",
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(devpts_options().as_str()),
    )
    .context("mounting /dev/pts")?;
    mount(
        Some("shm"),
        "/dev/shm",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(format!("mode=1777,size={}", shm_size.unwrap_or(64 << 20)).as_str()),
    )
    .context("mounting /dev/shm")?;
    mount(
        Some("mqueue"),
        "/dev/mqueue",
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .context("mounting /dev/mqueue")?;
    for (link, target) in [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, link).with_context(|| format!("creating {link}"))?;
    }
    Ok(())
}
