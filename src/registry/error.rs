//! Registry errors callers can match on; every message names what was
//! being fetched or pushed and what to do.

use std::fmt;

/// The kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401: credentials missing or wrong.
    Unauthorized,
    /// 403: authenticated but not allowed.
    Denied,
    /// 404 / MANIFEST_UNKNOWN / BLOB_UNKNOWN.
    NotFound,
    /// Any other unexpected HTTP status (after retries for 5xx/429).
    Status(u16),
    /// Connection, TLS, timeout or body errors (after retries).
    Network,
    /// Content did not match its digest or size, or was malformed.
    BadContent,
    /// The docker config or a credential helper failed.
    Credentials,
}

/// A failed registry operation.
#[derive(Debug)]
pub struct RegistryError {
    /// What failed.
    pub kind: ErrorKind,
    /// What was being done, e.g. `pulling 127.0.0.1:5000/a:1`.
    pub what: String,
    /// The URL or host involved.
    pub url: String,
    /// The registry's own message or the underlying error.
    pub detail: String,
}

impl RegistryError {
    /// Builds an error.
    pub fn new(
        kind: ErrorKind,
        what: impl Into<String>,
        url: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        RegistryError {
            kind,
            what: what.into(),
            url: url.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, url) = (&self.what, &self.url);
        let detail = if self.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", self.detail)
        };
        match self.kind {
            ErrorKind::Unauthorized => write!(
                f,
                "{what}: authentication required (HTTP 401 from {url}){detail}; run `builder login` for this registry or check the credentials in the docker config"
            ),
            ErrorKind::Denied => write!(
                f,
                "{what}: access denied (HTTP 403 from {url}){detail}; the credentials lack permission for this repository"
            ),
            ErrorKind::NotFound => write!(f, "{what}: not found (HTTP 404 from {url}){detail}; check the name and tag"),
            ErrorKind::Status(s) => write!(f, "{what}: registry answered HTTP {s} at {url}{detail}"),
            ErrorKind::Network => write!(f, "{what}: cannot talk to {url}{detail}"),
            ErrorKind::BadContent => write!(f, "{what}: bad content from {url}{detail}"),
            ErrorKind::Credentials => write!(f, "{what}: cannot get the credentials for {url}{detail}"),
        }
    }
}

impl std::error::Error for RegistryError {}

/// Pulls the first `message` out of a registry's JSON error body, or a
/// short excerpt of a non-JSON body.
pub(crate) fn registry_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(e) = v.get("errors").and_then(|e| e.get(0)) {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or_default();
            let msg = e
                .get("message")
                .and_then(|c| c.as_str())
                .unwrap_or_default();
            return format!("{code} {msg}").trim().to_string();
        }
    }
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s.to_string()
    }
}
