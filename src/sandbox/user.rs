//! Resolving a Dockerfile `USER` string (`name`, `uid`, `name:group`,
//! `uid:gid`) to the ids a RUN gets, exactly as BuildKit's executor
//! (`oci.GetUser` over libcontainer's `GetExecUser`) does:
//!
//! * `uid:gid` where both are numbers or `root` is used as is, without
//!   reading any file (`root:root`, `0:root`, `root:0` work on `scratch`);
//! * anything else is looked up in the image's `/etc/passwd` (and
//!   `/etc/group` when a user name matched or a group was given); a missing
//!   file is an error even for a bare number (`unable to find user 1000:
//!   invalid argument`, as Go reads the nil file), a numeric uid missing from
//!   an existing passwd gets gid 0, a missing name is an error;
//! * supplementary groups come from `/etc/group` membership only when no
//!   group was given;
//! * an empty `USER` is uid 0 resolved the same way (root's supplementary
//!   groups), falling back to 0:0 when that fails.
//!
//! COPY/ADD `--chown` and WORKDIR resolve names differently: see
//! [`super::chown`].

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
    /// The image has no `/etc/passwd` to look the user up in (Go reads the
    /// missing file as a nil `*os.File`: "invalid argument").
    #[error("unable to find user {0}: invalid argument")]
    NoPasswd(String),
    /// The image has no `/etc/group` to look the user's groups up in.
    #[error("unable to find groups for spec {0}: invalid argument")]
    NoGroupFile(String),
    /// A numeric id outside libcontainer's range.
    #[error("uids and gids must be in range 0-2147483647")]
    Range,
    /// A COPY/ADD `--chown` or WORKDIR name on a stage that has no file
    /// system yet (`FROM scratch`): BuildKit has no input to read
    /// `/etc/passwd` from.
    #[error("invalid user index: -1")]
    NoUserInput,
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
pub fn resolve(layers: &[PathBuf], spec: &str) -> Result<User, UserError> {
    if spec.is_empty() {
        return Ok(exec_user(layers, "0").unwrap_or_default());
    }
    if let Some((u, g)) = spec.split_once(':') {
        if let (Some(uid), Some(gid)) = (fast_id(u), fast_id(g)) {
            return Ok(User {
                uid,
                gid,
                additional_gids: Vec::new(),
            });
        }
    }
    exec_user(layers, spec)
}

