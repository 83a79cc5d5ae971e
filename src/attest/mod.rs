//! Build attestations as BuildKit 0.13 makes and stores them: SLSA
//! provenance and SPDX SBOMs, each an in-toto statement, kept per platform
//! in an attestation manifest next to the image manifest in the image index
//! (see BuildKit's `docs/attestations/attestation-storage.md`).
//!
//! The pieces, in the order a build uses them:
//! - [`options`]: `--sbom`, `--provenance`, `--attest` (buildx's spellings)
//!   into [`AttestOptions`], validated before any work;
//! - [`provenance::predicate`] and [`sbom::scan`]: the predicates of one
//!   platform's image;
//! - [`store::attach`]: one platform's attestation manifest, pointing at that
//!   platform's image manifest; [`store::write_index`] the index over both;
//! - [`store::push_index`], [`export::save_oci_index`] and
//!   [`export::write_local_files`]: the index (or the statements) to a
//!   registry, an OCI archive or a directory; [`store::republish`] makes a
//!   stored attested index again for `builder push` (new manifest digests,
//!   subjects re-pointed).

pub mod export;
pub mod git;
pub mod options;
pub mod provenance;
pub mod sbom;
pub mod store;

pub use options::{AttestOptions, ProvenanceMode, ProvenanceVersion};

use serde_json::{json, Value};

/// in-toto statement type BuildKit 0.13 writes (in-toto-golang's `StatementInTotoV01`).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// in-toto statement type for the SLSA v1 provenance predicate.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The media type of an attestation blob (in-toto's `PayloadType`).
pub const INTOTO_MEDIA_TYPE: &str = "application/vnd.in-toto+json";
/// The layer annotation naming a statement's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";
/// Index-entry annotation: what kind of reference the entry is.
pub const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";
/// Index-entry annotation: the digest of the image manifest it attests.
pub const REFERENCE_DIGEST_ANNOTATION: &str = "vnd.docker.reference.digest";
/// The value of [`REFERENCE_TYPE_ANNOTATION`] for attestation manifests.
pub const ATTESTATION_MANIFEST: &str = "attestation-manifest";

/// One attestation before it is bound to an image manifest: the predicate
/// and its type. The statement around it (subjects) is made by
/// [`store::attach`], because subjects name the manifest digest, which
/// differs between the store (plain layers) and a push (compressed ones).
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    /// `predicateType`, e.g. `https://slsa.dev/provenance/v0.2`.
    pub predicate_type: String,
    /// The in-toto statement `_type` to use.
    pub statement_type: &'static str,
    /// The predicate document.
    pub body: Value,
    /// BuildKit's attestation path without extension: `provenance`, `sbom`
    /// (the core SBOM) or `sbom-NAME` (a scanned stage or `context`), which
    /// names the statement's file in `type=local`/`tar` outputs.
    pub name: String,
}

/// An in-toto statement over `subjects` (`[{name, digest:{sha256}}]`), with
/// BuildKit's field order: `_type`, `predicateType`, `subject`, `predicate`.
pub fn statement(p: &Predicate, subjects: Vec<Value>) -> Value {
    json!({
        "_type": p.statement_type,
        "predicateType": p.predicate_type,
        "subject": subjects,
        "predicate": p.body,
    })
}
