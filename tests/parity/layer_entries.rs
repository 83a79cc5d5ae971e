//! Layer-level listing for cases with a `layers` file: every entry of each layer the case adds
//! (after the base image's), in tar order, with the header fields a digest depends on, and the
//! layer's diffID when nothing in it carries the time of the build. The rootfs listing of
//! `lister` cannot see these (mtimes, whiteout and PAX details, entry order).

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// mtimes from here on (2025-01-01) are "the time of the build or of the checkout": listed as
/// `"recent"`, and a layer holding one has no comparable diffID. Case contexts give their files
/// older fixed times (`touch -d @…` in setup.sh) where the time matters.
const RECENT: u64 = 1_735_689_600;

/// One layer: its entries and, when every mtime in it is fixed, its diffID.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerListing {
    pub diff_id: Option<String>,
    pub entries: Vec<Value>,
}

/// Lists one uncompressed layer tar.
pub fn list(raw: &[u8], what: &str) -> Result<LayerListing> {
    let mut entries = Vec::new();
    let mut recent = false;
    let mut ar = tar::Archive::new(raw);
    for e in ar.entries().with_context(|| format!("reading {what}"))? {
        let mut e = e.with_context(|| format!("reading an entry of {what}"))?;
        let mut pax: BTreeMap<String, String> = BTreeMap::new();
        if let Some(exts) = e.pax_extensions()? {
            for ext in exts {
                let ext = ext?;
                let key = String::from_utf8_lossy(ext.key_bytes()).into_owned();
                // Names are listed in full anyway; other values (xattrs, sizes) as text.
                let value = match key.as_str() {
                    "path" | "linkpath" => String::new(),
                    _ => String::from_utf8_lossy(ext.value_bytes()).into_owned(),
                };
                pax.insert(key, value);
            }
        }
        let h = e.header();
        let mtime = h.mtime().with_context(|| format!("mtime in {what}"))?;
        let mtime = if mtime >= RECENT {
            recent = true;
            json!("recent")
        } else {
            json!(mtime)
        };
        let mut o = Map::new();
        o.insert(
            "name".into(),
            json!(String::from_utf8_lossy(&e.path_bytes())),
        );
        o.insert(
            "type".into(),
            json!((h.entry_type().as_byte() as char).to_string()),
        );
        o.insert("mode".into(), json!(format!("{:04o}", h.mode()?)));
        o.insert("uid".into(), json!(h.uid()?));
        o.insert("gid".into(), json!(h.gid()?));
        o.insert(
            "owner_names".into(),
            json!([
                String::from_utf8_lossy(h.username_bytes().unwrap_or_default()),
                String::from_utf8_lossy(h.groupname_bytes().unwrap_or_default())
            ]),
        );
        o.insert("mtime".into(), mtime);
        o.insert("size".into(), json!(e.size()));
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        if let Some(l) = link.filter(|l| !l.is_empty()) {
            o.insert("link".into(), json!(l));
        }
        if !pax.is_empty() {
            o.insert("pax".into(), json!(pax));
        }
        entries.push(Value::Object(o));
    }
    let diff_id = (!recent).then(|| format!("sha256:{}", hex::encode(Sha256::digest(raw))));
    Ok(LayerListing { diff_id, entries })
}

/// A listing as expected.json holds it: the rootfs listing, plus for a case with a `layers`
/// file the entries of every layer after the base image's (`strip` is the base's history).
pub fn document(
    listing: &super::lister::Listing,
    case: &super::cases::Case,
    strip: &[(String, bool)],
) -> Value {
    let mut doc = listing.to_json(&case.name, strip);
    if case.layers {
        let base_layers = strip.iter().filter(|(_, empty)| !empty).count();
        doc["layer_entries"] = to_json(&listing.layer_listings, base_layers);
    }
    doc
}

/// The `layer_entries` value of expected.json: the layers after the first `skip`.
pub fn to_json(layers: &[LayerListing], skip: usize) -> Value {
    json!(layers
        .iter()
        .skip(skip)
        .map(|l| json!({"diff_id": l.diff_id, "entries": l.entries}))
        .collect::<Vec<_>>())
}

/// Readable differences between two `layer_entries` values (empty when equal).
pub fn diff(expected: &Value, actual: &Value) -> Vec<String> {
    let (Some(e), Some(a)) = (expected.as_array(), actual.as_array()) else {
        return if expected == actual {
            Vec::new()
        } else {
            vec![format!("layer_entries: expected {expected}, got {actual}")]
        };
    };
    let mut out = Vec::new();
    if e.len() != a.len() {
        out.push(format!(
            "layer_entries: {} layers expected, got {}",
            e.len(),
            a.len()
        ));
    }
    for (i, (el, al)) in e.iter().zip(a).enumerate() {
        let (ee, ae) = (&el["entries"], &al["entries"]);
        let names = |v: &Value| -> Vec<Value> {
            v.as_array()
                .map(|x| x.iter().map(|e| e["name"].clone()).collect())
                .unwrap_or_default()
        };
        if names(ee) != names(ae) {
            out.push(format!(
                "layer {i}: entries {} expected, got {}",
                json!(names(ee)),
                json!(names(ae))
            ));
        } else if ee != ae {
            for (x, y) in ee
                .as_array()
                .into_iter()
                .flatten()
                .zip(ae.as_array().into_iter().flatten())
            {
                if x != y {
                    out.push(format!("layer {i}: entry expected {x}, got {y}"));
                }
            }
        }
        if el["diff_id"] != al["diff_id"] {
            out.push(format!(
                "layer {i}: diff_id expected {}, got {}",
                el["diff_id"], al["diff_id"]
            ));
        }
    }
    out
}
