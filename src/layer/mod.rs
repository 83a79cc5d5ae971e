//! Layer tars: deterministic writing (plain dirs and overlay upper dirs → OCI diffs), safe
//! extraction into overlay-format snapshots, and compression when a layer leaves the store.
//! Digests are always computed in the same streaming pass as the bytes they cover.

mod compress;
mod delta;
mod delta_plan;
mod digest;
mod entry_meta;
mod extract;
mod mapped_tar;
mod pipe_write;
mod planned;
mod previous;
mod reuse;
mod root;
mod tarheader;
pub mod whiteout_files;
mod write;
pub mod xattrs;

pub use compress::{
    compress, compress_file, compress_many, compress_tee, compress_to, decompress, detect,
    CompressedBlob, Compression, StreamFormat,
};
pub use delta_plan::{plan_delta, plan_delta_mapped, DeltaPlan};
pub use digest::{Digest, HashingReader, HashingWriter, ParseDigestError};
pub use extract::{
    extract, extract_delta, extract_delta_mapped, extract_over, squash_unmapped, unpack_archive,
    ExtractError, ExtractOptions, Extracted,
};
pub use mapped_tar::{sha256_releasing, MappedTar};
pub use planned::{layer_order, write_planned, PlannedEntry, PlannedKind};
pub use previous::PreviousLayer;
pub use reuse::ReuseStats;
pub use write::{
    layer_keeps_xattr, read_xattrs, set_xattrs, write, write_to, SourceKind, WriteOptions,
    WrittenLayer,
};
