//! Language packages from lock files found in the image: npm's
//! `package-lock.json` (v1 `dependencies`, v2/v3 `packages`), `Cargo.lock`
//! (with the `cargo-lock` crate), Python's `requirements.txt` (pinned
//! `name==version` lines only, as syft) and `poetry.lock`.

use std::path::Path;

use serde_json::Value;

use super::{purl, Package};

fn pkg(kind: &'static str, ty: &str, name: &str, version: &str, loc: &str, what: &str) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        purl: purl(ty, None, name, version, &[]),
        kind,
        location: loc.to_string(),
        supplier: None,
        source_info: format!("acquired package info from {what}: {loc}"),
    }
}

/// npm packages of a `package-lock.json`.
pub fn npm(bytes: &[u8], loc: &str) -> Vec<Package> {
    let Ok(doc) = serde_json::from_slice::<Value>(bytes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(pkgs) = doc.get("packages").and_then(Value::as_object) {
        for (key, p) in pkgs {
            // "" is the project itself; links have no version of their own.
            let Some(i) = key.rfind("node_modules/") else {
                continue;
            };
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&key[i + "node_modules/".len()..]);
            if let Some(v) = p.get("version").and_then(Value::as_str) {
                out.push(pkg(
                    "npm",
                    "npm",
                    name,
                    v,
                    loc,
                    "javascript npm package-lock",
                ));
            }
        }
    } else if let Some(deps) = doc.get("dependencies").and_then(Value::as_object) {
        let mut todo: Vec<(&String, &Value)> = deps.iter().collect();
        while let Some((name, d)) = todo.pop() {
            if let Some(v) = d.get("version").and_then(Value::as_str) {
                out.push(pkg(
                    "npm",
                    "npm",
                    name,
                    v,
                    loc,
                    "javascript npm package-lock",
                ));
            }
            if let Some(sub) = d.get("dependencies").and_then(Value::as_object) {
                todo.extend(sub.iter());
            }
        }
    }
    out
}

/// Crates of a `Cargo.lock`.
pub fn cargo(bytes: &[u8], loc: &str) -> Vec<Package> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let Ok(lock) = text.parse::<cargo_lock::Lockfile>() else {
        return Vec::new();
    };
    lock.packages
        .iter()
        .map(|p| {
            pkg(
                "cargo",
                "cargo",
                p.name.as_str(),
                &p.version.to_string(),
                loc,
                "rust cargo lock",
            )
        })
        .collect()
}

/// PyPI names are compared normalised (PEP 503): lower case, runs of
/// `-_.` as one `-`.
fn pep503(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Pinned requirements (`name==version`, extras and markers dropped).
pub fn requirements(bytes: &[u8], loc: &str) -> Vec<Package> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| {
            let l = l.split('#').next()?.split(';').next()?.trim();
            let (name, version) = l.split_once("==")?;
            let name = name.split('[').next()?.trim();
            let version = version.split_whitespace().next()?.trim_start_matches('=');
            (!name.is_empty() && !version.is_empty() && !name.starts_with('-')).then(|| {
                pkg(
                    "python",
                    "pypi",
                    &pep503(name),
                    version,
                    loc,
                    "python requirements",
                )
            })
        })
        .collect()
}

/// Packages of a `poetry.lock`.
pub fn poetry(bytes: &[u8], loc: &str) -> Vec<Package> {
    let Ok(doc) = toml::from_str::<toml::Value>(&String::from_utf8_lossy(bytes)) else {
        return Vec::new();
    };
    doc.get("package")
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let n = p.get("name")?.as_str()?;
                    let v = p.get("version")?.as_str()?;
                    Some(pkg(
                        "python",
                        "pypi",
                        &pep503(n),
                        v,
                        loc,
                        "python poetry lock",
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The packages of the lock file at `path` (`loc` is its path in the
/// image), by file name; empty for other files.
pub fn lockfile(path: &Path, loc: &str) -> Vec<Package> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parse: fn(&[u8], &str) -> Vec<Package> = match name {
        "package-lock.json" => npm,
        "Cargo.lock" => cargo,
        "poetry.lock" => poetry,
        n if n == "requirements.txt" || (n.starts_with("requirements") && n.ends_with(".txt")) => {
            requirements
        }
        _ => return Vec::new(),
    };
    match super::read_small(path) {
        Some(b) => parse(&b, loc),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_formats() {
        let n = npm(
            br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/@a/b":{"version":"1.0.0"},"node_modules/x/node_modules/y":{"version":"2.1.0"}}}"#,
            "/app/package-lock.json",
        );
        let purls: Vec<_> = n.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(purls, ["pkg:npm/%40a/b@1.0.0", "pkg:npm/y@2.1.0"]);
        let c = cargo(
            b"version = 3\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\n",
            "/Cargo.lock",
        );
        assert_eq!(c[0].purl, "pkg:cargo/serde@1.0.200");
        let r = requirements(
            b"Flask_Cors==4.0.1 # web\nrequests>=2\n-r other.txt\n",
            "/r.txt",
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].purl, "pkg:pypi/flask-cors@4.0.1");
        let p = poetry(
            b"[[package]]\nname = \"Click\"\nversion = \"8.1.7\"\n",
            "/poetry.lock",
        );
        assert_eq!(p[0].purl, "pkg:pypi/click@8.1.7");
    }
}
