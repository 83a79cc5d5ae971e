//! Tags: entries of the layout's `index.json`, one per name, carrying the
//! full normalised reference in `org.opencontainers.image.ref.name` (so
//! `skopeo inspect oci:ROOT:docker.io/library/ubuntu:16.04` finds them).
//!
//! Writers take `locks/index.lock` and do read-modify-write, replacing the
//! file atomically; readers need no lock.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::descriptor::{Descriptor, OCI_INDEX, REF_NAME_ANNOTATION};
use super::Store;

/// The `index.json` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexFile {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    pub(crate) manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

impl Default for IndexFile {
    fn default() -> Self {
        IndexFile {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_string()),
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }
}

/// A tagged image as listed by [`Store::list_images`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// The full reference name (`docker.io/library/ubuntu:16.04`).
    pub name: String,
    /// The manifest (or index) it points to.
    pub descriptor: Descriptor,
}

pub(crate) fn read_index(store: &Store) -> Result<IndexFile> {
    let p = store.root.join("index.json");
    let bytes = match fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IndexFile::default()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
    };
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", p.display()))
}

pub(crate) fn write_index(store: &Store, index: &IndexFile) -> Result<()> {
    let bytes = serde_json::to_vec(index).context("serialising index.json")?;
    store.write_file(&store.root.join("index.json"), &bytes, 0o644)
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations.get(REF_NAME_ANNOTATION).map(String::as_str)
}

impl Store {
    /// The descriptor a tag points to, if the tag exists.
    pub fn resolve(&self, name: &str) -> Result<Option<Descriptor>> {
        Ok(read_index(self)?
            .manifests
            .into_iter()
            .find(|d| ref_name(d) == Some(name)))
    }

    /// Points `name` at `descriptor` (replacing any previous target). The
    /// manifest blob must already be in the store.
    pub fn set_tag(&self, name: &str, descriptor: &Descriptor) -> Result<()> {
        if !self.has_blob(&descriptor.digest) {
            bail!(
                "cannot tag {name}: manifest {} is not in the store",
                descriptor.digest
            );
        }
        let mut d = descriptor.clone();
        d.annotations
            .insert(REF_NAME_ANNOTATION.to_string(), name.to_string());
        let _l = self.lock("index")?;
        let mut index = read_index(self)?;
        if index.manifests.contains(&d) {
            // Already so: an unchanged rebuild rewrites (and fsyncs) nothing.
            return Ok(());
        }
        // A nameless entry of the same image goes: it is named now.
        index.manifests.retain(|m| {
            ref_name(m) != Some(name) && !(ref_name(m).is_none() && m.digest == d.digest)
        });
        index.manifests.push(d);
        index
            .manifests
            .sort_by(|a, b| ref_name(a).cmp(&ref_name(b)));
        write_index(self, &index)
    }

    /// Removes a tag; returns whether it existed.
    pub fn remove_tag(&self, name: &str) -> Result<bool> {
        let _l = self.lock("index")?;
        let mut index = read_index(self)?;
        let before = index.manifests.len();
        index.manifests.retain(|m| ref_name(m) != Some(name));
        if index.manifests.len() == before {
            return Ok(false);
        }
        write_index(self, &index)?;
        Ok(true)
    }

    /// Every tagged image, sorted by name. Entries without a name (written
    /// by other tools) are listed with an empty name.
    pub fn list_images(&self) -> Result<Vec<ImageEntry>> {
        Ok(read_index(self)?
            .manifests
            .into_iter()
            .map(|d| ImageEntry {
                name: ref_name(&d).unwrap_or_default().to_string(),
                descriptor: d,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::descriptor::OCI_MANIFEST;
    use super::*;

    #[test]
    fn tags_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let m = s.put_blob_bytes(b"{}", None).unwrap();
        let d = Descriptor::new(OCI_MANIFEST, m.clone(), 2);
        assert!(s
            .set_tag(
                "x/y:1",
                &Descriptor::new(OCI_MANIFEST, super::super::Digest::of(b"no"), 2)
            )
            .is_err());
        s.set_tag("docker.io/library/a:1", &d).unwrap();
        s.set_tag("docker.io/library/a:2", &d).unwrap();
        s.set_tag("docker.io/library/a:1", &d).unwrap();
        let list = s.list_images().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            s.resolve("docker.io/library/a:1").unwrap().unwrap().digest,
            m
        );
        assert!(s.remove_tag("docker.io/library/a:1").unwrap());
        assert!(!s.remove_tag("docker.io/library/a:1").unwrap());
        assert!(s.resolve("docker.io/library/a:1").unwrap().is_none());
        let raw: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join("index.json")).unwrap()).unwrap();
        assert_eq!(raw["schemaVersion"], 2);
        assert_eq!(
            raw["manifests"][0]["annotations"][REF_NAME_ANNOTATION],
            "docker.io/library/a:2"
        );
    }
}
