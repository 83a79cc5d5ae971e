//! The HTTP side of the distribution API on reqwest: authentication
//! (anonymous, basic, the bearer token flow with or without an identity
//! token), retries with backoff, and the handful of calls pull and push
//! need. oci-client's `Client` hides the things we must control here
//! (content type of a manifest reply, per-request retries, mirror
//! endpoints with their own scheme, streaming uploads from store files), so
//! this module talks to the registry directly.
//!
//! Submodules: `body` (bounded reply reading, idle timeout, error replies),
//! `token` (credentials, challenges, bearer tokens, login), `blob` (blob
//! GET/HEAD/mount/upload), `manifest` (manifest GET/PUT) and `transfer`
//! (byte progress of blob transfers).

mod blob;
mod body;
mod manifest;
mod token;
mod transfer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use tokio::sync::Mutex;

use super::auth::Challenge;
use super::config::{Endpoint, RegistriesConfig};
use super::credentials::{Credential, DockerConfig};
use super::error::{ErrorKind, RegistryError};

pub use blob::file_body;
pub(crate) use body::{host_of, redact_url, timeout_detail};
pub use body::{idle_timeout, read_capped, status_error, IDLE_TIMEOUT_ENV, MAX_SMALL_BODY};
pub use manifest::MANIFEST_ACCEPT;
pub use transfer::{scoped, OnTransfer, Transfer, TransferUpdate};

/// How often and how patiently to retry connection errors, 5xx and 429.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay: Duration,
    /// Upper bound for one delay (also caps `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        self.base_delay
            .saturating_mul(1u32 << n.min(16))
            .min(self.max_delay)
    }
}

/// Progress and warning messages (mirror fallbacks, retries) for the UI.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Default)]
struct HostState {
    challenge: Option<Challenge>,
    credential: Option<Option<Credential>>,
    tokens: HashMap<String, String>,
}

/// A repository on an endpoint: where blob and manifest calls go.
#[derive(Debug, Clone, Copy)]
pub struct Repo<'a> {
    /// The mirror or origin to talk to.
    pub ep: &'a Endpoint,
    /// The registry name from the reference (`docker.io`), for mirrors' `ns`.
    pub registry: &'a str,
    /// The repository path (`library/ubuntu`).
    pub name: &'a str,
}

