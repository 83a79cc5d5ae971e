//! Just enough manifest parsing for pull and push: media type detection
//! (the document's `mediaType`, else the reply's Content-Type, else the
//! shape), platform selection in an index, and config/layer descriptors.
//! Unknown fields are kept because manifests are stored byte-for-byte.

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::store::descriptor::{
    is_index, is_manifest, Descriptor, Platform, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX,
    OCI_MANIFEST,
};

/// The media type of a manifest document.
pub fn media_type_of(doc: &Value, content_type: Option<&str>) -> Result<String> {
    if doc.get("schemaVersion").and_then(Value::as_u64) == Some(1) {
        bail!("Docker schema1 manifests are not supported (deprecated since 2017); re-push the image with a current client");
    }
    if let Some(mt) = doc.get("mediaType").and_then(Value::as_str) {
        return Ok(mt.to_string());
    }
    if let Some(ct) = content_type {
        if is_manifest(ct) || is_index(ct) {
            return Ok(ct.to_string());
        }
    }
    if doc.get("manifests").is_some() {
        Ok(OCI_INDEX.to_string())
    } else if doc.get("config").is_some() {
        Ok(OCI_MANIFEST.to_string())
    } else {
        bail!("the registry returned a document that is neither a manifest nor an index")
    }
}

/// Picks the entry of an index for `want`: an exact variant match first,
/// then an entry without variant.
pub fn select_platform(index: &Value, want: &Platform) -> Result<Descriptor> {
    let entries: Vec<Descriptor> =
        serde_json::from_value(index.get("manifests").cloned().unwrap_or(Value::Null))
            .context("parsing the index's manifests")?;
    let candidates: Vec<&Descriptor> = entries
        .iter()
        .filter(|d| is_manifest(&d.media_type))
        .filter(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
        .collect();
    let want_n = want.clone().normalized();
    let exact = candidates.iter().find(|d| {
        d.platform.as_ref().map(|p| p.clone().normalized().variant) == Some(want_n.variant.clone())
    });
    if let Some(d) = exact.or(candidates.first()) {
        return Ok((*d).clone());
    }
    let have: Vec<String> = entries
        .iter()
        .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
        .collect();
    bail!(
        "no image for platform {want} (available: {})",
        if have.is_empty() {
            "none".to_string()
        } else {
            have.join(", ")
        }
    )
}

/// Config and layer descriptors of an image manifest.
pub fn config_and_layers(doc: &Value) -> Result<(Descriptor, Vec<Descriptor>)> {
    let config: Descriptor = serde_json::from_value(
        doc.get("config")
            .cloned()
            .context("manifest has no config")?,
    )
    .context("parsing the manifest's config descriptor")?;
    let layers: Vec<Descriptor> =
        serde_json::from_value(doc.get("layers").cloned().unwrap_or(Value::Array(vec![])))
            .context("parsing the manifest's layer descriptors")?;
    Ok((config, layers))
}

/// The platform an image config describes.
pub fn config_platform(config: &Value) -> Option<Platform> {
    let s = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Platform {
        os: s("os")?,
        architecture: s("architecture")?,
        variant: s("variant"),
        os_version: s("os.version"),
        os_features: Vec::new(),
    })
}

/// True if the media type is one we can store and push (not an index).
pub fn is_image_manifest(mt: &str) -> bool {
    mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
}

/// True for index media types.
pub fn is_image_index(mt: &str) -> bool {
    mt == OCI_INDEX || mt == DOCKER_MANIFEST_LIST
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn media_types() {
        assert_eq!(
            media_type_of(&json!({"mediaType": DOCKER_MANIFEST, "config": {}}), None).unwrap(),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(&json!({"config": {}}), Some(DOCKER_MANIFEST)).unwrap(),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(&json!({"manifests": []}), Some("application/json")).unwrap(),
            OCI_INDEX
        );
        assert!(media_type_of(&json!({"schemaVersion": 1}), None).is_err());
        assert!(media_type_of(&json!({}), None).is_err());
    }

    #[test]
    fn platform_selection() {
        let d = "sha256:".to_string() + &"a".repeat(64);
        let e = "sha256:".to_string() + &"b".repeat(64);
        let f = "sha256:".to_string() + &"c".repeat(64);
        let idx = json!({"manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d, "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": e, "size": 1, "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
            {"mediaType": OCI_MANIFEST, "digest": f, "size": 1, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ]});
        assert_eq!(
            select_platform(&idx, &"linux/amd64".parse().unwrap())
                .unwrap()
                .digest
                .to_string(),
            d
        );
        assert_eq!(
            select_platform(&idx, &"linux/arm64".parse().unwrap())
                .unwrap()
                .digest
                .to_string(),
            f
        );
        let err = select_platform(&idx, &"linux/arm/v7".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("linux/arm/v7") && err.contains("linux/amd64"),
            "{err}"
        );
    }
}
