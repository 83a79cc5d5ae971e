//! Registry credentials, read and written the way the docker CLI does:
//! `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` with `auths`
//! (`auth` = base64 `user:pass`, or `username`/`password`, or
//! `identitytoken`), `credHelpers` (per host) and `credsStore` (default
//! helper), helpers being `docker-credential-NAME get|store|erase`.
//! Docker Hub's key is `https://index.docker.io/v1/`.
//!
//! Secrets never appear in `Debug` output or error messages.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::reference::{DOCKER_HUB, DOCKER_HUB_API_HOST, DOCKER_HUB_AUTH_KEY};
use crate::store::fsutil;

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Username and password (HTTP basic, or basic on the token endpoint).
    Basic {
        /// User name.
        username: String,
        /// Password or access token.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token endpoint.
    IdentityToken {
        /// User name, if known.
        username: String,
        /// The refresh token.
        token: String,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            Credential::IdentityToken { username, .. } => {
                write!(
                    f,
                    "IdentityToken {{ username: {username:?}, token: <redacted> }}"
                )
            }
        }
    }
}

/// The docker CLI config file.
#[derive(Clone)]
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field(
                "hosts",
                &self
                    .doc
                    .get("auths")
                    .and_then(Value::as_object)
                    .map(|a| a.keys().cloned().collect::<Vec<_>>()),
            )
            .finish_non_exhaustive()
    }
}

/// The `config.json` key docker uses for a registry name.
pub fn auth_key(registry: &str) -> String {
    if registry == DOCKER_HUB || registry == "index.docker.io" || registry == DOCKER_HUB_API_HOST {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        registry.to_string()
    }
}

/// Reduces a config key (`https://host/v1/`, `host`) to `host[:port]`, as
/// docker's `ConvertToHostname` does.
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// Normalises a `login`/`logout` argument (`https://index.docker.io/v1/`,
/// `host:5000`, `http://host`) to a registry name (`docker.io`, `host:5000`).
pub fn registry_from_arg(arg: &str) -> String {
    let h = key_host(arg.trim());
    if h.is_empty() || h == "index.docker.io" || h == DOCKER_HUB_API_HOST {
        DOCKER_HUB.to_string()
    } else {
        h.to_string()
    }
}

fn same_registry(a: &str, b: &str) -> bool {
    let norm = |h: &str| -> String {
        let h = key_host(h);
        if h == "index.docker.io" || h == DOCKER_HUB_API_HOST || h == DOCKER_HUB {
            DOCKER_HUB.to_string()
        } else {
            h.to_string()
        }
    };
    norm(a) == norm(b)
}

