//! Restoring a cache mount from its layers: untrusted input (the cache
//! comes from a registry), so every entry is checked before anything is
//! written. Paths must be relative and stay inside the mount dir (no `..`,
//! no absolute paths, no parent that is a symlink or a file), only files,
//! dirs, symlinks and `.wh.` whiteouts are accepted, setuid/setgid bits are
//! dropped, sizes and entry counts are bounded, and each layer's
//! uncompressed digest must be its diffID.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use super::index::{Index, Kind};
use crate::store::digest::HashingReader;
use crate::store::Digest;

/// Bounds on what one restore may write.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// File bytes left.
    pub bytes: u64,
    /// Entries left.
    pub entries: u64,
}

/// Longest entry path or link target accepted.
const MAX_PATH: usize = 4096;

/// Applies one zstd-compressed layer tar from `blob` onto `root`, checking
/// its uncompressed digest against `diff_id`.
pub fn apply_layer(
    root: &Path,
    blob: impl Read,
    diff_id: &Digest,
    budget: &mut Budget,
) -> Result<()> {
    let decoder = zstd::Decoder::new(blob).context("the layer is not zstd")?;
    // The uncompressed stream can be no longer than the budget plus tar
    // headers: a bomb stops at the bound instead of filling the disk.
    let cap = budget
        .bytes
        .saturating_add(budget.entries.saturating_mul(3 * 512))
        .saturating_add(1 << 20);
    let mut hashing = HashingReader::new(decoder.take(cap));
    {
        let mut archive = tar::Archive::new(&mut hashing);
        for entry in archive.entries().context("reading the layer tar")? {
            let mut entry = entry.context("reading the layer tar")?;
            if budget.entries == 0 {
                bail!(
                    "too many entries (the bound is {} per mount)",
                    super::MAX_ENTRIES
                );
            }
            budget.entries -= 1;
            apply_entry(root, &mut entry, budget)?;
        }
    }
    let (digest, _) = hashing.finish().context("reading the layer tar")?;
    if digest != *diff_id {
        bail!("the layer's content is {digest}, not its diffID {diff_id}");
    }
    Ok(())
}

/// The validated components of an entry path.
fn components(raw: &[u8]) -> Result<Vec<String>> {
    let text = std::str::from_utf8(raw).map_err(|_| anyhow!("a path is not UTF-8"))?;
    if text.len() > MAX_PATH {
        bail!("a path is longer than {MAX_PATH} bytes");
    }
    if text.starts_with('/') {
        bail!("{text:?} is absolute");
    }
    let mut out = Vec::new();
    for c in text.split('/') {
        match c {
            "" | "." => continue,
            ".." => bail!("{text:?} leaves the mount"),
            c if c.contains('\0') => bail!("{text:?} has a NUL byte"),
            c => out.push(c.to_string()),
        }
    }
    if out.is_empty() {
        bail!("an entry names the mount itself");
    }
    Ok(out)
}

