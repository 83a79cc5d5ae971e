//! Image metadata: the image config (with Docker's Healthcheck/OnBuild/Shell), history,
//! manifests and indexes in OCI and Docker media types, and their canonical bytes — the exact
//! bytes Docker/BuildKit would write, so the same build gives the same digests. No I/O.

pub mod annotations;
mod config;
pub mod json;
mod manifest;
mod serde_util;
mod time;

pub use config::{
    ContainerConfig, Healthcheck, History, ImageConfig, RootFs, MEDIA_TYPE_DOCKER_CONFIG,
    MEDIA_TYPE_OCI_CONFIG,
};
pub use manifest::{
    Descriptor, Index, Manifest, MediaTypes, Platform, MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST,
};
pub use time::{format_rfc3339_nano, now_rfc3339_nano};

/// Serialized metadata ready to store or push: bytes, their digest and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// Media type of `bytes`.
    pub media_type: String,
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// `sha256:…` of `bytes`.
    pub digest: String,
}

impl Canonical {
    /// Wraps bytes, computing their digest.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Canonical {
        let digest = json::sha256_digest(&bytes);
        Canonical {
            media_type: media_type.to_string(),
            bytes,
            digest,
        }
    }

    /// A descriptor pointing at these bytes.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            &self.media_type,
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

#[cfg(test)]
mod tests;
