//! Resolving a Dockerfile `USER` string (`name`, `uid`, `name:group`,
//! `uid:gid`) to numeric ids through the image's `/etc/passwd` and
//! `/etc/group`, with Docker's rules: numeric ids work without the files, a
//! numeric uid missing from passwd gets gid 0, a user name that is missing is
//! an error, and supplementary groups come from `/etc/group` membership only
//! when no group was given explicitly.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use super::spec::User;

/// Why a `USER` string could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The user name is not in the image's `/etc/passwd`.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoSuchUser(String),
    /// The group name is not in the image's `/etc/group`.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    /// A passwd/group file exists but could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file inside the rootfs.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Resolves `spec` against the rootfs given as its layers, top first, in
/// overlay whiteout format (a ready rootfs dir is a one-element slice).
/// An empty spec means root.
pub fn resolve(layers: &[PathBuf], spec: &str) -> Result<User, UserError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let mut user = User::default();
    let mut matched_name: Option<String> = None;

    let passwd = read_etc(layers, "etc/passwd")?;
    let numeric_uid = user_part.parse::<u32>().ok();
    if !user_part.is_empty() {
        let entry = passwd.as_deref().and_then(|text| {
            parse_passwd(text)
                .find(|e| e.name == user_part || Some(e.uid) == numeric_uid)
                .map(|e| (e.name.to_string(), e.uid, e.gid))
        });
        match (entry, numeric_uid) {
            (Some((name, uid, gid)), _) => {
                user.uid = uid;
                user.gid = gid;
                matched_name = Some(name);
            }
            (None, Some(uid)) => user.uid = uid,
            (None, None) => return Err(UserError::NoSuchUser(user_part.to_string())),
        }
    }

    let group_arg = group_part.filter(|g| !g.is_empty());
    if group_arg.is_none() && matched_name.is_none() {
        return Ok(user);
    }
    let group = read_etc(layers, "etc/group")?;
    let entries: Vec<GroupEntry<'_>> = group
        .as_deref()
        .map(parse_group)
        .into_iter()
        .flatten()
        .collect();
    match group_arg {
        Some(g) => {
            let numeric = g.parse::<u32>().ok();
            match entries
                .iter()
                .find(|e| e.name == g || Some(e.gid) == numeric)
            {
                Some(e) => user.gid = e.gid,
                None => match numeric {
                    Some(gid) => user.gid = gid,
                    None => return Err(UserError::NoSuchGroup(g.to_string())),
                },
            }
        }
        None => {
            let name = matched_name.unwrap_or_default();
            for e in &entries {
                if e.members.iter().any(|m| *m == name) && !user.additional_gids.contains(&e.gid) {
                    user.additional_gids.push(e.gid);
                }
            }
        }
    }
    Ok(user)
}

/// The home directory of `uid` in the rootfs's `/etc/passwd` (what runc
/// puts in `HOME` when the image sets none), `/` when it has none.
pub fn home_dir(layers: &[PathBuf], uid: u32) -> String {
    read_etc(layers, "etc/passwd")
        .ok()
        .flatten()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let f: Vec<&str> = line.trim().split(':').collect();
                (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid))
                    .then(|| f[5].to_string())
                    .filter(|h| !h.is_empty())
            })
        })
        .unwrap_or_else(|| "/".to_string())
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

/// The host's name for `uid` (from `/etc/passwd`), if it has one.
pub fn passwd_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    let name = parse_passwd(&text).find(|e| e.uid == uid)?.name.to_string();
    Some(name)
}

/// The records of a colon-separated file (`/etc/passwd`, `/etc/group`):
/// each line's fields after the name and password, with its name. Blank
/// lines and comments are skipped.
fn colon_records(text: &str) -> impl Iterator<Item = (&str, std::str::Split<'_, char>)> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next();
        Some((name, f))
    })
}

