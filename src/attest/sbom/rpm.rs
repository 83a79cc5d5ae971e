//! Installed rpm packages from the rpm database, in any of rpm's three
//! backends: SQLite (`rpmdb.sqlite`, rpm >= 4.16's default: Fedora 33+,
//! RHEL/Rocky/Alma 9, Amazon Linux 2023), ndb (`Packages.db`, openSUSE and
//! SLE 15 SP3+, see [`ndb`]) and Berkeley DB hash (`Packages`, CentOS/RHEL
//! <= 8, Amazon Linux 2, older Fedora and SUSE, see [`bdb`]), each looked
//! for in `var/lib/rpm` and `usr/lib/sysimage/rpm` (Fedora 36+, openSUSE).
//! Every backend stores one rpm header per package; the header format is
//! rpm's `headerExport` (big-endian index count and data length, 16-byte
//! index entries `tag, type, offset, count`, then the data store), read
//! here because no maintained crate parses a bare header blob.
//!
//! purls follow syft's `rpm` packages: `pkg:rpm/ID/NAME@VERSION-RELEASE`
//! with `arch`, `distro=ID-VERSION_ID`, `epoch` (when set) and `upstream`
//! (the source rpm) qualifiers.

pub mod bdb;
pub mod ndb;

use std::path::Path;

use super::os::OsRelease;
use super::{purl, Package};

/// Where rpm keeps its database, relative to the image root, in the order
/// they are tried: the first one present is read (rpm itself uses one,
/// `%_db_backend`; `rpmdb --rebuilddb` removes the files of the old one).
pub const DB_PATHS: [(&str, Backend); 6] = [
    ("var/lib/rpm/rpmdb.sqlite", Backend::Sqlite),
    ("var/lib/rpm/Packages.db", Backend::Ndb),
    ("var/lib/rpm/Packages", Backend::Bdb),
    ("usr/lib/sysimage/rpm/rpmdb.sqlite", Backend::Sqlite),
    ("usr/lib/sysimage/rpm/Packages.db", Backend::Ndb),
    ("usr/lib/sysimage/rpm/Packages", Backend::Bdb),
];

/// The rpm database backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, `rpmdb.sqlite`.
    Sqlite,
    /// rpm's own "ndb" package database, `Packages.db`.
    Ndb,
    /// Berkeley DB hash database, `Packages`.
    Bdb,
}

/// Read access to a database file by offset: a [`std::fs::File`] (read
/// page by page, so a large database is never held in memory whole) or a
/// byte slice (tests, fuzzing).
pub trait Source {
    /// Length in bytes.
    fn len(&self) -> u64;
    /// Whether it has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` from byte `offset`; an error past the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

impl Source for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| self.get(o..o.checked_add(buf.len())?))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A file and its length (taken once: the image's database does not change).
pub struct FileSource(pub std::fs::File, pub u64);

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.1
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
    }
}

