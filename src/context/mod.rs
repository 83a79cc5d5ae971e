//! (context: see docs/architecture.md)
