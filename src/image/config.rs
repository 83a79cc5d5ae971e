//! The image config as Docker/BuildKit write it (docker-image-spec's `DockerOCIImage`:
//! OCI's image config plus Healthcheck, OnBuild and Shell).
//!
//! Field names, order and omit-empty rules follow the Go structs. Output follows BuildKit's
//! exporter: the top-level object is re-marshalled from a Go map, so its keys come out sorted;
//! nested objects keep struct order. Fields we do not know (a base image's `container_config`,
//! `docker_version`, `moby.buildkit.cache.v0`, …) are kept in `extra` and written back.

use super::json;
use super::serde_util::{is_false, is_zero, nullable, set_from_map, set_to_map};
use super::Canonical;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// OCI media type of an image config.
pub const MEDIA_TYPE_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker schema2 media type of an image config.
pub const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// An image config (`application/vnd.oci.image.config.v1+json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Creation time, RFC 3339 (kept as written so unchanged configs keep their bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author (MAINTAINER).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub author: String,
    /// CPU architecture, GOARCH style (`amd64`, `arm64`).
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    /// OS version (Windows images).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub os_version: String,
    /// Required OS features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub os_features: Vec<String>,
    /// CPU variant (`v7`, `v8`).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub variant: String,
    /// Defaults for running a container.
    #[serde(default, deserialize_with = "nullable")]
    pub config: ContainerConfig,
    /// The layers, as diffIDs.
    #[serde(default, deserialize_with = "nullable")]
    pub rootfs: RootFs,
    /// One entry per Dockerfile step (layer or not).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub history: Vec<History>,
    /// Top-level fields this type does not model, preserved on round-trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `config` object: Go field names (capitalised), omitted when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// USER.
    #[serde(
        rename = "User",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub user: String,
    /// EXPOSE, e.g. `80/tcp`.
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "BTreeSet::is_empty",
        serialize_with = "set_to_map",
        deserialize_with = "set_from_map"
    )]
    pub exposed_ports: BTreeSet<String>,
    /// ENV as `KEY=value`, in order.
    #[serde(
        rename = "Env",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub env: Vec<String>,
    /// ENTRYPOINT.
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub entrypoint: Vec<String>,
    /// CMD.
    #[serde(
        rename = "Cmd",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub cmd: Vec<String>,
    /// VOLUME paths.
    #[serde(
        rename = "Volumes",
        default,
        skip_serializing_if = "BTreeSet::is_empty",
        serialize_with = "set_to_map",
        deserialize_with = "set_from_map"
    )]
    pub volumes: BTreeSet<String>,
    /// WORKDIR.
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub working_dir: String,
    /// LABELs (Go sorts map keys; so does BTreeMap).
    #[serde(
        rename = "Labels",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub labels: BTreeMap<String, String>,
    /// STOPSIGNAL.
    #[serde(
        rename = "StopSignal",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub stop_signal: String,
    /// Windows-only escape hint; BuildKit still sets it for shell-form CMD/ENTRYPOINT.
    #[serde(
        rename = "ArgsEscaped",
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub args_escaped: bool,
    /// HEALTHCHECK.
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<Healthcheck>,
    /// ONBUILD triggers, as written.
    #[serde(
        rename = "OnBuild",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub on_build: Vec<String>,
    /// SHELL.
    #[serde(
        rename = "Shell",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub shell: Vec<String>,
    /// Fields of Docker's older container config (`Hostname`, `AttachStdin`, …) kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// HEALTHCHECK settings; durations are integer nanoseconds, 0 means "inherit".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// `[]` inherit, `["NONE"]`, `["CMD", args…]` or `["CMD-SHELL", command]`.
    #[serde(
        rename = "Test",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub test: Vec<String>,
    /// Time between checks (ns).
    #[serde(
        rename = "Interval",
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "nullable"
    )]
    pub interval: i64,
    /// Time before a check is considered hung (ns).
    #[serde(
        rename = "Timeout",
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "nullable"
    )]
    pub timeout: i64,
    /// Start-up grace period (ns).
    #[serde(
        rename = "StartPeriod",
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "nullable"
    )]
    pub start_period: i64,
    /// Interval between checks during the start period (ns).
    #[serde(
        rename = "StartInterval",
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "nullable"
    )]
    pub start_interval: i64,
    /// Consecutive failures before unhealthy.
    #[serde(
        rename = "Retries",
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "nullable"
    )]
    pub retries: i64,
    /// Unknown fields, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `rootfs`: always `{"type":"layers","diff_ids":[…]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub kind: String,
    /// `sha256:…` of each uncompressed layer, bottom first.
    #[serde(default, deserialize_with = "nullable")]
    pub diff_ids: Vec<String>,
    /// Unknown fields, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".to_string(),
            diff_ids: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction, e.g. `RUN /bin/sh -c apt-get update # buildkit`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub created_by: String,
    /// Author.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub author: String,
    /// Comment, e.g. `buildkit.dockerfile.v0`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub comment: String,
    /// True when the step made no layer.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub empty_layer: bool,
    /// Unknown fields, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageConfig {
    /// Parses a config blob.
    pub fn from_slice(bytes: &[u8]) -> serde_json::Result<ImageConfig> {
        serde_json::from_slice(bytes)
    }

    /// The bytes BuildKit would write: compact, top-level keys sorted, Go escaping.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut v = serde_json::to_value(self)?;
        if let Value::Object(m) = &mut v {
            m.sort_keys();
        }
        json::to_vec(&v)
    }

    /// Canonical bytes, digest and media type (OCI or Docker) of this config.
    pub fn canonical(&self, oci: bool) -> serde_json::Result<Canonical> {
        let mt = if oci {
            MEDIA_TYPE_OCI_CONFIG
        } else {
            MEDIA_TYPE_DOCKER_CONFIG
        };
        Ok(Canonical::new(mt, self.to_json()?))
    }
}