const TAG_NAME: i32 = 1000;
const TAG_VERSION: i32 = 1001;
const TAG_RELEASE: i32 = 1002;
const TAG_EPOCH: i32 = 1003;
const TAG_VENDOR: i32 = 1011;
const TAG_PACKAGER: i32 = 1015;
const TAG_ARCH: i32 = 1022;
const TAG_SOURCERPM: i32 = 1044;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// The fields of one rpm header that an SBOM needs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RpmHeader {
    /// `NAME`.
    pub name: String,
    /// `VERSION`.
    pub version: String,
    /// `RELEASE`.
    pub release: String,
    /// `EPOCH`, when the package has one.
    pub epoch: Option<u32>,
    /// `ARCH` (`x86_64`, `noarch`).
    pub arch: String,
    /// `SOURCERPM` (`bash-5.1.8-6.el9.src.rpm`).
    pub source_rpm: String,
    /// `VENDOR`, else `PACKAGER`.
    pub supplier: Option<String>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses a header blob as the rpm database stores it (no lead, no
/// magic); `None` when it is truncated or its offsets point outside it.
pub fn parse_header(blob: &[u8]) -> Option<RpmHeader> {
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    let data_start = 8usize.checked_add(il.checked_mul(16)?)?;
    let data = blob.get(data_start..data_start.checked_add(dl)?)?;
    let mut h = RpmHeader::default();
    let mut packager = None;
    for i in 0..il {
        let e = 8 + i * 16;
        let tag = be32(blob, e)? as i32;
        let ty = be32(blob, e + 4)?;
        let off = be32(blob, e + 8)? as usize;
        let string = || -> Option<String> {
            if ty != TYPE_STRING && ty != TYPE_I18NSTRING {
                return None;
            }
            let s = data.get(off..)?;
            let end = memchr::memchr(0, s)?;
            Some(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        match tag {
            TAG_NAME => h.name = string()?,
            TAG_VERSION => h.version = string()?,
            TAG_RELEASE => h.release = string()?,
            TAG_ARCH => h.arch = string().unwrap_or_default(),
            TAG_SOURCERPM => h.source_rpm = string().unwrap_or_default(),
            TAG_VENDOR => h.supplier = string(),
            TAG_PACKAGER => packager = string(),
            TAG_EPOCH if ty == TYPE_INT32 => h.epoch = be32(data, off),
            _ => {}
        }
    }
    if h.supplier.is_none() {
        h.supplier = packager;
    }
    (!h.name.is_empty() && !h.version.is_empty()).then_some(h)
}

/// The header blobs of the SQLite rpm database at `db`, opened read-only
/// and immutable (the image's database is never written, journals or WAL
/// files next to it are ignored).
fn blobs(db: &Path) -> rusqlite::Result<Vec<Vec<u8>>> {
    use rusqlite::OpenFlags;
    // A file: URI; characters that mean something in a URI are escaped.
    let mut uri = String::from("file:");
    for c in db.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    let conn = rusqlite::Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut stmt = conn.prepare("SELECT blob FROM Packages ORDER BY hnum")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    rows.collect()
}

/// `rel` under `root` when it is a regular file reached without following
/// a symlink: an absolute link (`var/lib/rpm -> /usr/lib/sysimage/rpm`)
/// would otherwise resolve on the host, and the linked-to location is
/// tried on its own anyway.
fn plain_file(root: &Path, rel: &str) -> Option<(std::path::PathBuf, u64)> {
    let mut p = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        p.push(part);
        let m = std::fs::symlink_metadata(&p).ok()?;
        let last = i + 1 == parts.len();
        if (last && !m.is_file()) || (!last && !m.is_dir()) {
            return None;
        }
        if last {
            return Some((p, m.len()));
        }
    }
    None
}

/// Calls `each` with every header blob of the database at `db`; an error
/// when it cannot be read at all (a bad record is skipped with a warning).
fn each_blob(
    db: &Path,
    len: u64,
    backend: Backend,
    each: &mut dyn FnMut(&[u8]),
) -> Result<(), String> {
    match backend {
        Backend::Sqlite => {
            if len > super::MAX_FILE_BYTES {
                return Err(format!("larger than {} bytes", super::MAX_FILE_BYTES));
            }
            blobs(db)
                .map_err(|e| e.to_string())?
                .iter()
                .for_each(|b| each(b));
            Ok(())
        }
        Backend::Ndb | Backend::Bdb => {
            let file = std::fs::File::open(db).map_err(|e| e.to_string())?;
            let src = FileSource(file, len);
            let warn = &mut |w: String| eprintln!("warning: sbom: {}: {w}", db.display());
            if backend == Backend::Ndb {
                ndb::read(&src, each, warn)
            } else {
                bdb::read(&src, each, warn)
            }
        }
    }
}

/// Installed rpm packages of the image at `root` (empty without an rpm
/// database or when it cannot be read: an SBOM lists what it can read).
pub fn rpm(root: &Path, os: Option<&OsRelease>) -> Vec<Package> {
    let Some((rel, backend, db, len)) = DB_PATHS
        .iter()
        .find_map(|(rel, b)| plain_file(root, rel).map(|(p, len)| (*rel, *b, p, len)))
    else {
        return Vec::new();
    };
    let mut headers = Vec::new();
    if let Err(e) = each_blob(&db, len, backend, &mut |b| headers.extend(parse_header(b))) {
        eprintln!("warning: sbom: cannot read the rpm database /{rel}: {e}");
    }
    let namespace = os.map(|o| o.id.clone()).filter(|s| !s.is_empty());
    let distro = os.and_then(OsRelease::distro);
    let location = format!("/{rel}");
    headers
        .into_iter()
        .map(|h| {
            let version = format!("{}-{}", h.version, h.release);
            let mut q = Vec::new();
            if !h.arch.is_empty() {
                q.push(("arch", h.arch.clone()));
            }
            if let Some(d) = &distro {
                q.push(("distro", d.clone()));
            }
            if let Some(e) = h.epoch {
                q.push(("epoch", e.to_string()));
            }
            if !h.source_rpm.is_empty() {
                q.push(("upstream", h.source_rpm.clone()));
            }
            Package {
                purl: purl("rpm", namespace.as_deref(), &h.name, &version, &q),
                name: h.name,
                version: match h.epoch {
                    Some(e) => format!("{e}:{version}"),
                    None => version,
                },
                kind: "rpm",
                location: location.clone(),
                supplier: h.supplier,
                source_info: format!("acquired package info from RPM DB: {location}"),
            }
        })
        .collect()
}

/// A backend reader over a byte slice.
#[cfg(test)]
type Reader = fn(&[u8], &mut dyn FnMut(&[u8]), &mut dyn FnMut(String)) -> Result<(), String>;

/// The values a reader gives for `d`, or its error, and its warnings
/// (the backends' unit tests).
#[cfg(test)]
fn collect(read: Reader, d: &[u8]) -> (Result<Vec<Vec<u8>>, String>, Vec<String>) {
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    let r = read(d, &mut |b| out.push(b.to_vec()), &mut |w| warnings.push(w));
    (r.map(|()| out), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header blob with these (tag, type, value) entries.
    fn header(entries: &[(i32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, v) in entries {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(v);
        }
        let mut out = (entries.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn header_fields_and_bad_blobs() {
        let s = |v: &str| format!("{v}\0").into_bytes();
        let blob = header(&[
            (TAG_NAME, TYPE_STRING, s("bash")),
            (TAG_VERSION, TYPE_STRING, s("5.1.8")),
            (TAG_RELEASE, TYPE_STRING, s("6.el9")),
            (TAG_EPOCH, TYPE_INT32, 2u32.to_be_bytes().to_vec()),
            (TAG_ARCH, TYPE_STRING, s("x86_64")),
            (TAG_SOURCERPM, TYPE_STRING, s("bash-5.1.8-6.el9.src.rpm")),
        ]);
        let h = parse_header(&blob).unwrap();
        assert_eq!((h.name.as_str(), h.release.as_str()), ("bash", "6.el9"));
        assert_eq!(h.epoch, Some(2));
        // Truncated data store and an offset past the end are refused.
        assert!(parse_header(&blob[..blob.len() - 3]).is_none());
        let mut bad = blob.clone();
        bad[8 + 8..8 + 12].copy_from_slice(&1000u32.to_be_bytes());
        assert!(parse_header(&bad).is_none());
        assert!(parse_header(&[0xff; 8]).is_none());
    }

    #[test]
    fn database_found_only_without_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let (root, outside) = (d.path().join("root"), d.path().join("outside"));
        std::fs::create_dir_all(root.join("var/lib")).unwrap();
        std::fs::create_dir_all(root.join("usr/lib/sysimage/rpm")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("Packages"), b"x").unwrap();
        std::fs::write(root.join("usr/lib/sysimage/rpm/Packages.db"), b"x").unwrap();
        // var/lib/rpm points out of the root: not followed.
        std::os::unix::fs::symlink(&outside, root.join("var/lib/rpm")).unwrap();
        let found = DB_PATHS
            .iter()
            .find_map(|(rel, b)| plain_file(&root, rel).map(|_| (*rel, *b)));
        assert_eq!(
            found,
            Some(("usr/lib/sysimage/rpm/Packages.db", Backend::Ndb))
        );
        assert!(plain_file(&root, "var/lib/rpm/Packages").is_none());
        assert!(plain_file(&outside, "Packages").is_some());
    }
}
