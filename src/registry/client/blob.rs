//! Blobs: streamed GET, HEAD, cross-repository mount, the POST + PUT
//! upload from a store file and the POST + PATCH + PUT upload of a blob
//! still being made. Every upload session's `Location` is followed the
//! same way (`upload_location`, `send_upload`).

use std::path::Path;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode};

use super::{host_of, status_error, RegistryClient, Repo, Transfer};
use crate::registry::error::{ErrorKind, RegistryError};

/// A body streamed from a file in 256 KiB chunks: memory stays bounded
/// whatever the blob size.
pub fn file_body(path: &Path) -> std::io::Result<reqwest::Body> {
    metered_file_body(path, Transfer::default())
}

/// [`file_body`], counting each chunk on `meter` as it is handed to the
/// connection.
fn metered_file_body(path: &Path, meter: Transfer) -> std::io::Result<reqwest::Body> {
    use tokio::io::AsyncReadExt;
    let f = tokio::fs::File::from_std(std::fs::File::open(path)?);
    let stream = futures::stream::try_unfold((f, meter), |(mut f, meter)| async move {
        let mut buf = vec![0u8; 256 * 1024];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        meter.advance(n as u64);
        Ok(Some((Bytes::from(buf), (f, meter))))
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

impl RegistryClient {
    /// GET a blob; the caller streams the body.
    pub async fn get_blob(
        &self,
        target: &Repo<'_>,
        digest: &str,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let (ep, repo) = (target.ep, target.name);
        let url = self.repo_url(target, &format!("blobs/{digest}"));
        let scopes = Self::pull_scopes(repo);
        let resp = self
            .send(ep, &scopes, what, true, |h| Ok(h.get(url.clone())))
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, what).await);
        }
        Ok(resp)
    }

    pub(super) fn push_scopes(repo: &str) -> Vec<String> {
        vec![format!("repository:{repo}:pull,push")]
    }

    /// HEAD a blob in `repo`: whether the registry already has it.
    pub async fn blob_exists(
        &self,
        target: &Repo<'_>,
        digest: &str,
        what: &str,
    ) -> Result<bool, RegistryError> {
        let (ep, repo) = (target.ep, target.name);
        let url = self.repo_url(target, &format!("blobs/{digest}"));
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
        let (ep, repo) = (target.ep, target.name);
        let mut url = self.repo_url(target, "blobs/uploads/");
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
                if let Ok(u) = upload_location(&resp, what) {
                    let _ = self
                        .send_upload(ep, &scopes, what, &u, |h| Ok(h.delete(u.clone())))
                        .await;
                }
                Ok(false)
            }
            _ => Err(status_error(resp, what).await),
        }
    }

    /// Opens an upload session in `target` (POST `blobs/uploads/`, which
    /// must answer 202) and returns where its data goes: the `Location`
    /// header resolved as [`upload_location`] does. Not retried here: the
    /// callers retry whole exchanges, since a session does not survive a
    /// failed request.
    async fn start_upload(
        &self,
        target: &Repo<'_>,
        scopes: &[String],
        what: &str,
    ) -> Result<reqwest::Url, RegistryError> {
        let start = self.repo_url(target, "blobs/uploads/");
        let resp = self
            .send(target.ep, scopes, what, true, |h| {
                Ok(h.post(start.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(resp, what).await);
        }
        upload_location(&resp, what)
    }

    /// Sends one request of an upload session to `url` (a resolved
    /// `Location`), once: with the registry's credentials when `url` is on
    /// the registry's own host and port, without any elsewhere (a storage
    /// backend's signed URL), as docker does: its credentials are keyed by
    /// the `host:port` that challenged for them.
    async fn send_upload(
        &self,
        ep: &crate::registry::config::Endpoint,
        scopes: &[String],
        what: &str,
        url: &reqwest::Url,
        build: impl Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder, RegistryError> + Send + Sync,
    ) -> Result<Response, RegistryError> {
        if same_origin(url, &ep.base) {
            self.send(ep, scopes, what, false, build).await
        } else {
            let http = self.http.clone();
            self.send_raw(what, false, &|| build(&http)).await
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
        let ep = target.ep;
        let scopes = Self::push_scopes(target.name);
        let attempts = self.retry.attempts.max(1);
        let mut n = 0;
        loop {
            n += 1;
            let meter = self.transfer(digest, &host_of(ep.base.as_str()), size);
            let result: Result<(), RegistryError> = async {
                let mut put = self.start_upload(target, &scopes, what).await?;
                put.query_pairs_mut().append_pair("digest", digest);
                let body_err = |e: std::io::Error| {
                    RegistryError::new(
                        ErrorKind::BadContent,
                        what,
                        path.display().to_string(),
                        e.to_string(),
                    )
                };
                let resp = self
                    .send_upload(ep, &scopes, what, &put, |h| {
                        Ok(h.request(Method::PUT, put.clone())
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, size)
                            .body(metered_file_body(path, meter.clone()).map_err(body_err)?))
                    })
                    .await?;
                if !resp.status().is_success() {
                    return Err(status_error(resp, what).await);
                }
                meter.finish();
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

    /// Uploads a blob whose bytes arrive while it is made: POST, then one
    /// PATCH streaming `body` (chunked, no length), then the closing PUT
    /// with the digest `digest` resolves to once the body has ended (the
    /// distribution spec's chunked upload, as `docker push` does). Nothing
    /// is retried (the body cannot be replayed); `None` from `digest`
    /// (the blob was not made whole) cancels the upload. The caller falls
    /// back to [`RegistryClient::upload_blob`] on any error.
    pub async fn upload_blob_streamed(
        &self,
        target: &Repo<'_>,
        body: reqwest::Body,
        digest: impl std::future::Future<Output = Option<String>>,
        what: &str,
    ) -> Result<String, RegistryError> {
        let ep = target.ep;
        let scopes = Self::push_scopes(target.name);
        let patch = self.start_upload(target, &scopes, what).await?;
        let body = std::sync::Mutex::new(Some(body));
        let resp = self
            .send_upload(ep, &scopes, what, &patch, |h| {
                let b = body
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .ok_or_else(|| {
                        RegistryError::new(
                            ErrorKind::BadContent,
                            what,
                            patch.as_str(),
                            "streamed upload refused (sent once already)",
                        )
                    })?;
                Ok(h.patch(patch.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(b))
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(resp, what).await);
        }
        let mut put = upload_location(&resp, what)?;
        let Some(digest) = digest.await else {
            let _ = self
                .send_upload(ep, &scopes, what, &put, |h| Ok(h.delete(put.clone())))
                .await;
            return Err(RegistryError::new(
                ErrorKind::BadContent,
                what,
                put.as_str(),
                "the blob was not made whole; upload cancelled",
            ));
        };
        put.query_pairs_mut().append_pair("digest", &digest);
        let resp = self
            .send_upload(ep, &scopes, what, &put, |h| {
                Ok(h.put(put.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, what).await);
        }
        Ok(digest)
    }
}

/// Where an upload session continues: `resp`'s `Location` header resolved
/// against the URL of the request it answers (the distribution spec lets
/// it be relative or absolute, on the registry's host or another). Errors
/// (`BadContent`) when the header is missing or no URL.
fn upload_location(resp: &Response, what: &str) -> Result<reqwest::Url, RegistryError> {
    let at = resp.url();
    let bad = |detail: String| RegistryError::new(ErrorKind::BadContent, what, at.as_str(), detail);
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("upload answered without a Location header".into()))?;
    at.join(loc)
        .map_err(|e| bad(format!("bad upload Location {loc:?}: {e}")))
}

/// Whether `url` is on `base`'s host and port (the port defaulted from the
/// scheme), the key docker's credential store uses.
fn same_origin(url: &reqwest::Url, base: &reqwest::Url) -> bool {
    url.host_str().map(str::to_ascii_lowercase) == base.host_str().map(str::to_ascii_lowercase)
        && url.port_or_known_default() == base.port_or_known_default()
}
