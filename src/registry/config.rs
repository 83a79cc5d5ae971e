//! The registries config: mirrors and plain-http hosts.
//!
//! ```toml
//! [registry."docker.io"]
//! mirrors = ["http://127.0.0.1:5000"]   # tried in order before the origin (pull only)
//!
//! [registry."127.0.0.1:5001"]
//! insecure = true                        # plain http
//!
//! [registry."registry.example:5000"]
//! ca = "/etc/ssl/example-ca.pem"           # PEM CA(s) its certificate chains to
//! ```
//!
//! CAs are also found as Docker keeps them, `certs.d/HOST[:PORT]/*.crt`
//! (`ca.crt` usually) under `/etc/docker/certs.d`, `/etc/builder/certs.d`
//! and `$XDG_CONFIG_HOME/builder/certs.d`. A host with a CA is spoken to
//! over https even on loopback. The CAs are added to the system's roots for
//! every host (not only the one they are listed for).
//!
//! Found at `--registry-config FILE`, else
//! `$XDG_CONFIG_HOME/builder/registries.toml` (`~/.config/…`), else
//! `/etc/builder/registries.toml`; none of them is required. Like Docker,
//! loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) are insecure
//! unless a host entry says `insecure = false`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use reqwest::Url;
use serde::Deserialize;

use super::reference::{Reference, DOCKER_HUB, DOCKER_HUB_API_HOST};

/// Settings for one registry host.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Mirror base URLs (`http://host:port` or `host:port`, https by default).
    #[serde(default)]
    pub mirrors: Vec<String>,
    /// Talk plain http to this host.
    #[serde(default)]
    pub insecure: Option<bool>,
    /// A PEM file of CA certificates for this host's TLS (relative to the
    /// config file's directory).
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegistriesConfig {
    /// Per-host settings, keyed by registry name as in references (`docker.io`).
    #[serde(default)]
    pub registry: BTreeMap<String, HostConfig>,
    /// `certs.d` directories searched for `HOST/*.crt` (see the module doc).
    #[serde(skip)]
    pub certs_d: Vec<PathBuf>,
}

/// One place to talk to for a registry: a mirror or the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://host[:port]`, no trailing slash.
    pub base: Url,
    /// `host[:port]` of `base` (the key for credentials).
    pub host: String,
    /// True for a mirror (then the origin's name goes in the `ns` parameter).
    pub mirror: bool,
}

/// The `*.crt` files of a `certs.d/HOST` directory, sorted (Docker's CA
/// files; `*.cert`/`*.key` client pairs are not used).
fn crt_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    v.sort();
    v
}

fn is_loopback(host: &str) -> bool {
    let h = host
        .rsplit_once(':')
        .filter(|(h, p)| {
            !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':')
        })
        .map_or(host, |(h, _)| h);
    h == "localhost" || h.starts_with("127.") || h == "[::1]"
}

impl RegistriesConfig {
    /// Parses config text; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let mut cfg: RegistriesConfig = toml::from_str(text)
            .with_context(|| format!("parsing registries config {}", origin.display()))?;
        let dir = origin.parent().unwrap_or(Path::new("."));
        for hc in cfg.registry.values_mut() {
            if let Some(ca) = &mut hc.ca {
                *ca = dir.join(&*ca);
            }
        }
        cfg.certs_d = Self::default_certs_d();
        for (host, hc) in &cfg.registry {
            for m in &hc.mirrors {
                parse_base(m).with_context(|| {
                    format!(
                        "registries config {}: mirror {m:?} of {host:?}",
                        origin.display()
                    )
                })?;
            }
        }
        Ok(cfg)
    }

    /// Loads the config from `explicit`, or the first default location that
    /// exists, or returns the empty config.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        if let Some(p) = explicit {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading registries config {}", p.display()))?;
            return Self::parse(&text, p);
        }
        for p in Self::default_paths() {
            match std::fs::read_to_string(&p) {
                Ok(text) => return Self::parse(&text, &p),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
            }
        }
        Ok(RegistriesConfig {
            certs_d: Self::default_certs_d(),
            ..Self::default()
        })
    }

    /// Docker's `/etc/docker/certs.d`, then builder's own.
    pub fn default_certs_d() -> Vec<PathBuf> {
        let mut v = vec![
            PathBuf::from("/etc/docker/certs.d"),
            PathBuf::from("/etc/builder/certs.d"),
        ];
        if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
            v.push(PathBuf::from(x).join("builder/certs.d"));
        } else if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
            v.push(PathBuf::from(h).join(".config/builder/certs.d"));
        }
        v
    }

    /// The CA files configured for `host`: its `ca =` and its `certs.d` `*.crt`.
    pub fn ca_files(&self, host: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .registry
            .get(host)
            .and_then(|h| h.ca.clone())
            .into_iter()
            .collect();
        for d in &self.certs_d {
            v.extend(crt_files(&d.join(host)));
        }
        v
    }

    /// Every CA file of every host (what the HTTP client trusts besides the
    /// system's roots).
    pub fn all_ca_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .registry
            .values()
            .filter_map(|h| h.ca.clone())
            .collect();
        for d in &self.certs_d {
            if let Ok(rd) = std::fs::read_dir(d) {
                let mut hosts: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
                hosts.sort();
                for h in hosts {
                    v.extend(crt_files(&h));
                }
            }
        }
        v
    }

    /// The default locations, in order.
    pub fn default_paths() -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
            v.push(PathBuf::from(x).join("builder/registries.toml"));
        } else if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
            v.push(PathBuf::from(h).join(".config/builder/registries.toml"));
        }
        v.push(PathBuf::from("/etc/builder/registries.toml"));
        v
    }

    /// Whether `host` is spoken to over plain http: as configured, else for
    /// loopback hosts without a CA.
    pub fn insecure(&self, host: &str) -> bool {
        self.registry
            .get(host)
            .and_then(|h| h.insecure)
            .unwrap_or_else(|| is_loopback(host) && self.ca_files(host).is_empty())
    }

    /// The origin endpoint of the registry `reference` lives on.
    pub fn origin(&self, reference: &Reference) -> Endpoint {
        self.registry_endpoint(reference.registry())
    }

    /// The endpoint of a registry given by name (`docker.io`, `host:5000`).
    pub fn registry_endpoint(&self, registry: &str) -> Endpoint {
        let host = if registry == DOCKER_HUB || registry == "index.docker.io" {
            DOCKER_HUB_API_HOST.to_string()
        } else {
            registry.to_string()
        };
        let scheme = if self.insecure(registry) || self.insecure(&host) {
            "http"
        } else {
            "https"
        };
        // Registry names come from validated references or `login`
        // arguments; an unparsable one gets a URL that fails to connect
        // with an error naming the host.
        let base = Url::parse(&format!("{scheme}://{host}"))
            .unwrap_or_else(|_| Url::parse("https://invalid.invalid").expect("static URL"));
        Endpoint {
            base,
            host,
            mirror: false,
        }
    }

    /// Endpoints to pull from, in order: mirrors, then the origin.
    pub fn pull_endpoints(&self, reference: &Reference) -> Vec<Endpoint> {
        let mirrors = self
            .registry
            .get(reference.registry())
            .map(|h| h.mirrors.as_slice())
            .unwrap_or_default();
        let mut v: Vec<Endpoint> = mirrors
            .iter()
            .filter_map(|m| {
                let mut base = parse_base(m).ok()?;
                let host = host_port(&base);
                // A mirror written without a scheme follows the host's
                // insecure setting, like an origin.
                if !has_scheme_prefix(m) && self.insecure(&host) {
                    base.set_scheme("http").ok()?;
                }
                Some(Endpoint {
                    base,
                    host,
                    mirror: true,
                })
            })
            .collect();
        v.push(self.origin(reference));
        v
    }
}

