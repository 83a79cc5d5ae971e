//! builder: a daemonless Dockerfile → OCI image builder.
//!
//! The flow runs one way (see `docs/architecture.md`):
//! `dockerfile` → `plan` → `engine` → `image` → export, with `context`,
//! `registry`, `store`, `layer`, `sandbox` and `progress` beside it.

pub mod attest;
pub mod cli;
pub mod compress;
pub mod context;
pub mod diag;
pub mod dockerfile;
pub mod engine;
pub mod image;
pub mod layer;
pub mod plan;
pub mod progress;
pub mod registry;
pub mod sandbox;
pub mod store;