/// BuildKit's `parseUID` for the `uid:gid` fast path: `root` or a decimal
/// number (no sign).
fn fast_id(s: &str) -> Option<u32> {
    if s == "root" {
        return Some(0);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.Atoi` within libcontainer's id range check.
fn atoi(s: &str) -> Option<Result<u32, UserError>> {
    let n: i64 = s.parse().ok()?;
    Some(
        u32::try_from(n)
            .ok()
            .filter(|n| *n <= 0x7fff_ffff)
            .ok_or(UserError::Range),
    )
}

/// libcontainer's `GetExecUser` with no defaults.
fn exec_user(layers: &[PathBuf], spec: &str) -> Result<User, UserError> {
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let mut user = User::default();
    let passwd = read_etc(layers, "etc/passwd")?.ok_or_else(|| {
        UserError::NoPasswd(if user_arg.is_empty() { "0" } else { user_arg }.to_string())
    })?;
    let numeric_uid = atoi(user_arg);
    let entry = parse_passwd(&passwd).find(|e| match &numeric_uid {
        _ if user_arg.is_empty() => e.uid == 0,
        Some(Ok(n)) => e.uid == *n,
        Some(Err(_)) => false,
        None => e.name == user_arg,
    });
    let mut matched_name = None;
    match entry {
        Some(e) => {
            user.uid = e.uid;
            user.gid = e.gid;
            matched_name = Some(e.name.to_string());
        }
        None if user_arg.is_empty() => {}
        None => match numeric_uid {
            Some(n) => user.uid = n?,
            None => return Err(UserError::NoSuchUser(user_arg.to_string())),
        },
    }
    if group_arg.is_empty() && matched_name.is_none() {
        return Ok(user);
    }
    let name = matched_name.unwrap_or_default();
    let group =
        read_etc(layers, "etc/group")?.ok_or_else(|| UserError::NoGroupFile(name.clone()))?;
    let entries: Vec<GroupEntry<'_>> = parse_group(&group).collect();
    if group_arg.is_empty() {
        for e in &entries {
            if e.members.iter().any(|m| *m == name) && !user.additional_gids.contains(&e.gid) {
                user.additional_gids.push(e.gid);
            }
        }
        return Ok(user);
    }
    let numeric_gid = atoi(group_arg);
    let found = entries.iter().find(|e| match &numeric_gid {
        Some(Ok(n)) => e.gid == *n,
        Some(Err(_)) => false,
        None => e.name == group_arg,
    });
    user.gid = match (found, numeric_gid) {
        (Some(e), _) => e.gid,
        (None, Some(n)) => n?,
        (None, None) => return Err(UserError::NoSuchGroup(group_arg.to_string())),
    };
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

pub(super) struct PasswdEntry<'a> {
    pub name: &'a str,
    pub uid: u32,
    pub gid: u32,
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

pub(super) fn parse_passwd(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    colon_records(text).filter_map(|(name, mut f)| {
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        Some(PasswdEntry { name, uid, gid })
    })
}

pub(super) struct GroupEntry<'a> {
    pub name: &'a str,
    pub gid: u32,
    pub members: Vec<&'a str>,
}

pub(super) fn parse_group(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
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
pub(super) fn read_etc(layers: &[PathBuf], rel: &str) -> Result<Option<String>, UserError> {
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

    /// Without /etc/passwd only the `uid:gid` fast path works, as in
    /// Docker 26.1 (`USER 1000` there fails: "unable to find user 1000:
    /// invalid argument"); an empty USER falls back to 0:0.
    #[test]
    fn without_files_only_uid_gid_pairs_work() {
        let d = tempfile::tempdir().unwrap();
        let at = |spec: &str| resolve(&[d.path().to_path_buf()], spec);
        for (spec, ids) in [
            ("4242:99", (4242, 99)),
            ("root:root", (0, 0)),
            ("0:root", (0, 0)),
            ("root:0", (0, 0)),
        ] {
            let u = at(spec).unwrap();
            assert_eq!((u.uid, u.gid), ids, "{spec}");
            assert!(u.additional_gids.is_empty());
        }
        assert_eq!(at("").unwrap(), User::default());
        for (spec, msg) in [
            ("4242", "unable to find user 4242: invalid argument"),
            ("root", "unable to find user root: invalid argument"),
            ("root:nobody", "unable to find user root: invalid argument"),
            ("0:nobody", "unable to find user 0: invalid argument"),
        ] {
            assert_eq!(at(spec).unwrap_err().to_string(), msg, "{spec}");
        }
        // passwd without group: a matched user needs the group file.
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh
",
        )
        .unwrap();
        assert_eq!(
            at("root").unwrap_err().to_string(),
            "unable to find groups for spec root: invalid argument"
        );
        let u = at("1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 0));
    }

    /// An empty USER is uid 0 resolved through the files: root's
    /// memberships are its supplementary groups (Docker: groups=0,4,10).
    #[test]
    fn default_user_gets_roots_groups() {
        let d = rootfs();
        let mut g = std::fs::read_to_string(d.path().join("etc/group")).unwrap();
        g.push_str(
            "adm:x:4:daemon,root
",
        );
        std::fs::write(d.path().join("etc/group"), g).unwrap();
        let u = resolve(&[d.path().to_path_buf()], "").unwrap();
        assert_eq!((u.uid, u.gid, u.additional_gids), (0, 0, vec![4]));
        let u = resolve(&[d.path().to_path_buf()], "0").unwrap();
        assert_eq!(u.additional_gids, vec![4]);
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
        // Whited out: no passwd at all.
        assert!(matches!(
            resolve(&layers, "bob"),
            Err(UserError::NoPasswd(_))
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
