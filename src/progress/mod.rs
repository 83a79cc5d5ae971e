//! (progress: see docs/architecture.md)
