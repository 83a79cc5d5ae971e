//! The chroot isolation level's replacement for overlay mounts: a step's
//! root is a plain copy of its snapshot chain ([`tree::materialise`]),
//! recorded before the step and diffed after it ([`diff`]) into an
//! overlayfs-format upper dir, which is then committed exactly like level
//! 1's. RUN, COPY, ADD and WORKDIR all go through [`Flat`].

mod agent;
pub mod diff;
pub mod plant;
pub mod tree;

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A materialised root and what it held before the step.
pub struct Flat {
    root: PathBuf,
    before: diff::State,
    sources: tree::Sources,
}

impl Flat {
    /// Materialises `lowers` (top first) into the new dir `root` (its
    /// parent must exist) and records it.
    pub fn prepare(lowers: &[PathBuf], root: &Path) -> io::Result<Flat> {
        fs::create_dir(root)?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
        let sources = tree::materialise(lowers, root)?;
        let before = diff::record(root)?;
        Ok(Flat {
            root: root.to_path_buf(),
            before,
            sources,
        })
    }

    /// The materialised root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes what changed since [`Flat::prepare`] into `upper` (an empty
    /// dir) in overlayfs' format.
    pub fn diff_into(&self, upper: &Path) -> io::Result<()> {
        diff::diff(&self.root, &self.before, &self.sources, upper)
    }
}

/// What was at one of the generated `/etc` files before the RUN.
enum Saved {
    /// Nothing: the file is removed afterwards.
    Absent,
    /// A regular file: its content and metadata are put back.
    File(Vec<u8>, fs::Metadata),
    /// Something else (a symlink, a dir): left alone, the RUN sees it.
    Skipped,
}

/// The generated `/etc` files written into a materialised root for a RUN
/// (BuildKit binds them; here they are files) and put back afterwards, so
/// they reach the layer only as level 1's mount points would.
pub struct EtcFiles {
    root: PathBuf,
    made_etc: bool,
    saved: Vec<(&'static str, Saved)>,
}

impl EtcFiles {
    /// Writes `files` (name under /etc, content) into `root`.
    pub fn install(root: &Path, files: &[(&'static str, &str)]) -> io::Result<EtcFiles> {
        let etc = root.join("etc");
        let made_etc = match fs::symlink_metadata(&etc) {
            Ok(m) if m.is_dir() => false,
            Ok(_) => {
                return Ok(EtcFiles {
                    root: root.to_path_buf(),
                    made_etc: false,
                    saved: Vec::new(),
                })
            }
            Err(_) => {
                fs::create_dir(&etc)?;
                fs::set_permissions(&etc, fs::Permissions::from_mode(0o755))?;
                true
            }
        };
        let mut saved = Vec::new();
        for (name, content) in files {
            let path = etc.join(name);
            let s = match fs::symlink_metadata(&path) {
                Err(_) => {
                    fs::write(&path, content)?;
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
                    Saved::Absent
                }
                Ok(m) if m.is_file() => {
                    let old = fs::read(&path)?;
                    fs::write(&path, content)?;
                    Saved::File(old, m)
                }
                Ok(_) => Saved::Skipped,
            };
            saved.push((*name, s));
        }
        Ok(EtcFiles {
            root: root.to_path_buf(),
            made_etc,
            saved,
        })
    }

    /// Puts back what [`EtcFiles::install`] replaced (what the RUN wrote to
    /// these files is dropped, as with level 1's bind mounts).
    pub fn restore(self) -> io::Result<()> {
        let etc = self.root.join("etc");
        if !fs::symlink_metadata(&etc).is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
        for (name, saved) in self.saved.iter().rev() {
            let path = etc.join(name);
            if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            match saved {
                Saved::Absent => fs::remove_file(&path)?,
                Saved::File(content, meta) => {
                    fs::write(&path, content)?;
                    std::os::unix::fs::lchown(&path, Some(meta.uid()), Some(meta.gid()))?;
                    fs::set_permissions(&path, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
                    tree::set_mtime(&path, meta)?;
                }
                Saved::Skipped => {}
            }
        }
        if self.made_etc {
            let _ = fs::remove_dir(&etc);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
