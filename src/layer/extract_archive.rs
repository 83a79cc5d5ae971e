//! The parent directory of an `ADD` archive entry, found as Docker's chrooted `Unpack` finds
//! it (a child of `extract`, which owns the extractor).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use anyhow::Result;
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::fstatat;

use super::Extractor;
use crate::layer::root::{Create, ResolvedDir};

impl Extractor<'_> {
    /// The parent of an archive entry as Docker's chrooted `Unpack` finds it: made (as
    /// `os.MkdirAll`, never through a symlink) only when nothing is at its path, else opened
    /// as it is, so a dangling or file symlink there is an error.
    /// Errors name the entry (`open /absdang/x: no such file or directory`).
    pub(super) fn archive_parent(&self, comps: &[Vec<u8>], entry: &[u8]) -> Result<ResolvedDir> {
        let shown = || {
            let mut p = comps.to_vec();
            p.push(entry.to_vec());
            let mut out = b"/".to_vec();
            out.extend_from_slice(&p.join(&b'/'));
            std::path::PathBuf::from(OsStr::from_bytes(&out))
        };
        let present = match comps.split_last() {
            None => true,
            Some((last, above)) => match self.root.open_dir(above, false) {
                Ok(d) => {
                    match fstatat(&d.fd, OsStr::from_bytes(last), AtFlags::AT_SYMLINK_NOFOLLOW) {
                        Ok(_) => true,
                        Err(Errno::ENOENT) => false,
                        Err(e) => {
                            return Err(crate::diag::go_error("lstat", &shown(), &e.into()).into())
                        }
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => false,
                Err(e) => return Err(crate::diag::go_error("lstat", &shown(), &e).into()),
            },
        };
        let create = if present {
            Create::No
        } else {
            Create::NotThroughLinks
        };
        let op = if present { "open" } else { "mkdir" };
        self.root
            .open_dir_with(comps, create)
            .map_err(|e| crate::diag::go_error(op, &shown(), &e).into())
    }
}
