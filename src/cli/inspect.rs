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
    /// Print a Go template over Docker's `docker image inspect` fields
    /// (`{{.Config.Env}}`, `{{json .Config}}`, `{{.Id}}`, `{{.RepoTags}}`,
    /// `{{.Architecture}}`, `{{.Os}}`, `{{.Size}}`, `{{.RootFS.Layers}}`, …)
    /// instead of builder's JSON.
    #[arg(short, long)]
    pub format: Option<String>,
    /// The local image (name or ID).
    pub image: String,
}

/// The image as `docker image inspect` shows it (the fields Docker 26.1
/// fills for an image built by BuildKit), plus builder's `Name`, `Digest`,
/// `MediaType` and `Manifest`.
fn docker_shape(
    store: &crate::store::Store,
    name: &str,
    desc: &crate::store::Descriptor,
) -> Result<Value> {
    let (_, manifest, config) = store.manifest_and_config(desc, &crate::store::Platform::host())?;
    let id = store.image_id(desc)?;
    let mut tags = Vec::new();
    for i in store.list_images()? {
        if !i.name.is_empty() && store.image_id(&i.descriptor).ok().as_ref() == Some(&id) {
            if let Ok(r) = crate::registry::Reference::parse(&i.name) {
                tags.push(r.familiar());
            }
        }
    }
    let mut out = json!({
        "Id": id.to_string(),
        "RepoTags": tags,
        "RepoDigests": [],
        "Parent": "",
        "Comment": config.pointer("/history/0/comment").cloned().unwrap_or(json!("")),
        "Created": config["created"].clone(),
        "DockerVersion": "",
        "Author": config.get("author").cloned().unwrap_or(json!("")),
        "Config": config["config"].clone(),
        "Architecture": config["architecture"].clone(),
        "Os": config["os"].clone(),
        "Size": store.image_size(&manifest)?,
        "RootFS": {"Type": "layers", "Layers": config.pointer("/rootfs/diff_ids").cloned().unwrap_or(json!([]))},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Name": name,
        "Digest": desc.digest.to_string(),
        "MediaType": desc.media_type,
        "Manifest": manifest,
    });
    if let Some(v) = config.get("variant") {
        out["Variant"] = v.clone();
    }
    Ok(out)
}

/// Runs `builder inspect`.
pub fn run(args: InspectArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let (name, desc) = find_local(&store, &args.image)?;
    if let Some(f) = &args.format {
        let template =
            super::template::Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))?;
        println!("{}", template.render(&docker_shape(&store, &name, &desc)?)?);
        return Ok(0);
    }
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
