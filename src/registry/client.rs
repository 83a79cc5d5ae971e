//! The HTTP side of the distribution API on reqwest: authentication
//! (anonymous, basic, the bearer token flow with or without an identity
//! token), retries with backoff, and the handful of calls pull and push
//! need. oci-client's `Client` hides the things we must control here
//! (content type of a manifest reply, per-request retries, mirror
//! endpoints with their own scheme, streaming uploads from store files), so
//! this module talks to the registry directly.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{
    HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use tokio::sync::Mutex;

use super::auth::{parse_challenge, Challenge, TokenReply};
use super::config::{Endpoint, RegistriesConfig};
use super::credentials::{Credential, DockerConfig};
use super::error::{registry_message, ErrorKind, RegistryError};

/// Every manifest media type we accept, most specific first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

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

/// "timed out after N s waiting for HOST" for a request that timed out.
pub(crate) fn timeout_detail(url: &str) -> String {
    let host = Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
        })
        .unwrap_or_else(|| url.to_string());
    format!(
        "timed out after {} s waiting for {host} (set {IDLE_TIMEOUT_ENV} to wait longer)",
        idle_timeout().as_secs_f64()
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
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(RegistryError::new(
            ErrorKind::BadContent,
            what,
            url,
            format!(
                "reply larger than {} MiB, the limit for manifests, configs and tokens",
                limit >> 20
            ),
        ));
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() + c.len() > limit {
                    return Err(RegistryError::new(
                        ErrorKind::BadContent,
                        what,
                        url,
                        format!(
                            "reply larger than {} MiB, the limit for manifests, configs and tokens",
                            limit >> 20
                        ),
                    ));
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

/// A body streamed from a file in 256 KiB chunks: memory stays bounded
/// whatever the blob size.
pub fn file_body(path: &Path) -> std::io::Result<reqwest::Body> {
    use tokio::io::AsyncReadExt;
    let f = tokio::fs::File::from_std(std::fs::File::open(path)?);
    let stream = futures::stream::try_unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), f)))
    });
    Ok(reqwest::Body::wrap_stream(stream))
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

/// Whether the system's CA bundle (or `SSL_CERT_FILE`/`SSL_CERT_DIR`) holds
/// any root certificate.
fn system_has_roots() -> bool {
    !rustls_native_certs::load_native_certs().certs.is_empty()
}

