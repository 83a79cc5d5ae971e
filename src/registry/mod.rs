//! Talking to registries: image references (Docker Hub normalisation),
//! registries config (mirrors, insecure hosts), credentials (the docker
//! CLI's `config.json` and helpers), and pull/push with streaming, retries
//! and digest checks. Layout on disk is the store's business.

pub mod reference;

pub use reference::{Reference, ReferenceError};
