//! Making room in a snapshot being extracted: whiteout files and the removal of what an
//! entry replaces (a child of `extract`, which owns the extractor).

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fstatat, SFlag};
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use super::{ExtractError, Extractor};
use crate::layer::root::fd_path;

impl Extractor<'_> {
    /// A whiteout or opaque marker kept as the file it is in the tar (a store on overlayfs,
    /// see `whiteout_files`): `.wh.NAME` replaces `NAME`, the opaque marker is kept as is.
    pub(super) fn whiteout_file(
        &mut self,
        dir: &OwnedFd,
        name: &[u8],
        target: &[u8],
        unsafe_err: &dyn Fn(&'static str) -> ExtractError,
    ) -> Result<()> {
        if target != b".wh..opq" {
            if target.starts_with(b".wh.") {
                return Ok(()); // other AUFS metadata has no meaning here either
            }
            if crate::layer::whiteout_files::target(name).is_none() {
                return Err(unsafe_err("invalid whiteout name").into());
            }
            self.remove_existing(dir, target, false)?;
        }
        self.remove_existing(dir, name, false)?;
        let fd = super::super::reuse::create(dir, OsStr::from_bytes(name))
            .context("creating whiteout file")?;
        fchown(&fd, Some(Uid::from_raw(0)), Some(Gid::from_raw(0))).context("chown of whiteout")?;
        Ok(())
    }

    /// Makes room for `name`: an existing directory is kept when a directory comes in, anything
    /// else is removed (a directory recursively, without following symlinks).
    pub(super) fn remove_existing(
        &mut self,
        dir: &OwnedFd,
        name: &[u8],
        keep_dir: bool,
    ) -> Result<()> {
        let n = OsStr::from_bytes(name);
        let st = match fstatat(dir, n, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e).context("checking existing entry"),
        };
        let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        if is_dir && keep_dir {
            return Ok(());
        }
        self.cache = None;
        if is_dir {
            std::fs::remove_dir_all(fd_path(dir, name)).context("removing existing directory")?;
        } else {
            unlinkat(dir, n, UnlinkatFlags::NoRemoveDir).context("removing existing entry")?;
        }
        Ok(())
    }
}