fn parse_passwd(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    colon_records(text).filter_map(|(name, mut f)| {
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        Some(PasswdEntry { name, uid, gid })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn parse_group(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    colon_records(text).filter_map(|(name, mut f)| {
        let gid = f.next()?.parse().ok()?;
        let members = f
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        Some(GroupEntry { name, gid, members })
    })
}

/// Reads `rel` (no leading `/`) from the merged view of `layers`, following
/// symlinks inside the rootfs; `None` when the file does not exist.
fn read_etc(layers: &[PathBuf], rel: &str) -> Result<Option<String>, UserError> {
    let mut wanted = PathBuf::from(rel);
    for _ in 0..16 {
        let Some(found) = lookup(layers, &wanted) else {
            return Ok(None);
        };
        let meta = match std::fs::symlink_metadata(&found) {
            Ok(m) => m,
            Err(_) => return Ok(None),
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&found).map_err(|source| UserError::Read {
                path: format!("/{}", wanted.display()),
                source,
            })?;
            let base = if target.is_absolute() {
                PathBuf::new()
            } else {
                wanted.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            wanted = normalize_in_root(&base.join(target));
            continue;
        }
        if !meta.is_file() {
            return Ok(None);
        }
        return std::fs::read(&found)
            .map(|bytes| Some(String::from_utf8_lossy(&bytes).into_owned()))
            .map_err(|source| UserError::Read {
                path: format!("/{}", wanted.display()),
                source,
            });
    }
    Ok(None)
}

/// Resolves `..` and `/` lexically with the root as a floor.
fn normalize_in_root(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
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

/// Finds the top-most layer holding `rel`, honouring whiteouts (char device
/// 0/0 or `.wh.NAME`) and opaque directories on the way down.
fn lookup(layers: &[PathBuf], rel: &Path) -> Option<PathBuf> {
    let parts: Vec<_> = rel.components().collect();
    for layer in layers {
        let mut dir = layer.clone();
        let mut hidden_below = false;
        for (i, part) in parts.iter().enumerate() {
            let name = part.as_os_str();
            let mut wh = std::ffi::OsString::from(".wh.");
            wh.push(name);
            if dir.join(&wh).symlink_metadata().is_ok() {
                return None;
            }
            let path = dir.join(name);
            let Ok(meta) = path.symlink_metadata() else {
                if hidden_below {
                    return None;
                }
                break;
            };
            if meta.file_type().is_char_device() && meta_rdev_is_zero(&meta) {
                return None;
            }
            if i + 1 == parts.len() {
                return Some(path);
            }
            if !meta.is_dir() {
                // A non-dir where a parent dir is expected hides the path in
                // every layer below as well.
                return None;
            }
            if is_opaque(&path) {
                hidden_below = true;
            }
            dir = path;
        }
        if hidden_below {
            return None;
        }
    }
    None
}

fn meta_rdev_is_zero(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 4];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            crate::layer::xattrs::opaque_xattr().as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y' || dir.join(".wh..wh..opq").symlink_metadata().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nalice:x:1000:\nbob:x:1001:\nwheel:x:10:alice,bob\naudio:x:29:alice\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn name_gets_primary_and_supplementary_groups() {
        let d = rootfs();
        let u = resolve(&[d.path().to_path_buf()], "alice").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![10, 29]);
    }

    #[test]
    fn explicit_group_drops_supplementary() {
        let d = rootfs();
        let u = resolve(&[d.path().to_path_buf()], "alice:audio").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 29));
        assert!(u.additional_gids.is_empty());
        let u = resolve(&[d.path().to_path_buf()], "1001:77").unwrap();
        assert_eq!((u.uid, u.gid), (1001, 77));
    }

    #[test]
    fn numeric_works_without_files() {
        let d = tempfile::tempdir().unwrap();
        let u = resolve(&[d.path().to_path_buf()], "4242").unwrap();
        assert_eq!((u.uid, u.gid), (4242, 0));
        let u = resolve(&[d.path().to_path_buf()], "4242:99").unwrap();
        assert_eq!((u.uid, u.gid), (4242, 99));
        assert_eq!(
            resolve(&[d.path().to_path_buf()], "").unwrap(),
            User::default()
        );
    }

    #[test]
    fn missing_names_are_errors_naming_them() {
        let d = rootfs();
        let e = resolve(&[d.path().to_path_buf()], "mallory").unwrap_err();
        assert!(e.to_string().contains("mallory"), "{e}");
        let e = resolve(&[d.path().to_path_buf()], "alice:nogroup").unwrap_err();
        assert!(e.to_string().contains("nogroup"), "{e}");
    }

    #[test]
    fn layers_honour_whiteouts_and_order() {
        let top = tempfile::tempdir().unwrap();
        let bottom = rootfs();
        let layers = [top.path().to_path_buf(), bottom.path().to_path_buf()];
        assert_eq!(resolve(&layers, "bob").unwrap().uid, 1001);
        std::fs::create_dir(top.path().join("etc")).unwrap();
        std::fs::write(top.path().join("etc/passwd"), "bob:x:5:5::/:/bin/sh\n").unwrap();
        assert_eq!(resolve(&layers, "bob").unwrap().uid, 5);
        std::fs::remove_file(top.path().join("etc/passwd")).unwrap();
        std::fs::write(top.path().join("etc/.wh.passwd"), "").unwrap();
        assert!(matches!(
            resolve(&layers, "bob"),
            Err(UserError::NoSuchUser(_))
        ));
    }

    #[test]
    fn symlinked_passwd_stays_in_root() {
        let d = rootfs();
        std::fs::rename(d.path().join("etc/passwd"), d.path().join("passwd.real")).unwrap();
        std::os::unix::fs::symlink("../../../../passwd.real", d.path().join("etc/passwd")).unwrap();
        assert_eq!(
            resolve(&[d.path().to_path_buf()], "alice").unwrap().uid,
            1000
        );
    }
}
