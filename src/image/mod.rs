//! (image: see docs/architecture.md)