/// The parent dir of `comps` under `root`, each component checked to be
/// a real directory (not a symlink), created when missing.
fn parent_dir(root: &Path, comps: &[String]) -> Result<PathBuf> {
    let mut p = root.to_path_buf();
    for c in &comps[..comps.len() - 1] {
        p.push(c);
        match p.symlink_metadata() {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => bail!(
                "{}: a parent is not a directory (a symlink or file in the way)",
                comps.join("/")
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&p).with_context(|| format!("creating {}", p.display()))?;
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }
    Ok(p)
}

/// Removes whatever is at `p` (not following a symlink there).
fn remove_any(p: &Path) -> Result<()> {
    match p.symlink_metadata() {
        Ok(m) if m.file_type().is_dir() => {
            fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display()))
        }
        Ok(_) => fs::remove_file(p).with_context(|| format!("removing {}", p.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

fn apply_entry<R: Read>(root: &Path, entry: &mut tar::Entry<R>, budget: &mut Budget) -> Result<()> {
    let raw = entry.path_bytes().into_owned();
    let comps = components(&raw).context("a cache mount layer entry")?;
    let name = comps.last().cloned().unwrap_or_default();
    let shown = comps.join("/");
    let parent = parent_dir(root, &comps)?;
    if let Some(hidden) = name.strip_prefix(".wh.") {
        if hidden.starts_with(".wh.") || hidden.is_empty() {
            bail!("{shown}: opaque and special whiteouts are not used in cache mount layers");
        }
        return remove_any(&parent.join(hidden));
    }
    let target = parent.join(&name);
    let header = entry.header();
    let mode = header.mode().context("bad mode")? & 0o1777; // no setuid/setgid
    let uid = u32::try_from(header.uid().context("bad uid")?).context("uid out of range")?;
    let gid = u32::try_from(header.gid().context("bad gid")?).context("gid out of range")?;
    let owner = |p: &Path| -> Result<()> {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            p,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .with_context(|| format!("chown {}", p.display()))
    };
    match header.entry_type() {
        tar::EntryType::Directory => {
            match target.symlink_metadata() {
                Ok(m) if m.file_type().is_dir() => {}
                Ok(_) => {
                    remove_any(&target)?;
                    fs::create_dir(&target)?;
                }
                Err(_) => fs::create_dir(&target)
                    .with_context(|| format!("creating {}", target.display()))?,
            }
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
            owner(&target)
        }
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            let size = entry.size();
            if size > budget.bytes {
                bail!(
                    "{shown}: the mount grows past its bound of {} bytes",
                    super::MAX_MOUNT_BYTES
                );
            }
            budget.bytes -= size;
            remove_any(&target)?;
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&target)
                .with_context(|| format!("creating {}", target.display()))?;
            let n = io::copy(&mut entry.take(size), &mut f)
                .with_context(|| format!("writing {}", target.display()))?;
            if n != size {
                bail!("{shown}: the layer ends inside the file");
            }
            f.set_permissions(fs::Permissions::from_mode(mode))?;
            owner(&target)
        }
        tar::EntryType::Symlink => {
            let link = entry
                .link_name_bytes()
                .ok_or_else(|| anyhow!("{shown}: a symlink without a target"))?
                .into_owned();
            if link.is_empty() || link.len() > MAX_PATH || link.contains(&0) {
                bail!("{shown}: a bad symlink target");
            }
            remove_any(&target)?;
            std::os::unix::fs::symlink(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&link),
                &target,
            )
            .with_context(|| format!("creating {}", target.display()))?;
            owner(&target)
        }
        other => bail!(
            "{shown}: entry type {other:?} is not allowed in a cache mount layer \
             (files, dirs and symlinks only)"
        ),
    }
}

/// Checks the restored tree against its index (every path there, of its
/// kind and size) and sets file mtimes from it, to the nanosecond.
pub fn check_and_stamp(root: &Path, index: &Index) -> Result<()> {
    for (path, e) in index {
        let comps = components(path.as_bytes()).context("the mount index")?;
        let p = root.join(comps.join("/"));
        let md = p
            .symlink_metadata()
            .map_err(|_| anyhow!("{path} is in the mount's index but not in its layers"))?;
        let ft = md.file_type();
        let kind_ok = match e.kind {
            Kind::File => ft.is_file() && md.len() == e.size,
            Kind::Dir => ft.is_dir(),
            Kind::Symlink => ft.is_symlink(),
        };
        if !kind_ok {
            bail!("{path} in the restored mount does not match the mount's index");
        }
        if e.kind == Kind::File {
            let t =
                nix::sys::time::TimeSpec::new(e.mtime, i64::from(e.mtime_nsec.min(999_999_999)));
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                &p,
                &t,
                &t,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )
            .with_context(|| format!("setting the mtime of {}", p.display()))?;
        }
    }
    Ok(())
}