/// Drops query parameters (signed URLs carry secrets) from URLs in messages.
fn redact_url(u: &str) -> String {
    u.split('?').next().unwrap_or(u).to_string()
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

    /// The URL of `/v2/<path>` on `ep`; mirrors also get `ns=<registry>`.
    pub fn v2_url(&self, ep: &Endpoint, registry: &str, path: &str) -> Url {
        let mut u = ep.base.clone();
        u.set_path(&format!("/v2/{path}"));
        if ep.mirror {
            u.query_pairs_mut().append_pair("ns", registry);
        }
        u
    }

    async fn credential(&self, ep: &Endpoint) -> Result<Option<Credential>, RegistryError> {
        {
            let st = self.state.lock().await;
            if let Some(Some(c)) = st.get(ep.base.as_str()).map(|s| s.credential.clone()) {
                return Ok(c);
            }
        }
        let creds = self.creds.clone();
        let host = ep.host.clone();
        let c = tokio::task::spawn_blocking(move || creds.credential(&host))
            .await
            .map_err(|e| {
                RegistryError::new(
                    ErrorKind::Credentials,
                    "reading credentials",
                    &ep.host,
                    e.to_string(),
                )
            })?
            .map_err(|e| {
                RegistryError::new(
                    ErrorKind::Credentials,
                    "reading credentials",
                    &ep.host,
                    format!("{e:#}"),
                )
            })?;
        self.state
            .lock()
            .await
            .entry(ep.base.to_string())
            .or_default()
            .credential = Some(c.clone());
        Ok(c)
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

    /// Learns how `ep` wants to be authenticated (GET /v2/).
    async fn ping(&self, ep: &Endpoint, what: &str) -> Result<Challenge, RegistryError> {
        let mut url = ep.base.clone();
        url.set_path("/v2/");
        let http = self.http.clone();
        let resp = self
            .send_raw(what, true, &|| Ok(http.get(url.clone())))
            .await?;
        let challenge = match resp.status() {
            StatusCode::UNAUTHORIZED => resp
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(parse_challenge)
                .next()
                .ok_or_else(|| {
                    RegistryError::new(
                        ErrorKind::Unauthorized,
                        what,
                        url.as_str(),
                        "no usable WWW-Authenticate challenge",
                    )
                })?,
            // Some registries answer 404 on /v2/ and still serve the API.
            s if s.is_success() || s == StatusCode::NOT_FOUND => Challenge::Anonymous,
            _ => return Err(status_error(resp, what).await),
        };
        Ok(challenge)
    }

    async fn fetch_token(
        &self,
        ep: &Endpoint,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        cred: Option<&Credential>,
        what: &str,
    ) -> Result<String, RegistryError> {
        let mut url = Url::parse(realm).map_err(|e| {
            RegistryError::new(
                ErrorKind::BadContent,
                what,
                &ep.host,
                format!("invalid token realm {realm:?}: {e}"),
            )
        })?;
        let http = self.http.clone();
        let resp = match cred {
            Some(Credential::IdentityToken { token, .. }) => {
                // OAuth2 refresh-token grant, as docker does for identity tokens.
                let mut form = Url::parse("http://x/").expect("static URL");
                {
                    let mut q = form.query_pairs_mut();
                    q.append_pair("grant_type", "refresh_token");
                    q.append_pair("refresh_token", token);
                    q.append_pair("client_id", "builder");
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    if !scopes.is_empty() {
                        q.append_pair("scope", &scopes.join(" "));
                    }
                }
                let body = form.query().unwrap_or_default().to_string();
                self.send_raw(what, true, &|| {
                    Ok(http
                        .post(url.clone())
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body.clone()))
                })
                .await?
            }
            _ => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in scopes {
                        q.append_pair("scope", s);
                    }
                    if let Some(Credential::Basic { username, .. }) = cred {
                        q.append_pair("account", username);
                    }
                }
                self.send_raw(what, true, &|| {
                    let mut rb = http.get(url.clone());
                    if let Some(Credential::Basic { username, password }) = cred {
                        rb = rb.basic_auth(username, Some(password));
                    }
                    Ok(rb)
                })
                .await?
            }
        };
        if !resp.status().is_success() {
            return Err(status_error(resp, what).await);
        }
        let body = read_capped(resp, MAX_SMALL_BODY, what).await?;
        serde_json::from_slice::<TokenReply>(&body)
            .ok()
            .and_then(TokenReply::into_token)
            .ok_or_else(|| {
                RegistryError::new(
                    ErrorKind::BadContent,
                    what,
                    redact_url(realm),
                    "token server reply has no token",
                )
            })
    }

    /// The Authorization header value for `scopes` on `ep`, if any.
    async fn authorization(
        &self,
        ep: &Endpoint,
        scopes: &[String],
        what: &str,
    ) -> Result<Option<String>, RegistryError> {
        let key = ep.base.to_string();
        let scope_key = scopes.join(" ");
        let (challenge, token) = {
            let st = self.state.lock().await;
            let h = st.get(&key);
            (
                h.and_then(|h| h.challenge.clone()),
                h.and_then(|h| h.tokens.get(&scope_key).cloned()),
            )
        };
        if let Some(t) = token {
            return Ok(Some(format!("Bearer {t}")));
        }
        let challenge = match challenge {
            Some(c) => c,
            None => {
                let c = self.ping(ep, what).await?;
                self.state
                    .lock()
                    .await
                    .entry(key.clone())
                    .or_default()
                    .challenge = Some(c.clone());
                c
            }
        };
        let cred = self.credential(ep).await?;
        match challenge {
            Challenge::Anonymous => Ok(None),
            Challenge::Basic => Ok(match cred {
                Some(Credential::Basic { username, password }) => Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}"))
                )),
                _ => None,
            }),
            Challenge::Bearer { realm, service } => {
                let t = self
                    .fetch_token(ep, &realm, service.as_deref(), scopes, cred.as_ref(), what)
                    .await?;
                self.state
                    .lock()
                    .await
                    .entry(key)
                    .or_default()
                    .tokens
                    .insert(scope_key, t.clone());
                Ok(Some(format!("Bearer {t}")))
            }
        }
    }

    async fn forget_auth(&self, ep: &Endpoint, resp: &Response) {
        let mut st = self.state.lock().await;
        let h = st.entry(ep.base.to_string()).or_default();
        h.tokens.clear();
        h.challenge = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(parse_challenge)
            .next();
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

    /// Checks that `cred` is accepted by the registry at `ep` (for `login`).
    pub async fn verify_login(
        &self,
        ep: &Endpoint,
        cred: &Credential,
    ) -> Result<(), RegistryError> {
        let what = format!("logging in to {}", ep.host);
        match self.ping(ep, &what).await? {
            Challenge::Anonymous => Ok(()),
            Challenge::Bearer { realm, service } => self
                .fetch_token(ep, &realm, service.as_deref(), &[], Some(cred), &what)
                .await
                .map(|_| ()),
            Challenge::Basic => {
                let Credential::Basic { username, password } = cred else {
                    return Err(RegistryError::new(
                        ErrorKind::Unauthorized,
                        what,
                        &ep.host,
                        "an identity token cannot be used with basic auth",
                    ));
                };
                let mut url = ep.base.clone();
                url.set_path("/v2/");
                let http = self.http.clone();
                let resp = self
                    .send_raw(&what, true, &|| {
                        Ok(http.get(url.clone()).basic_auth(username, Some(password)))
                    })
                    .await?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(status_error(resp, &what).await)
                }
            }
        }
    }

    /// GET a manifest: returns body, Content-Type and Docker-Content-Digest.
    pub async fn get_manifest(
        &self,
        target: &Repo<'_>,
        reference: &str,
        what: &str,
    ) -> Result<(Bytes, Option<String>, Option<String>), RegistryError> {
        let Repo {
            ep,
            registry,
            name: repo,
        } = *target;
        let url = self.v2_url(ep, registry, &format!("{repo}/manifests/{reference}"));
        let scopes = [format!("repository:{repo}:pull")];
        let resp = self
            .send(ep, &scopes, what, true, |h| {
                Ok(h.get(url.clone()).header(ACCEPT, MANIFEST_ACCEPT))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, what).await);
        }
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let ct = header(CONTENT_TYPE.as_str())
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_string());
        let dcd = header("docker-content-digest");
        // Manifests are small; cap what we accept so a hostile server
        // cannot make us buffer gigabytes.
        let body = read_capped(resp, MAX_SMALL_BODY, what).await?;
        Ok((body, ct, dcd))
    }

    /// GET a blob; the caller streams the body.
    pub async fn get_blob(
        &self,
        target: &Repo<'_>,
        digest: &str,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let Repo {
            ep,
            registry,
            name: repo,
        } = *target;
        let url = self.v2_url(ep, registry, &format!("{repo}/blobs/{digest}"));
        let scopes = [format!("repository:{repo}:pull")];
        let resp = self
            .send(ep, &scopes, what, true, |h| Ok(h.get(url.clone())))
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, what).await);
        }
        Ok(resp)
    }

    fn push_scopes(repo: &str) -> Vec<String> {
        vec![format!("repository:{repo}:pull,push")]
    }

    /// HEAD a blob in `repo`: whether the registry already has it.
    pub async fn blob_exists(
        &self,
        target: &Repo<'_>,
        digest: &str,
        what: &str,
    ) -> Result<bool, RegistryError> {
        let Repo {
            ep,
            registry,
            name: repo,
        } = *target;
        let url = self.v2_url(ep, registry, &format!("{repo}/blobs/{digest}"));
        let resp = self
            .send(ep, &Self::push_scopes(repo), what, true, |h| {
                Ok(h.head(url.clone()))
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(resp, what).await),
        }
    }

    /// Asks the registry to mount `digest` from `from_repo` into `repo`.
    /// Returns true if it did (201); false if it started an upload instead.
    pub async fn mount_blob(
        &self,
        target: &Repo<'_>,
        from_repo: &str,
        digest: &str,
        what: &str,
    ) -> Result<bool, RegistryError> {
        let Repo {
            ep,
            registry,
            name: repo,
        } = *target;
        let mut url = self.v2_url(ep, registry, &format!("{repo}/blobs/uploads/"));
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from_repo);
        let mut scopes = Self::push_scopes(repo);
        scopes.push(format!("repository:{from_repo}:pull"));
        let resp = self
            .send(ep, &scopes, what, true, |h| {
                Ok(h.post(url.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                // An upload session was opened instead; cancel it politely.
                if let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
                    if let Ok(u) = url.join(loc) {
                        let _ = self
                            .send(ep, &scopes, what, false, |h| Ok(h.delete(u.clone())))
                            .await;
                    }
                }
                Ok(false)
            }
            _ => Err(status_error(resp, what).await),
        }
    }

    /// Uploads the file at `path` as blob `digest` (POST, then one
    /// streamed PUT). The whole exchange is retried on connection errors
    /// and 5xx, since an upload session does not survive a failed PUT.
    pub async fn upload_blob(
        &self,
        target: &Repo<'_>,
        digest: &str,
        path: &Path,
        size: u64,
        what: &str,
    ) -> Result<(), RegistryError> {
        let Repo {
            ep,
            registry,
            name: repo,
        } = *target;
        let scopes = Self::push_scopes(repo);
        let start = self.v2_url(ep, registry, &format!("{repo}/blobs/uploads/"));
        let attempts = self.retry.attempts.max(1);
        let mut n = 0;
        loop {
            n += 1;
            let result: Result<(), RegistryError> = async {
                let resp = self
                    .send(ep, &scopes, what, true, |h| {
                        Ok(h.post(start.clone()).header(CONTENT_LENGTH, 0))
                    })
                    .await?;
                if resp.status() != StatusCode::ACCEPTED {
                    return Err(status_error(resp, what).await);
                }
                let loc = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        RegistryError::new(
                            ErrorKind::BadContent,
                            what,
                            start.as_str(),
                            "upload started without a Location header",
                        )
                    })?;
                let mut put = start.join(loc).map_err(|e| {
                    RegistryError::new(
                        ErrorKind::BadContent,
                        what,
                        start.as_str(),
                        format!("bad upload Location {loc:?}: {e}"),
                    )
                })?;
                put.query_pairs_mut().append_pair("digest", digest);
                let same_host = put.host_str() == ep.base.host_str()
                    && put.port_or_known_default() == ep.base.port_or_known_default();
                let body_err = |e: std::io::Error| {
                    RegistryError::new(
                        ErrorKind::BadContent,
                        what,
                        path.display().to_string(),
                        e.to_string(),
                    )
                };
                let resp = if same_host {
                    self.send(ep, &scopes, what, false, |h| {
                        Ok(h.request(Method::PUT, put.clone())
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, size)
                            .body(file_body(path).map_err(body_err)?))
                    })
                    .await?
                } else {
                    // Never send credentials to another host (e.g. a
                    // storage backend's signed URL).
                    let http = self.http.clone();
                    self.send_raw(what, false, &|| {
                        Ok(http
                            .request(Method::PUT, put.clone())
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, size)
                            .body(file_body(path).map_err(body_err)?))
                    })
                    .await?
                };
                if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
                    return Err(status_error(resp, what).await);
                }
                Ok(())
            }
            .await;
            match result {
                Err(e)
                    if n < attempts
                        && matches!(
                            e.kind,
                            ErrorKind::Network
                                | ErrorKind::Status(500..=599)
                                | ErrorKind::Status(429)
                        ) =>
                {
                    let d = self.retry.delay(n - 1);
                    self.note(&format!("{e}; retrying in {d:?}"));
                    tokio::time::sleep(d).await;
                }
                other => return other,
            }
        }
    }

    /// PUT a manifest under `reference` (a tag or digest) with its media type.
    pub async fn put_manifest(
        &self,
        target: &Repo<'_>,
        reference: &str,
        body: Bytes,
        media_type: &str,
        what: &str,
    ) -> Result<(), RegistryError> {
        let Repo {
            ep,
            registry,
            name: repo,
        } = *target;
        let url = self.v2_url(ep, registry, &format!("{repo}/manifests/{reference}"));
        let resp = self
            .send(ep, &Self::push_scopes(repo), what, true, |h| {
                Ok(h.put(url.clone())
                    .header(CONTENT_TYPE, media_type)
                    .body(body.clone()))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, what).await);
        }
        Ok(())
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
