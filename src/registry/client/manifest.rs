//! Manifests: GET with every accepted media type, PUT under a tag or digest.

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use super::{read_capped, status_error, RegistryClient, Repo, MAX_SMALL_BODY};
use crate::registry::error::RegistryError;

/// Every manifest media type we accept, most specific first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

impl RegistryClient {
    /// GET a manifest: returns body, Content-Type and Docker-Content-Digest.
    pub async fn get_manifest(
        &self,
        target: &Repo<'_>,
        reference: &str,
        what: &str,
    ) -> Result<(Bytes, Option<String>, Option<String>), RegistryError> {
        let (ep, repo) = (target.ep, target.name);
        let url = self.repo_url(target, &format!("manifests/{reference}"));
        let scopes = Self::pull_scopes(repo);
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
    /// PUT a manifest under `reference` (a tag or digest) with its media type.
    pub async fn put_manifest(
        &self,
        target: &Repo<'_>,
        reference: &str,
        body: Bytes,
        media_type: &str,
        what: &str,
    ) -> Result<(), RegistryError> {
        let (ep, repo) = (target.ep, target.name);
        let url = self.repo_url(target, &format!("manifests/{reference}"));
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
