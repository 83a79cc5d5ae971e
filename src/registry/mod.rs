//! Talking to registries: image references (Docker Hub normalisation),
//! registries config (mirrors, insecure hosts), credentials (the docker
//! CLI's `config.json` and helpers), and pull/push with streaming, retries
//! and digest checks. Layout on disk is the store's business.

pub mod artifact;
pub mod auth;
pub mod client;
pub mod config;
pub mod convert;
pub mod credentials;
pub mod error;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod push_index;
mod push_stream;
pub mod reference;

pub use client::{RegistryClient, RetryPolicy};
pub use config::RegistriesConfig;
pub use convert::ManifestFormat;
pub use credentials::{Credential, DockerConfig};
pub use error::{ErrorKind, RegistryError};
pub use pull::{pull, PullOptions, PulledImage};
pub use push::{push, push_manifest_bytes, PushOptions, PushedImage};
pub use push_index::{export_index, push_index};
pub use reference::{Reference, ReferenceError};
