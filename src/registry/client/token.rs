//! Authentication: credentials per host, the `/v2/` challenge, bearer
//! tokens (with basic credentials or an identity token's refresh grant),
//! and `login`'s check.

use base64::Engine as _;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode, Url};

use super::{read_capped, redact_url, status_error, RegistryClient, MAX_SMALL_BODY};
use crate::registry::auth::{parse_challenge, Challenge, TokenReply};
use crate::registry::config::Endpoint;
use crate::registry::credentials::Credential;
use crate::registry::error::{ErrorKind, RegistryError};

impl RegistryClient {
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
    pub(super) async fn authorization(
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

    pub(super) async fn forget_auth(&self, ep: &Endpoint, resp: &Response) {
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
}
