//! SPDX 2.3 JSON (the `spdx-spec` v2.3 schema) for a package list: a root
//! package for the scanned image (or stage) that the document DESCRIBES and
//! that CONTAINS every package found, each package with its purl as a
//! `PACKAGE-MANAGER` external reference.
//!
//! No random ids: the `documentNamespace` and every `SPDXID` are derived
//! from content digests, and `created` is the build's time (its
//! SOURCE_DATE_EPOCH when set), so the same image gives the same document.

use serde_json::{json, Value};

use super::os::OsRelease;
use super::Package;
use crate::store::Digest;

/// An SPDXID-safe form (`[A-Za-z0-9.-]`) of `s`.
fn id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn package_id(p: &Package) -> String {
    let h = Digest::of(format!("{}\n{}", p.purl, p.location).as_bytes());
    format!(
        "SPDXRef-Package-{}-{}-{}",
        p.kind,
        id_part(&p.name),
        &h.hex()[..16]
    )
}

/// The SPDX document; `created` is Unix seconds.
pub fn document(name: &str, release: Option<&OsRelease>, pkgs: &[Package], created: i64) -> Value {
    let mut packages = Vec::new();
    let mut relationships = Vec::new();
    let root_id = "SPDXRef-DocumentRoot-Image";
    let mut root = json!({
        "name": name,
        "SPDXID": root_id,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(r) = release {
        root["comment"] = json!(format!(
            "distribution: {} {} ({})",
            r.id, r.version_id, r.pretty_name
        ));
    }
    packages.push(root);
    relationships.push(json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relatedSpdxElement": root_id,
        "relationshipType": "DESCRIBES",
    }));
    let mut seen = std::collections::BTreeSet::new();
    for p in pkgs {
        let id = package_id(p);
        if !seen.insert(id.clone()) {
            continue;
        }
        let mut v = json!({
            "name": p.name,
            "SPDXID": id,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "sourceInfo": p.source_info,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
        });
        if let Some(s) = p.supplier.as_deref().filter(|s| !s.trim().is_empty()) {
            v["supplier"] = json!(format!("Person: {}", s.replace('\n', " ")));
        } else {
            v["supplier"] = json!("NOASSERTION");
        }
        packages.push(v);
        relationships.push(json!({
            "spdxElementId": root_id,
            "relatedSpdxElement": id,
            "relationshipType": "CONTAINS",
        }));
    }
    let content = Digest::of(
        serde_json::to_string(&packages)
            .unwrap_or_default()
            .as_bytes(),
    );
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/builder-{}-{}",
            id_part(name),
            content.hex()
        ),
        "creationInfo": {
            "creators": [format!("Tool: builder-{}", env!("CARGO_PKG_VERSION"))],
            "created": crate::image::format_rfc3339_nano(created, 0),
        },
        "packages": packages,
        "relationships": relationships,
    })
}
