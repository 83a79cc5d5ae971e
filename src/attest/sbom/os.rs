//! OS package databases: dpkg's `var/lib/dpkg/status` (and distroless'
//! `var/lib/dpkg/status.d/*`), apk's `lib/apk/db/installed`, and
//! `etc/os-release` (`usr/lib/os-release`) for the distro qualifier.
//!
//! Both databases are RFC 822-like text with one paragraph per package;
//! their formats are simple and stable, and no maintained Rust crate reads
//! them (deb822 crates target source control files), so they are parsed
//! here. The purls follow the package-url spec's `deb` and `apk` types with
//! syft's qualifiers (`arch`, `distro=ID-VERSION_ID`, `upstream`).

use std::collections::BTreeMap;
use std::path::Path;

use super::{purl, Package};

/// `/etc/os-release` fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID` (`debian`, `alpine`, …).
    pub id: String,
    /// `VERSION_ID` (`12`, `3.19.1`).
    pub version_id: String,
    /// `PRETTY_NAME`.
    pub pretty_name: String,
}

impl OsRelease {
    /// syft's `distro=` qualifier value, `ID-VERSION_ID`.
    pub fn distro(&self) -> Option<String> {
        (!self.id.is_empty()).then(|| {
            if self.version_id.is_empty() {
                self.id.clone()
            } else {
                format!("{}-{}", self.id, self.version_id)
            }
        })
    }
}

/// Reads os-release from `root` (`etc/os-release`, else `usr/lib/os-release`).
pub fn os_release(root: &Path) -> Option<OsRelease> {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| super::read_small(&root.join(p)))?;
    let text = String::from_utf8_lossy(&text);
    let mut r = OsRelease::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => r.id = v,
            "VERSION_ID" => r.version_id = v,
            "PRETTY_NAME" => r.pretty_name = v,
            _ => {}
        }
    }
    Some(r)
}

/// Paragraphs of an RFC 822-like file, continuation lines joined.
fn paragraphs(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut cur: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            last = None;
        } else if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(k) = &last {
                let v = cur.entry(k.clone()).or_default();
                v.push('\n');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            cur.insert(k.to_string(), v.trim().to_string());
            last = Some(k.to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Installed dpkg packages (`Status: install ok installed`).
pub fn dpkg(root: &Path, os: Option<&OsRelease>) -> Vec<Package> {
    let mut files = vec![root.join("var/lib/dpkg/status")];
    if let Ok(rd) = std::fs::read_dir(root.join("var/lib/dpkg/status.d")) {
        let mut extra: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        extra.sort();
        files.extend(extra.into_iter().filter(|p| p.extension().is_none()));
    }
    let namespace = os.map(|o| o.id.clone()).filter(|s| !s.is_empty());
    let distro = os.and_then(OsRelease::distro);
    let mut out = Vec::new();
    for f in files {
        let Some(bytes) = super::read_small(&f) else {
            continue;
        };
        let location = format!("/{}", f.strip_prefix(root).unwrap_or(&f).display());
        for p in paragraphs(&String::from_utf8_lossy(&bytes)) {
            // status.d entries have no Status field: they are installed.
            if p.get("Status").is_some_and(|s| !s.ends_with(" installed")) {
                continue;
            }
            let (Some(name), Some(version)) = (p.get("Package"), p.get("Version")) else {
                continue;
            };
            let mut q = Vec::new();
            if let Some(a) = p.get("Architecture") {
                q.push(("arch", a.clone()));
            }
            if let Some(d) = &distro {
                q.push(("distro", d.clone()));
            }
            if let Some(src) = p.get("Source") {
                // `Source: name (version)` when the versions differ.
                q.push((
                    "upstream",
                    src.split_whitespace().next().unwrap_or(src).to_string(),
                ));
            }
            out.push(Package {
                name: name.clone(),
                version: version.clone(),
                purl: purl(
                    "deb",
                    namespace.as_deref().or(Some("debian")),
                    name,
                    version,
                    &q,
                ),
                kind: "deb",
                location: location.clone(),
                supplier: p.get("Maintainer").cloned(),
                source_info: format!("acquired package info from DPKG DB: {location}"),
            });
        }
    }
    out
}

/// Installed apk packages.
pub fn apk(root: &Path, os: Option<&OsRelease>) -> Vec<Package> {
    let f = root.join("lib/apk/db/installed");
    let Some(bytes) = super::read_small(&f) else {
        return Vec::new();
    };
    let namespace = os
        .map(|o| o.id.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "alpine".into());
    let distro = os.and_then(OsRelease::distro);
    let mut out = Vec::new();
    for p in paragraphs(&String::from_utf8_lossy(&bytes)) {
        let (Some(name), Some(version)) = (p.get("P"), p.get("V")) else {
            continue;
        };
        let mut q = Vec::new();
        if let Some(a) = p.get("A") {
            q.push(("arch", a.clone()));
        }
        if let Some(d) = &distro {
            q.push(("distro", d.clone()));
        }
        if let Some(o) = p.get("o").filter(|o| *o != name) {
            q.push(("upstream", o.clone()));
        }
        out.push(Package {
            name: name.clone(),
            version: version.clone(),
            purl: purl("apk", Some(&namespace), name, version, &q),
            kind: "apk",
            location: "/lib/apk/db/installed".into(),
            supplier: p.get("m").cloned(),
            source_info: "acquired package info from APK DB: /lib/apk/db/installed".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_and_apk() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("var/lib/dpkg")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/os-release"), "ID=debian\nVERSION_ID=\"12\"\n").unwrap();
        std::fs::write(
            r.join("var/lib/dpkg/status"),
            "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\n\
             Version: 2.36-9\nDescription: x\n long\n\nPackage: gone\nStatus: deinstall ok \
             config-files\nVersion: 1\n",
        )
        .unwrap();
        let os = os_release(r).unwrap();
        let p = dpkg(r, Some(&os));
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].purl,
            "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc"
        );
        std::fs::create_dir_all(r.join("lib/apk/db")).unwrap();
        std::fs::write(
            r.join("lib/apk/db/installed"),
            "C:Q1x\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox-binsh\nV:1.36\nA:x86_64\no:busybox\n",
        )
        .unwrap();
        let a = apk(r, None);
        assert_eq!(a[0].purl, "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64");
        assert_eq!(
            a[1].purl,
            "pkg:apk/alpine/busybox-binsh@1.36?arch=x86_64&upstream=busybox"
        );
    }
}
