//! Attestations leaving the build outside a registry: an attested image
//! index as an OCI layout tar (`--output type=oci`), and the statements as
//! files next to an exported root file system (`--output type=local`), as
//! BuildKit's `oci` and `local` exporters write them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use super::store::indented;
use super::{statement, Predicate};
use crate::registry::Reference;
use crate::store::descriptor::{OCI_INDEX, REF_NAME_ANNOTATION};
use crate::store::{Descriptor, Digest, Store};

/// Every blob `desc` reaches: itself, children of an index, config and
/// layers of a manifest.
fn reachable(store: &Store, desc: &Descriptor, out: &mut BTreeSet<Digest>) -> Result<()> {
    out.insert(desc.digest.clone());
    let doc: Value = serde_json::from_slice(&store.read_blob(&desc.digest)?)
        .with_context(|| format!("parsing {}", desc.digest))?;
    if let Some(m) = doc.get("manifests") {
        let kids: Vec<Descriptor> = serde_json::from_value(m.clone())?;
        for k in &kids {
            reachable(store, k, out)?;
        }
    } else {
        let config: Descriptor =
            serde_json::from_value(doc["config"].clone()).context("manifest without a config")?;
        out.insert(config.digest);
        let layers: Vec<Descriptor> =
            serde_json::from_value(doc["layers"].clone()).context("manifest with bad layers")?;
        out.extend(layers.into_iter().map(|l| l.digest));
    }
    Ok(())
}

/// Writes `index` as an OCI layout tar at `out` (temp file + fsync +
/// rename), as BuildKit's `type=oci` exporter: `index.json` lists the image
/// index, named `name` (`io.containerd.image.name` and
/// `org.opencontainers.image.ref.name`) when given.
pub fn save_oci_index(
    store: &Store,
    index: &Descriptor,
    name: Option<&str>,
    out: &Path,
) -> Result<()> {
    let mut blobs = BTreeSet::new();
    reachable(store, index, &mut blobs)?;
    let mut entry = index.clone();
    if let Some(n) = name {
        entry
            .annotations
            .insert("io.containerd.image.name".into(), n.to_string());
        let tag = Reference::parse(n)
            .ok()
            .and_then(|r| r.tag().map(str::to_string))
            .unwrap_or_else(|| "latest".into());
        entry.annotations.insert(REF_NAME_ANNOTATION.into(), tag);
    }
    let top = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry],
    }))?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".builder-oci-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    {
        let mut tar = tar::Builder::new(std::io::BufWriter::new(tmp.as_file()));
        let mut add = |path: &str, bytes: &[u8]| -> Result<()> {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_path(path)?;
            h.set_cksum();
            tar.append(&h, bytes)
                .with_context(|| format!("writing {path}"))
        };
        for b in &blobs {
            add(&format!("blobs/sha256/{}", b.hex()), &store.read_blob(b)?)?;
        }
        add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        add("index.json", &top)?;
        tar.into_inner()
            .context("finishing the archive")?
            .flush()
            .context("writing the archive")?;
    }
    tmp.as_file().sync_all().context("fsync archive")?;
    tmp.persist(out)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming the archive into {}", out.display()))?;
    Ok(())
}

/// The file name BuildKit's local exporter gives a predicate's statement:
/// its attestation path (`sbom.spdx.json`, `sbom-build.spdx.json`,
/// `provenance.json`).
pub fn local_file_name(p: &Predicate) -> String {
    if p.predicate_type == super::sbom::SPDX_PREDICATE {
        format!("{}.spdx.json", p.name)
    } else {
        format!("{}.json", p.name)
    }
}

/// `type=local`: each statement as a file in `dest` (`provenance.json`,
/// `sbom.spdx.json`), its subjects the exported files (path relative to
/// `dest`, sha256), as BuildKit's local exporter writes them.
pub fn write_local_files(dest: &Path, predicates: &[Predicate]) -> Result<()> {
    let mut subj = BTreeMap::new();
    for e in walkdir::WalkDir::new(dest).sort_by_file_name() {
        let e = e?;
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dest)?.to_string_lossy().to_string();
            let mut h = crate::store::digest::Hasher::new();
            let mut f = std::fs::File::open(e.path())?;
            std::io::copy(&mut f, &mut HasherWrite(&mut h))?;
            subj.insert(rel, h.finish());
        }
    }
    let subjects: Vec<Value> = subj
        .iter()
        .map(|(n, d)| json!({"name": n, "digest": {"sha256": d.hex()}}))
        .collect();
    for p in predicates {
        let bytes = indented(&statement(p, subjects.clone()))?;
        crate::store::fsutil::write_atomic(&dest.join(local_file_name(p)), &bytes, 0o644)?;
    }
    Ok(())
}

struct HasherWrite<'a>(&'a mut crate::store::digest::Hasher);

impl std::io::Write for HasherWrite<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
