//! `builder inspect REF`: a local image's manifest and config as JSON.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};

use super::pull::{find_local, StoreArgs};
use crate::store::Digest;

/// `builder inspect` options.
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The local image.
    pub image: String,
}

/// Runs `builder inspect`.
pub fn run(args: InspectArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let (name, desc) = find_local(&store, &args.image)?;
    let manifest: Value = serde_json::from_slice(&store.read_blob(&desc.digest)?)
        .with_context(|| format!("manifest {} is not JSON", desc.digest))?;
    let config = match manifest
        .pointer("/config/digest")
        .and_then(Value::as_str)
        .map(Digest::parse)
    {
        Some(Ok(d)) => serde_json::from_slice::<Value>(&store.read_blob(&d)?)
            .with_context(|| format!("config {d} is not JSON"))?,
        _ => Value::Null,
    };
    let mut out = json!({
        "Name": name,
        "Digest": desc.digest.to_string(),
        "MediaType": desc.media_type,
        "Size": desc.size,
        "Manifest": manifest,
        "Config": config,
    });
    // An index with attestation manifests (`build --sbom/--provenance`):
    // each with the image manifest it attests and its in-toto statements.
    if manifest.get("manifests").is_some() {
        let atts = crate::attest::store::read_attestations(&store, &desc)?;
        if !atts.is_empty() {
            out["Attestations"] = atts
                .into_iter()
                .map(|(d, stmts)| {
                    json!({
                        "Digest": d.digest.to_string(),
                        "ImageDigest": d.annotations.get(crate::attest::REFERENCE_DIGEST_ANNOTATION),
                        "Statements": stmts.into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
                    })
                })
                .collect();
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}
