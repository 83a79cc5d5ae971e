//! Reading replies: the idle timeout per read, bodies capped whatever their
//! headers say, and error replies turned into `RegistryError`s.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Response, StatusCode, Url};

use crate::registry::error::{registry_message, ErrorKind, RegistryError};

/// The most bytes read from any manifest, config, token or error reply,
/// whatever its headers say (a reply without Content-Length included).
pub const MAX_SMALL_BODY: usize = 8 << 20;

/// Environment variable: seconds without a byte from a registry before a
/// request fails (default 30).
pub const IDLE_TIMEOUT_ENV: &str = "BUILDER_REGISTRY_IDLE_TIMEOUT";

/// The idle timeout: `BUILDER_REGISTRY_IDLE_TIMEOUT` seconds (a positive
/// number; fractions allowed), else 30 s.
pub fn idle_timeout() -> Duration {
    std::env::var(IDLE_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(30), Duration::from_secs_f64)
}

/// `host[:port]` of `url` (the URL itself if it does not parse).
pub(crate) fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
        })
        .unwrap_or_else(|| url.to_string())
}

/// "timed out after N s waiting for HOST" for a request that timed out.
pub(crate) fn timeout_detail(url: &str) -> String {
    format!(
        "timed out after {} s waiting for {} (set {IDLE_TIMEOUT_ENV} to wait longer)",
        idle_timeout().as_secs_f64(),
        host_of(url)
    )
}

/// Reads a whole reply body of at most `limit` bytes, chunk by chunk (so a
/// body that never ends is cut off at the limit, never buffered whole).
pub async fn read_capped(
    mut resp: Response,
    limit: usize,
    what: &str,
) -> Result<Bytes, RegistryError> {
    let url = redact_url(resp.url().as_str());
    let too_large = || {
        RegistryError::new(
            ErrorKind::BadContent,
            what,
            url.clone(),
            format!(
                "reply larger than {} MiB, the limit for manifests, configs and tokens",
                limit >> 20
            ),
        )
    };
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() + c.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => return Ok(Bytes::from(body)),
            Err(e) if e.is_timeout() => {
                return Err(RegistryError::new(
                    ErrorKind::Network,
                    what,
                    url.clone(),
                    timeout_detail(&url),
                ))
            }
            Err(e) => {
                return Err(RegistryError::new(
                    ErrorKind::Network,
                    what,
                    url,
                    e.to_string(),
                ))
            }
        }
    }
}

/// Maps a non-success response to an error, reading the registry's message.
pub async fn status_error(resp: Response, what: &str) -> RegistryError {
    let status = resp.status();
    let url = resp.url().to_string();
    let body = read_capped(resp, 64 << 10, what).await.unwrap_or_default();
    let msg = registry_message(&body);
    let kind = match status {
        StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
        StatusCode::FORBIDDEN => ErrorKind::Denied,
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        s => ErrorKind::Status(s.as_u16()),
    };
    RegistryError::new(kind, what, redact_url(&url), msg)
}

/// Drops query parameters (signed URLs carry secrets) from URLs in messages.
pub(crate) fn redact_url(u: &str) -> String {
    u.split('?').next().unwrap_or(u).to_string()
}
