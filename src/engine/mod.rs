//! The build engine: runs a plan's stages over snapshots, one step at a time
//! (cache lookup, execution, layer commit), stages in parallel on tokio.

pub mod add;
pub mod copy;
pub mod fsroot;
pub mod overlay;
