//! Blobs: streamed GET, HEAD, cross-repository mount and the POST + PUT
//! upload from a store file.

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
        let (ep, repo) = (target.ep, target.name);
        let scopes = Self::push_scopes(repo);
        let start = self.repo_url(target, "blobs/uploads/");
        let attempts = self.retry.attempts.max(1);
        let mut n = 0;
        loop {
            n += 1;
            let meter = self.transfer(digest, &host_of(ep.base.as_str()), size);
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
                            .body(metered_file_body(path, meter.clone()).map_err(body_err)?))
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
                            .body(metered_file_body(path, meter.clone()).map_err(body_err)?))
                    })
                    .await?
                };
                if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
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
}

impl RegistryClient {
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
        let (ep, repo) = (target.ep, target.name);
        let scopes = Self::push_scopes(repo);
        let start = self.repo_url(target, "blobs/uploads/");
        let bad = |detail: String| {
            RegistryError::new(ErrorKind::BadContent, what, start.as_str(), detail)
        };
        let location = |resp: &Response| -> Result<reqwest::Url, RegistryError> {
            let loc = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| bad("upload without a Location header".into()))?;
            let u = start
                .join(loc)
                .map_err(|e| bad(format!("bad upload Location {loc:?}: {e}")))?;
            // Credentials only ever go to the registry itself.
            if u.host_str() != ep.base.host_str()
                || u.port_or_known_default() != ep.base.port_or_known_default()
            {
                return Err(bad("upload location on another host".into()));
            }
            Ok(u)
        };
        let resp = self
            .send(ep, &scopes, what, true, |h| {
                Ok(h.post(start.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(resp, what).await);
        }
        let patch = location(&resp)?;
        let body = std::sync::Mutex::new(Some(body));
        let resp = self
            .send(ep, &scopes, what, false, |h| {
                let b = body
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .ok_or_else(|| bad("streamed upload refused (sent once already)".into()))?;
                Ok(h.patch(patch.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(b))
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(resp, what).await);
        }
        let mut put = location(&resp)?;
        let Some(digest) = digest.await else {
            let _ = self
                .send(ep, &scopes, what, false, |h| Ok(h.delete(put.clone())))
                .await;
            return Err(bad("the blob was not made whole; upload cancelled".into()));
        };
        put.query_pairs_mut().append_pair("digest", &digest);
        let resp = self
            .send(ep, &scopes, what, false, |h| {
                Ok(h.put(put.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, what).await);
        }
        Ok(digest)
    }
}