impl DockerConfig {
    /// The config path: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_path() -> PathBuf {
        if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return PathBuf::from(d).join("config.json");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
        PathBuf::from(home).join(".docker/config.json")
    }

    /// Loads the config at the default path (empty if it does not exist).
    pub fn load_default() -> Result<Self> {
        Self::load(&Self::default_path())
    }

    /// Loads the config at `path` (empty if it does not exist).
    pub fn load(path: &Path) -> Result<Self> {
        let doc = match std::fs::read(path) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(b) => match serde_json::from_slice::<Value>(&b)
                .with_context(|| format!("parsing {}", path.display()))?
            {
                Value::Object(m) => m,
                _ => bail!("{} is not a JSON object", path.display()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(DockerConfig {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// Where this config lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn helper_for(&self, registry: &str) -> Option<String> {
        let from_helpers = self
            .doc
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|h| h.iter().find(|(k, _)| same_registry(k, registry)))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string);
        from_helpers.or_else(|| {
            self.doc
                .get("credsStore")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
    }

    fn file_entry(&self, registry: &str) -> Result<Option<Credential>> {
        let Some(auths) = self.doc.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        // An exact key first (docker does), then any key naming the same host.
        let key = auth_key(registry);
        let entry = auths.get(&key).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| same_registry(k, registry))
                .map(|(_, v)| v)
        });
        let Some(e) = entry else { return Ok(None) };
        let s = |f: &str| {
            e.get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (mut username, mut password) = (s("username"), s("password"));
        let auth = s("auth");
        if !auth.is_empty() {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .with_context(|| {
                    format!(
                        "{}: the auth entry for {registry} is not valid base64",
                        self.path.display()
                    )
                })?;
            let text = String::from_utf8(raw).with_context(|| {
                format!(
                    "{}: the auth entry for {registry} is not UTF-8",
                    self.path.display()
                )
            })?;
            let (u, p) = text.split_once(':').with_context(|| {
                format!(
                    "{}: the auth entry for {registry} is not user:password",
                    self.path.display()
                )
            })?;
            username = u.to_string();
            password = p.trim_end_matches('\n').to_string();
        }
        let identity = s("identitytoken");
        if !identity.is_empty() {
            return Ok(Some(Credential::IdentityToken {
                username,
                token: identity,
            }));
        }
        if username.is_empty() && password.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credential::Basic { username, password }))
    }

    /// The credential for `registry` (a reference's registry name or API
    /// host): the host's helper, else the default store, else `auths`.
    pub fn credential(&self, registry: &str) -> Result<Option<Credential>> {
        if let Some(helper) = self.helper_for(registry) {
            if let Some(c) = helper_get(&helper_program(&helper), &auth_key(registry))? {
                return Ok(Some(c));
            }
        }
        self.file_entry(registry)
    }

    /// Saves a credential for `registry` as `docker login` does: in the
    /// helper if one is configured, else base64 in `auths`.
    pub fn store(&mut self, registry: &str, cred: &Credential) -> Result<()> {
        let key = auth_key(registry);
        if let Some(helper) = self.helper_for(registry) {
            let (user, secret) = match cred {
                Credential::Basic { username, password } => (username.clone(), password.clone()),
                Credential::IdentityToken { token, .. } => ("<token>".to_string(), token.clone()),
            };
            let input = json!({"ServerURL": key, "Username": user, "Secret": secret});
            run_helper(&helper_program(&helper), "store", &input.to_string())?;
            // docker keeps an empty entry so `docker info`/logout know the host.
            self.auths_mut().insert(key, json!({}));
        } else {
            let entry = match cred {
                Credential::Basic { username, password } => json!({
                    "auth": base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
                }),
                Credential::IdentityToken { username, token } => json!({
                    "auth": base64::engine::general_purpose::STANDARD.encode(format!("{username}:")),
                    "identitytoken": token,
                }),
            };
            self.auths_mut().insert(key, entry);
        }
        self.save()
    }

    /// Removes the credential for `registry`; returns whether one existed.
    pub fn remove(&mut self, registry: &str) -> Result<bool> {
        let key = auth_key(registry);
        let mut existed = false;
        if let Some(helper) = self.helper_for(registry) {
            existed |= run_helper(&helper_program(&helper), "erase", &key).is_ok();
        }
        let auths = self.auths_mut();
        let keys: Vec<String> = auths
            .keys()
            .filter(|k| same_registry(k, registry))
            .cloned()
            .collect();
        for k in keys {
            auths.remove(&k);
            existed = true;
        }
        if existed {
            self.save()?;
        }
        Ok(existed)
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let v = self.doc.entry("auths").or_insert_with(|| json!({}));
        if !v.is_object() {
            *v = json!({});
        }
        v.as_object_mut().expect("just made an object")
    }

    /// Writes the config back (temp file, fsync, rename; mode 0600).
    pub fn save(&self) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(&Value::Object(self.doc.clone()))?;
        bytes.push(b'\n');
        fsutil::write_atomic(&self.path, &bytes, 0o600)
    }
}

fn helper_program(name: &str) -> String {
    format!("docker-credential-{name}")
}

fn run_helper(prog: &str, op: &str, input: &str) -> Result<String> {
    let mut child = Command::new(prog)
        .arg(op)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("running credential helper {prog} (is it installed and on PATH?)")
        })?;
    child
        .stdin
        .take()
        .context("helper stdin")?
        .write_all(input.as_bytes())
        .with_context(|| format!("writing to {prog}"))?;
    let out = child
        .wait_with_output()
        .with_context(|| format!("waiting for {prog}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        // Helpers print their error on stdout; it never contains the secret.
        let msg = if stdout.is_empty() {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        } else {
            stdout
        };
        bail!("{prog} {op} failed: {msg}");
    }
    Ok(stdout)
}

fn helper_get(prog: &str, server: &str) -> Result<Option<Credential>> {
    let out = match run_helper(prog, "get", server) {
        Ok(o) => o,
        Err(e) if format!("{e:#}").contains("credentials not found") => return Ok(None),
        Err(e) => return Err(e),
    };
    let v: Value =
        serde_json::from_str(&out).with_context(|| format!("{prog} get returned invalid JSON"))?;
    let user = v
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let secret = v
        .get("Secret")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if user == "<token>" {
        Credential::IdentityToken {
            username: String::new(),
            token: secret,
        }
    } else {
        Credential::Basic {
            username: user,
            password: secret,
        }
    }))
}

#[cfg(test)]
mod tests;
