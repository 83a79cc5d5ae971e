//! The chroot level's child: no namespaces and no mounts. The helper forks
//! it without a PID namespace; it makes the default `/dev` nodes with
//! mknod in the materialised root (never reaching a layer: the engine's
//! diff skips `/dev`, `/proc` and `/sys`), `chroot`s there, becomes the
//! user and execs the command. `/proc` and `/sys` stay whatever the image
//! has (usually empty dirs): nothing can be mounted at this level.
//!
//! What the command can reach of builder: the root is a fresh copy of the
//! stage's snapshots, so no path leads to the store or the credentials;
//! CAP_SYS_CHROOT leaves the bounding set (root with it can leave a chroot)
//! and builder's own processes are not dumpable (no ptrace). It shares the
//! host's PID and network namespaces, so it could still signal builder.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use caps::Capability;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use super::protocol::Report;
use super::spec::{Network, RootFs, RunSpec};
use super::{dev, init, process, rootfs};

/// Runs in the forked child; never returns.
pub(super) fn run(spec: &RunSpec, out_w: OwnedFd, err_w: OwnedFd, rep_w: OwnedFd) -> ! {
    let mut report = std::fs::File::from(rep_w);
    let result = init::prepare_process(&out_w, &err_w, spec.attach.stdin)
        .and_then(|()| enter(spec))
        .and_then(|()| process::prepare_with(spec, &[Capability::CAP_SYS_CHROOT], true));
    let err = match result {
        Ok(command) => process::exec(&command),
        Err(e) => e,
    };
    let line = serde_json::to_string(&Report::Error(format!("{err:#}"))).unwrap_or_default();
    let _ = report.write_all(format!("{line}\n").as_bytes());
    // SAFETY: _exit skips destructors, which belong to the helper.
    unsafe { libc::_exit(127) }
}

/// Checks what the chroot level cannot do, makes `/dev`, enters the root.
fn enter(spec: &RunSpec) -> Result<()> {
    let RootFs::Chroot(root) = &spec.rootfs else {
        bail!("sandbox: not a chroot rootfs");
    };
    if spec.network == Network::None {
        bail!(
            "--network=none needs a network namespace, which the chroot isolation level \
             cannot create"
        );
    }
    if let Some(m) = spec.mounts.first() {
        // engine::flat::plant stands in for every kind before this point.
        bail!(
            "RUN --mount (target {}) reached the chroot sandbox, which cannot mount",
            m.target()
        );
    }
    make_dev(root);
    // Read while /proc is reachable.
    process::setgroups_denied();
    nix::unistd::chroot(root).with_context(|| format!("chroot to {}", root.display()))?;
    std::env::set_current_dir("/").context("entering the new root")?;
    rootfs::make_cwd(&spec.cwd, spec.user.uid, spec.user.gid)
}

/// Docker's default character devices, where mknod is allowed and the
/// root has no entry of that name yet (best effort: a RUN that needs none
/// still works without CAP_MKNOD).
fn make_dev(root: &Path) {
    let dir = root.join("dev");
    if std::fs::symlink_metadata(&dir).is_err() && std::fs::create_dir(&dir).is_err() {
        return;
    }
    if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return;
    }
    for (name, major, minor) in dev::DEVICES {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        let made = mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        );
        if made.is_err() && *name == "null" {
            // No CAP_MKNOD (podman's default set): redirections to
            // /dev/null must still work, so it is an empty world-writable
            // file (what is written there stays until the copy is dropped;
            // /dev never reaches a layer).
            let _ = std::fs::File::create(&path);
        }
        if made.is_ok() || *name == "null" {
            // mknod honours the umask; the nodes are 0666 as in Docker.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
        }
    }
}
