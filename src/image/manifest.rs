//! Manifests and indexes in OCI and Docker schema2 media types, shaped as BuildKit writes them:
//! `mediaType` first, then the OCI struct fields, indented with three spaces (BuildKit uses
//! `json.MarshalIndent(m, "", "   ")`).

use super::json;
use super::serde_util::nullable;
use super::Canonical;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// OCI image manifest.
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema2 manifest.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema2 manifest list.
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";

/// BuildKit's manifest indentation.
const INDENT: &str = "   ";

/// Which family of media types to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaTypes {
    /// `application/vnd.oci.image.*` (BuildKit's default for `--output type=oci` and push).
    #[default]
    Oci,
    /// `application/vnd.docker.*` schema2 (Docker's classic store, `docker save`).
    Docker,
}

impl MediaTypes {
    /// Media type of a single-platform manifest.
    pub fn manifest(self) -> &'static str {
        match self {
            MediaTypes::Oci => MEDIA_TYPE_OCI_MANIFEST,
            MediaTypes::Docker => MEDIA_TYPE_DOCKER_MANIFEST,
        }
    }

    /// Media type of an index / manifest list.
    pub fn index(self) -> &'static str {
        match self {
            MediaTypes::Oci => MEDIA_TYPE_OCI_INDEX,
            MediaTypes::Docker => MEDIA_TYPE_DOCKER_MANIFEST_LIST,
        }
    }

    /// Media type of the image config.
    pub fn config(self) -> &'static str {
        match self {
            MediaTypes::Oci => super::MEDIA_TYPE_OCI_CONFIG,
            MediaTypes::Docker => super::MEDIA_TYPE_DOCKER_CONFIG,
        }
    }
}

/// A content descriptor (OCI field order: mediaType, digest, size, urls, annotations, data,
/// platform, artifactType).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType", default, deserialize_with = "nullable")]
    pub media_type: String,
    /// `sha256:…` of the content.
    #[serde(default, deserialize_with = "nullable")]
    pub digest: String,
    /// Size in bytes.
    #[serde(default, deserialize_with = "nullable")]
    pub size: i64,
    /// Alternative download locations.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub urls: Vec<String>,
    /// Annotations.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Embedded content, base64 (as Go encodes `[]byte`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Platform of a manifest in an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub artifact_type: String,
    /// Unknown fields, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Descriptor {
    /// A descriptor of `size` bytes with `digest`.
    pub fn new(media_type: &str, digest: impl Into<String>, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest.into(),
            size: i64::try_from(size).unwrap_or(i64::MAX),
            ..Default::default()
        }
    }
}

/// A platform (field order of OCI's `Platform`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// GOARCH style architecture.
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// Operating system.
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    /// OS version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub os_version: String,
    /// OS features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub os_features: Vec<String>,
    /// CPU variant.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub variant: String,
}

impl Platform {
    /// Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut it = s.split('/');
        let os = it.next().filter(|x| !x.is_empty())?;
        let arch = it.next().filter(|x| !x.is_empty())?;
        let variant = it.next().unwrap_or("");
        if it.next().is_some() {
            return None;
        }
        Some(Platform {
            architecture: arch.to_string(),
            os: os.to_string(),
            variant: variant.to_string(),
            ..Default::default()
        })
    }
}

/// A single-platform image manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Media type (BuildKit always writes it, first).
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub media_type: String,
    /// Always 2.
    #[serde(rename = "schemaVersion", default, deserialize_with = "nullable")]
    pub schema_version: i64,
    /// Artifact type (OCI 1.1).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub artifact_type: String,
    /// The image config.
    #[serde(default, deserialize_with = "nullable")]
    pub config: Descriptor,
    /// The layers, bottom first (always written, `[]` when there are none).
    #[serde(default, deserialize_with = "nullable")]
    pub layers: Vec<Descriptor>,
    /// Subject (OCI 1.1 referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Unknown fields, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Manifest {
    /// A manifest of the given family over a config and layers.
    pub fn new(types: MediaTypes, config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest {
            media_type: types.manifest().to_string(),
            schema_version: 2,
            config,
            layers,
            ..Default::default()
        }
    }

    /// Parses a manifest blob.
    pub fn from_slice(bytes: &[u8]) -> serde_json::Result<Manifest> {
        serde_json::from_slice(bytes)
    }

    /// BuildKit-shaped bytes and their digest.
    pub fn canonical(&self) -> serde_json::Result<Canonical> {
        Ok(Canonical::new(
            &self.media_type,
            json::to_vec_indent(self, INDENT)?,
        ))
    }
}

/// An index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Media type, written first.
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub media_type: String,
    /// Always 2.
    #[serde(rename = "schemaVersion", default, deserialize_with = "nullable")]
    pub schema_version: i64,
    /// Artifact type (OCI 1.1).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub artifact_type: String,
    /// One descriptor per platform manifest.
    #[serde(default, deserialize_with = "nullable")]
    pub manifests: Vec<Descriptor>,
    /// Subject (OCI 1.1 referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Unknown fields, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Index {
    /// An index of the given family over platform manifests.
    pub fn new(types: MediaTypes, manifests: Vec<Descriptor>) -> Index {
        Index {
            media_type: types.index().to_string(),
            schema_version: 2,
            manifests,
            ..Default::default()
        }
    }

    /// Parses an index blob.
    pub fn from_slice(bytes: &[u8]) -> serde_json::Result<Index> {
        serde_json::from_slice(bytes)
    }

    /// BuildKit-shaped bytes and their digest.
    pub fn canonical(&self) -> serde_json::Result<Canonical> {
        Ok(Canonical::new(
            &self.media_type,
            json::to_vec_indent(self, INDENT)?,
        ))
    }
}
