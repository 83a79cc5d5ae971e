//! The owner of COPY/ADD `--chown=…` and of a WORKDIR made under `USER`,
//! resolved as BuildKit 0.13 does it (LLB `WithUser` + the file op's
//! `readUser`), which is not how a RUN's user is resolved:
//!
//! * each side of `user[:group]` that is `root` or a decimal number (a
//!   signed 32-bit one, as Go's `ParseInt`) is an id, read from no file; a
//!   numeric or `root` user also sets the group (`--chown=1000` is
//!   1000:1000, `--chown=root` 0:0); an empty side is id 0;
//! * a name is looked up in the image's `/etc/passwd` (user: its uid and
//!   primary gid) or `/etc/group`; a missing file or a name not in it is
//!   *not* an error: the user is 0 (and the group what the user side gave);
//! * on a stage with no file system yet (`FROM scratch` before any layer) a
//!   name has nothing to be read from: `invalid user index: -1`;
//! * an id of -1 leaves the entry's owner root (`lchown`'s "no change").

use std::path::PathBuf;

use super::user::{parse_group, parse_passwd, read_etc, UserError};

/// One side of the spec.
enum Side<'a> {
    Id(u32),
    Name(&'a str),
}

fn side(s: &str) -> Side<'_> {
    if s == "root" || s.is_empty() {
        return Side::Id(0);
    }
    match s.parse::<i32>() {
        // `uint32(int)`: a negative id wraps, as BuildKit marshals it.
        Ok(n) => Side::Id(n as u32),
        Err(_) => Side::Name(s),
    }
}

/// `(uid, gid)` for `spec` against the stage's layers (top first; empty for
/// a stage with no file system yet).
pub fn resolve_chown(layers: &[PathBuf], spec: &str) -> Result<(u32, u32), UserError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (mut uid, mut gid) = (0, 0);
    match side(user) {
        Side::Id(n) => (uid, gid) = (n, n),
        Side::Name(name) => {
            if layers.is_empty() {
                return Err(UserError::NoUserInput);
            }
            if let Some(text) = read_etc(layers, "etc/passwd")? {
                if let Some(e) = parse_passwd(&text).find(|e| e.name == name) {
                    (uid, gid) = (e.uid, e.gid);
                }
            }
        }
    }
    match group.map(side) {
        None => {}
        Some(Side::Id(n)) => gid = n,
        Some(Side::Name(name)) => {
            if layers.is_empty() {
                return Err(UserError::NoUserInput);
            }
            if let Some(text) = read_etc(layers, "etc/group")? {
                if let Some(e) = parse_group(&text).find(|e| e.name == name) {
                    gid = e.gid;
                }
            }
        }
    }
    // An id of -1 (`--chown=-1`, `1000:-1`) is `lchown`'s "leave it": the entry keeps the
    // owner it was made with, root's (recorded with Docker 26.1, parity 297).
    let made_as_root = |id: u32| if id == u32::MAX { 0 } else { id };
    Ok((made_as_root(uid), made_as_root(gid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(passwd: Option<&str>, group: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        if let Some(p) = passwd {
            std::fs::write(d.path().join("etc/passwd"), p).unwrap();
        }
        if let Some(g) = group {
            std::fs::write(d.path().join("etc/group"), g).unwrap();
        }
        d
    }

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
    const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

    /// The outcomes recorded with Docker 26.1 (BuildKit 0.13).
    #[test]
    fn as_docker_resolves_them() {
        let full = image(Some(PASSWD), Some(GROUP));
        let none = image(None, None);
        let passwd_only = image(Some(PASSWD), None);
        let group_only = image(None, Some(GROUP));
        let at = |d: &tempfile::TempDir, spec: &str| {
            resolve_chown(&[d.path().to_path_buf()], spec).unwrap()
        };
        // scratch-like images without the files: ids and root need none.
        for spec in ["root:root", "root", "0:root", "root:0", "0"] {
            assert_eq!(at(&none, spec), (0, 0), "{spec}");
        }
        assert_eq!(at(&none, "1000"), (1000, 1000));
        // Names that cannot be found are root, not errors.
        assert_eq!(at(&none, "nosuch"), (0, 0));
        assert_eq!(at(&full, "nosuch"), (0, 0));
        assert_eq!(at(&full, "nobody:nosuchgroup"), (65534, 65534));
        assert_eq!(at(&full, "nosuch:nobody"), (0, 65534));
        assert_eq!(at(&full, "1000:nosuchgroup"), (1000, 1000));
        assert_eq!(at(&passwd_only, "nobody:nobody"), (65534, 65534));
        assert_eq!(at(&passwd_only, "nobody"), (65534, 65534));
        assert_eq!(at(&group_only, "nobody:nobody"), (0, 65534));
        assert_eq!(at(&group_only, "root:nobody"), (0, 65534));
        assert_eq!(at(&full, "1000:"), (1000, 0));
        // -1 leaves the owner a root-made entry has; other negative ids wrap.
        assert_eq!(at(&full, "-1"), (0, 0));
        assert_eq!(at(&full, "1000:-1"), (1000, 0));
        assert_eq!(at(&full, "1000:-5"), (1000, 4_294_967_291));
    }

    #[test]
    fn names_need_a_file_system() {
        for spec in ["nosuch", "1000:nosuchgroup", "nobody:0"] {
            let e = resolve_chown(&[], spec).unwrap_err();
            assert_eq!(e.to_string(), "invalid user index: -1", "{spec}");
        }
        assert_eq!(resolve_chown(&[], "root:root").unwrap(), (0, 0));
        assert_eq!(resolve_chown(&[], "5:6").unwrap(), (5, 6));
    }
}
