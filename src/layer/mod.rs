//! (layer: see docs/architecture.md)