/// A distribution-API client shared by pulls and pushes of one process.
pub struct RegistryClient {
    http: reqwest::Client,
    config: RegistriesConfig,
    creds: DockerConfig,
    retry: RetryPolicy,
    notify: Option<Notify>,
    transfers: Option<Arc<transfer::Tracker>>,
    state: Mutex<HashMap<String, HostState>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("config", &self.config)
            .field("creds", &self.creds)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A connection that could not be made (refused, no route, unknown host),
/// as opposed to one that timed out or was cut.
fn unreachable(e: &reqwest::Error) -> bool {
    e.is_connect() && !e.is_timeout()
}

fn is_retryable_status(s: StatusCode) -> bool {
    s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::REQUEST_TIMEOUT
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(RETRY_AFTER)?.to_str().ok()?;
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    httpdate::parse_http_date(v)
        .ok()?
        .duration_since(std::time::SystemTime::now())
        .ok()
}

/// Whether the system's CA bundle (or `SSL_CERT_FILE`/`SSL_CERT_DIR`) holds
/// any root certificate.
fn system_has_roots() -> bool {
    !rustls_native_certs::load_native_certs().certs.is_empty()
}

impl RegistryClient {
    /// A client using `config` for endpoints and `creds` for credentials.
    pub fn new(config: RegistriesConfig, creds: DockerConfig) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("builder/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            // Per read, so a slow transfer that keeps moving is never cut.
            .read_timeout(idle_timeout());
        // Private registries' CAs (`ca =`, certs.d), besides the system's.
        let mut extra = Vec::new();
        for path in config.all_ca_files() {
            let pem = std::fs::read(&path)
                .map_err(|e| anyhow::anyhow!("reading the registry CA {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the registry CA {} holds no PEM certificate",
                        path.display()
                    )
                })?;
            extra.extend(certs);
        }
        if !system_has_roots() {
            // The platform verifier refuses to start without roots, which
            // would stop even plain-http registries; https gets Mozilla's
            // roots, bundled, instead.
            let bundled = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .filter_map(|c| reqwest::Certificate::from_der(c).ok());
            builder = builder.tls_certs_only(bundled.chain(extra));
        } else {
            for c in extra {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {e:#}"))?;
        Ok(RegistryClient {
            http,
            config,
            creds,
            retry: RetryPolicy::default(),
            notify: None,
            transfers: None,
            state: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets a callback for warnings and progress notes.
    pub fn with_notify(mut self, notify: Notify) -> Self {
        self.notify = Some(notify);
        self
    }

    /// The registries config in use.
    pub fn config(&self) -> &RegistriesConfig {
        &self.config
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    pub(crate) fn note(&self, msg: &str) {
        if let Some(n) = &self.notify {
            n(msg);
        }
    }

    /// The URL of `/v2/<name>/<path>` for repository `target`.
    fn repo_url(&self, target: &Repo<'_>, path: &str) -> Url {
        self.v2_url(
            target.ep,
            target.registry,
            &format!("{}/{path}", target.name),
        )
    }

    /// The token scope for pulling from `repo`.
    fn pull_scopes(repo: &str) -> Vec<String> {
        vec![format!("repository:{repo}:pull")]
    }

    /// The URL of `/v2/<path>` on `ep`; mirrors also get `ns=<registry>`.
    pub fn v2_url(&self, ep: &Endpoint, registry: &str, path: &str) -> Url {
        let mut u = ep.base.clone();
        u.set_path(&format!("/v2/{path}"));
        if ep.mirror {
            u.query_pairs_mut().append_pair("ns", registry);
        }
        u
    }

    /// Sends a request built by `build`, retrying connection errors, 5xx
    /// and 429 with backoff when `retry` is set.
    async fn send_raw(
        &self,
        what: &str,
        retry: bool,
        build: &(dyn Fn() -> Result<RequestBuilder, RegistryError> + Send + Sync),
    ) -> Result<Response, RegistryError> {
        let attempts = if retry { self.retry.attempts.max(1) } else { 1 };
        let mut n = 0;
        let mut timeouts = 0;
        loop {
            let result = build()?.send().await;
            n += 1;
            if result.as_ref().is_err_and(reqwest::Error::is_timeout) {
                timeouts += 1;
            }
            let delay = match result {
                Ok(resp) if is_retryable_status(resp.status()) && n < attempts => {
                    let d = retry_after(resp.headers()).unwrap_or_else(|| self.retry.delay(n - 1));
                    self.note(&format!(
                        "{what}: HTTP {} from {}, retrying in {:?}",
                        resp.status().as_u16(),
                        redact_url(resp.url().as_str()),
                        d
                    ));
                    d.min(self.retry.max_delay.max(Duration::from_secs(1)))
                }
                Ok(resp) => return Ok(resp),
                // A registry that stalled twice will not answer a third time
                // (the whole request stays within about two idle timeouts); a
                // refused connection or an unknown host will not change in
                // seconds: fail at once. Cut connections are retried.
                Err(e) if n < attempts && !e.is_builder() && timeouts < 2 && !unreachable(&e) => {
                    let d = self.retry.delay(n - 1);
                    self.note(&format!("{what}: {e}, retrying in {d:?}"));
                    d
                }
                Err(e) if e.is_timeout() => {
                    let url = e.url().map(|u| redact_url(u.as_str())).unwrap_or_default();
                    let detail = timeout_detail(&url);
                    return Err(RegistryError::new(ErrorKind::Network, what, url, detail));
                }
                Err(e) => {
                    let url = e.url().map(|u| redact_url(u.as_str())).unwrap_or_default();
                    let mut detail = e.to_string();
                    let mut last = None;
                    let mut src = std::error::Error::source(&e);
                    while let Some(s) = src {
                        detail.push_str(&format!(": {s}"));
                        last = Some(s.to_string());
                        src = s.source();
                    }
                    if unreachable(&e) {
                        // The cause alone ("Connection refused", "failed
                        // to lookup address information: …"), not reqwest's
                        // layers around it.
                        detail = format!("unreachable: {}", last.unwrap_or(detail));
                    }
                    return Err(RegistryError::new(ErrorKind::Network, what, url, detail));
                }
            };
            tokio::time::sleep(delay).await;
        }
    }
    /// Sends an authenticated request to `ep`. `build` gets the HTTP client
    /// and is called again for each retry (so it must produce a fresh
    /// body). A 401 refreshes the token once.
    pub async fn send(
        &self,
        ep: &Endpoint,
        scopes: &[String],
        what: &str,
        retry: bool,
        build: impl Fn(&reqwest::Client) -> Result<RequestBuilder, RegistryError> + Send + Sync,
    ) -> Result<Response, RegistryError> {
        let mut refreshed = false;
        loop {
            let auth = self.authorization(ep, scopes, what).await?;
            let http = self.http.clone();
            let resp = self
                .send_raw(what, retry, &|| {
                    let mut rb = build(&http)?;
                    if let Some(a) = &auth {
                        rb = rb.header(AUTHORIZATION, a);
                    }
                    Ok(rb)
                })
                .await?;
            if resp.status() == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.forget_auth(ep, &resp).await;
                continue;
            }
            return Ok(resp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let r = RetryPolicy::default();
        assert_eq!(r.delay(0), Duration::from_millis(250));
        assert_eq!(r.delay(1), Duration::from_millis(500));
        assert_eq!(r.delay(10), Duration::from_secs(8));
        assert_eq!(r.delay(100), Duration::from_secs(8));
    }

    use crate::registry::error::registry_message;

    #[test]
    fn registry_messages() {
        assert_eq!(
            registry_message(
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
            ),
            "MANIFEST_UNKNOWN manifest unknown"
        );
        assert_eq!(registry_message(b"oops"), "oops");
        assert_eq!(redact_url("http://h/x?sig=secret"), "http://h/x");
    }
}
