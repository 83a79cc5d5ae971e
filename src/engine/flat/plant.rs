//! `RUN --mount` kinds the chroot level can stand in for without a mount:
//! a secret is written as a file, a tmpfs is an empty dir, a bind is a copy
//! of its source (writes are dropped, as with `rw`; `readonly` is not
//! enforced), a cache is a copy of the cache dir, copied back after the
//! RUN, and an SSH agent is a socket relaying to the host's (`agent`). All are removed again (with the dirs made for them) before the
//! diff, so like level 1's mount points they never reach a layer. Targets are resolved inside the
//! root without following any symlink: the writes happen outside the
//! chroot.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::tree;
use crate::sandbox::Mount;

/// What was planted in a root for one RUN.
pub struct Planted {
    /// Dirs made for targets, in creation order.
    made: Vec<PathBuf>,
    /// Secret files written.
    files: Vec<PathBuf>,
    /// Tmpfs dirs made (emptied afterwards, then removed with `made`).
    tmpfs: Vec<PathBuf>,
    /// Tmpfs dirs that existed (emptied afterwards, mtime put back).
    kept: Vec<(PathBuf, fs::Metadata)>,
    /// Cache mounts: (copy in the root, the cache dir it goes back to).
    caches: Vec<(PathBuf, PathBuf)>,
    /// SSH agent sockets relayed into the root.
    agents: Vec<super::agent::Relay>,
}

/// Plants every mount of `mounts` in `root`; returns what was planted.
pub fn plant(root: &Path, mounts: Vec<Mount>) -> Result<Planted> {
    let mut p = Planted {
        made: Vec::new(),
        files: Vec::new(),
        tmpfs: Vec::new(),
        kept: Vec::new(),
        caches: Vec::new(),
        agents: Vec::new(),
    };
    for m in mounts {
        match &m {
            Mount::Secret {
                target,
                content,
                mode,
                uid,
                gid,
            } => {
                let path = p.parent_dirs(root, target)?;
                if fs::symlink_metadata(&path).is_ok() {
                    bail!(
                        "RUN --mount=type=secret: {target} exists in the image; the chroot \
                         isolation level cannot mount over it"
                    );
                }
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .with_context(|| format!("writing the secret at {target}"))?;
                p.files.push(path.clone());
                f.write_all(&content.0)?;
                std::os::unix::fs::lchown(&path, Some(*uid), Some(*gid))?;
                fs::set_permissions(&path, fs::Permissions::from_mode(*mode & 0o7777))?;
            }
            Mount::Tmpfs { target, .. } => {
                let path = p.parent_dirs(root, target)?;
                match fs::symlink_metadata(&path) {
                    Err(_) => {
                        fs::create_dir(&path)?;
                        fs::set_permissions(&path, fs::Permissions::from_mode(0o1777))?;
                        p.made.push(path.clone());
                        p.tmpfs.push(path);
                    }
                    Ok(m) if m.is_dir() && fs::read_dir(&path)?.next().is_none() => {
                        p.kept.push((path, m));
                    }
                    Ok(_) => bail!(
                        "RUN --mount=type=tmpfs: {target} is not an empty dir in the image; the \
                         chroot isolation level cannot mount over it"
                    ),
                }
            }
            Mount::Bind { source, target, .. } | Mount::Cache { source, target, .. } => {
                let path = p.parent_dirs(root, target)?;
                let meta = fs::metadata(source)
                    .with_context(|| format!("RUN --mount source {}", source.display()))?;
                if fs::symlink_metadata(&path).is_ok() {
                    bail!(
                        "RUN --mount target {target} exists in the image; the chroot isolation \
                         level cannot mount over it"
                    );
                }
                if meta.is_dir() {
                    fs::create_dir(&path)?;
                    tree::materialise(std::slice::from_ref(source), &path)
                        .with_context(|| format!("copying {} to {target}", source.display()))?;
                    p.tmpfs.push(path.clone());
                    p.made.push(path.clone());
                } else {
                    tree::copy_entry(source, &meta, &path, &mut tree::Links::new())?;
                    p.files.push(path.clone());
                }
                if let Mount::Cache { source, .. } = &m {
                    if meta.is_dir() {
                        p.caches.push((path, source.clone()));
                    }
                }
            }
            Mount::Ssh { socket, target } => {
                let path = p.parent_dirs(root, target)?;
                if fs::symlink_metadata(&path).is_ok() {
                    bail!(
                        "RUN --mount=type=ssh: {target} exists in the image; the chroot \
                         isolation level cannot mount over it"
                    );
                }
                let relay = super::agent::Relay::start(&path, socket)
                    .with_context(|| format!("relaying the SSH agent at {target}"))?;
                p.agents.push(relay);
            }
        }
    }
    Ok(p)
}

impl Planted {
    /// Makes the missing parent dirs of `target` (never through a
    /// symlink); returns the target's path on the host.
    fn parent_dirs(&mut self, root: &Path, target: &str) -> Result<PathBuf> {
        let parts: Vec<_> = Path::new(target)
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                _ => None,
            })
            .collect();
        let Some((last, parents)) = parts.split_last() else {
            bail!("RUN --mount target {target:?} is the root");
        };
        let mut cur = root.to_path_buf();
        for part in parents {
            cur.push(part);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => bail!(
                    "RUN --mount target {target}: {} is not a directory (symlinks are not \
                     followed at the chroot isolation level)",
                    cur.strip_prefix(root).unwrap_or(&cur).display()
                ),
                Err(_) => {
                    fs::create_dir(&cur)?;
                    fs::set_permissions(&cur, fs::Permissions::from_mode(0o755))?;
                    self.made.push(cur.clone());
                }
            }
        }
        Ok(cur.join(last))
    }

    /// Removes what was planted (and whatever the RUN put in a tmpfs).
    pub fn remove(self) -> Result<()> {
        for relay in self.agents {
            relay.stop().context("removing the SSH agent socket")?;
        }
        for (copy, cache) in &self.caches {
            if fs::symlink_metadata(copy).is_ok_and(|m| m.is_dir()) {
                empty(cache)?;
                tree::materialise(std::slice::from_ref(copy), cache)
                    .context("copying the cache mount back")?;
            }
        }
        for f in &self.files {
            tree::remove_any(f)?;
        }
        for dir in &self.tmpfs {
            empty(dir)?;
        }
        for (dir, meta) in &self.kept {
            empty(dir)?;
            if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
                tree::set_mtime(dir, meta)?;
            }
        }
        for d in self.made.iter().rev() {
            // Only if empty: what the RUN wrote beside a mount stays.
            let _ = fs::remove_dir(d);
        }
        Ok(())
    }
}

/// Removes everything in `dir` (nothing if it is no longer a dir).
fn empty(dir: &Path) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        for e in fs::read_dir(dir)? {
            tree::remove_any(&e?.path())?;
        }
    }
    Ok(())
}
