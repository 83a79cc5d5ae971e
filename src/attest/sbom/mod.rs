//! The SBOM of an image root file system: its OS packages (dpkg, apk, rpm),
//! the distribution from os-release, language packages from the lock files
//! in it and the Go modules of Go binaries, as an SPDX 2.3 JSON document ([`spdx::document`]) wrapped by the
//! caller in an in-toto statement with predicate type
//! `https://spdx.dev/Document`, as BuildKit's SBOM scanner's output is.

pub mod context;
pub mod golang;
pub mod lang;
pub mod os;
pub mod rpm;
pub mod spdx;
pub mod targets;

use std::io::Read as _;
use std::path::Path;

/// The SPDX predicate type.
pub const SPDX_PREDICATE: &str = "https://spdx.dev/Document";

/// Lock files and package databases are read up to this size (bytes);
/// bigger files are skipped, so a hostile image cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// One package found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Name.
    pub name: String,
    /// Version as the ecosystem writes it.
    pub version: String,
    /// Package URL (`pkg:deb/debian/bash@5.2.15-2?arch=amd64&distro=debian-12`).
    pub purl: String,
    /// Ecosystem (`deb`, `apk`, `rpm`, `npm`, `cargo`, `python`, `go-module`).
    pub kind: &'static str,
    /// Where it was found in the image (`/var/lib/dpkg/status`).
    pub location: String,
    /// Maintainer, when the database names one.
    pub supplier: Option<String>,
    /// SPDX `sourceInfo`.
    pub source_info: String,
}

/// A package URL as syft and BuildKit write them (Go's `packageurl-go`):
/// `pkg:TYPE/NAMESPACE/NAME@VERSION?k=v&…`, qualifiers sorted by key. Path
/// parts are escaped as Go's `url.PathEscape` (`+` and `:` stay: `@2.36-9+deb12u4`),
/// qualifier values as `url.QueryEscape` (`/` becomes `%2F`, `@` `%40`:
/// `platform=linux%2Famd64`, `upstream=gcc-12%4012.2.0`), per the purl
/// spec's percent-encoding. A name `scope/name` (npm, Go module paths)
/// puts `scope` in the namespace; namespace segments are escaped one by one.
pub fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    q: &[(&str, String)],
) -> String {
    let (ns, name) = match (namespace, name.rsplit_once('/')) {
        (None, Some((scope, n))) => (Some(scope), n),
        _ => (namespace, name),
    };
    let mut out = format!("pkg:{}/", ty.to_ascii_lowercase());
    if let Some(ns) = ns.filter(|n| !n.is_empty()) {
        let segs: Vec<String> = ns.split('/').map(|s| escape(s, Part::Name)).collect();
        out.push_str(&segs.join("/"));
        out.push('/');
    }
    out.push_str(&escape(name, Part::Name));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&escape(version, Part::Path));
    }
    let mut q: Vec<&(&str, String)> = q.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort();
    for (i, (k, v)) in q.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&k.to_ascii_lowercase());
        out.push('=');
        out.push_str(&escape(v, Part::Query));
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    /// `url.PathEscape`, `@` escaped too (it separates the version).
    Name,
    /// `url.PathEscape`.
    Path,
    /// `url.QueryEscape`.
    Query,
}

fn escape(s: &str, part: Part) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (part != Part::Query && matches!(b, b'$' | b'&' | b'+' | b',' | b':' | b';' | b'='))
            || (part == Part::Path && b == b'@');
        if keep {
            out.push(b as char);
        } else if part == Part::Query && b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The bytes of a regular file of at most [`MAX_FILE_BYTES`] (symlinks are
/// not followed: they could point out of the image root).
pub fn read_small(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let mut out = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// Everything found in the root file system at `root`: the distribution
/// and the packages, sorted (by purl, then location) so the same image
/// always gives the same list. Pseudo file systems are not walked.
pub fn scan(root: &Path) -> (Option<os::OsRelease>, Vec<Package>) {
    let release = os::os_release(root);
    let mut pkgs = os::dpkg(root, release.as_ref());
    pkgs.extend(os::apk(root, release.as_ref()));
    pkgs.extend(rpm::rpm(root, release.as_ref()));
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let rel = e.path().strip_prefix(root).unwrap_or(e.path());
            !matches!(rel.to_str(), Some("proc" | "sys" | "dev"))
        });
    for e in walker.flatten() {
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e.path().strip_prefix(root).unwrap_or(e.path());
        let loc = format!("/{}", rel.display());
        pkgs.extend(lang::lockfile(e.path(), &loc));
        pkgs.extend(golang::binary(e.path(), &loc));
    }
    pkgs.sort_by(|a, b| (&a.purl, &a.location).cmp(&(&b.purl, &b.location)));
    pkgs.dedup_by(|a, b| a.purl == b.purl && a.location == b.location);
    (release, pkgs)
}

/// The SPDX predicate of the root file system at `root`; `name` is the
/// document name (the image's, or `stage NAME`), `created` Unix seconds;
/// `extra` names a scanned stage or the context (`sbom-EXTRA`), `None` is
/// the core SBOM (`sbom`).
pub fn predicate(root: &Path, name: &str, created: i64, extra: Option<&str>) -> super::Predicate {
    let (release, pkgs) = scan(root);
    super::Predicate {
        predicate_type: SPDX_PREDICATE.into(),
        statement_type: super::STATEMENT_V01,
        body: spdx::document(name, release.as_ref(), &pkgs, created),
        name: match extra {
            Some(e) => format!("sbom-{e}"),
            None => "sbom".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_escaping_as_packageurl_go() {
        let q = |v: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            v.iter().map(|(k, v)| (*k, v.to_string())).collect()
        };
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u4",
                &q(&[("distro", "debian-12"), ("arch", "amd64"), ("upstream", "gcc-12@12.2.0")])
            ),
            "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12&upstream=gcc-12%4012.2.0"
        );
        assert_eq!(
            purl(
                "docker",
                Some("library"),
                "busybox",
                "1",
                &q(&[("platform", "linux/arm/v7")])
            ),
            "pkg:docker/library/busybox@1?platform=linux%2Farm%2Fv7"
        );
        assert_eq!(
            purl("golang", None, "github.com/a/b", "(devel)", &[]),
            "pkg:golang/github.com/a/b@%28devel%29"
        );
        assert_eq!(
            purl("npm", None, "@scope/x", "1.0.0", &[]),
            "pkg:npm/%40scope/x@1.0.0"
        );
    }
}