fn has_scheme_prefix(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn host_port(u: &Url) -> String {
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// Parses a mirror given as `scheme://host[:port]` or `host[:port]`.
fn parse_base(s: &str) -> Result<Url> {
    let with_scheme = if has_scheme_prefix(s) {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    let u = Url::parse(&with_scheme).with_context(|| format!("invalid mirror URL {s:?}"))?;
    if u.host_str().is_none() {
        bail!("mirror URL {s:?} has no host");
    }
    if u.path() != "/" && !u.path().is_empty() {
        bail!("mirror URL {s:?} must not have a path (the /v2/ API is appended)");
    }
    if u.query().is_some() || !u.username().is_empty() {
        bail!("mirror URL {s:?} must be scheme://host[:port] only");
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_then_origin() {
        let cfg = RegistriesConfig::parse(
            r#"
[registry."docker.io"]
mirrors = ["http://127.0.0.1:5000", "mirror.example.com", "https://localhost:6000", "localhost:6001"]
[registry."reg.example.com:8443"]
insecure = true
[registry."localhost:7000"]
insecure = false
"#,
            Path::new("t.toml"),
        )
        .unwrap();
        let r = Reference::parse("ubuntu:16.04").unwrap();
        let eps: Vec<String> = cfg
            .pull_endpoints(&r)
            .iter()
            .map(|e| e.base.to_string())
            .collect();
        assert_eq!(
            eps,
            [
                "http://127.0.0.1:5000/",
                "https://mirror.example.com/",
                "https://localhost:6000/",
                "http://localhost:6001/",
                "https://registry-1.docker.io/"
            ]
        );
        assert!(cfg.pull_endpoints(&r)[0].mirror);
        assert_eq!(cfg.pull_endpoints(&r)[0].host, "127.0.0.1:5000");
        let r = Reference::parse("reg.example.com:8443/a").unwrap();
        assert_eq!(cfg.origin(&r).base.as_str(), "http://reg.example.com:8443/");
        let r = Reference::parse("127.0.0.1:5000/a").unwrap();
        assert_eq!(cfg.origin(&r).base.as_str(), "http://127.0.0.1:5000/");
        let r = Reference::parse("localhost:7000/a").unwrap();
        assert_eq!(cfg.origin(&r).base.as_str(), "https://localhost:7000/");
        let r = Reference::parse("quay.io/a").unwrap();
        assert_eq!(cfg.pull_endpoints(&r).len(), 1);
    }

    #[test]
    fn rejects_bad_config() {
        let p = Path::new("t.toml");
        assert!(
            RegistriesConfig::parse("[registry.\"x\"]\nmirrors = [\"http://h/path\"]", p).is_err()
        );
        assert!(RegistriesConfig::parse("[registry.\"x\"]\nmirror = []", p).is_err());
        let e = RegistriesConfig::parse("[registry", p).unwrap_err();
        assert!(format!("{e:#}").contains("t.toml"));
        assert!(RegistriesConfig::load(Some(Path::new("/nonexistent/x.toml"))).is_err());
    }
}
