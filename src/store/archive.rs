//! `builder save`: images from the store as one tar file.
//!
//! Both formats are an OCI image layout in a tar (as Docker 25+ writes
//! them); the docker format adds `manifest.json` and `repositories`, which
//! `docker load` and skopeo's `docker-archive:` read. Blobs are copied as
//! the given manifests name them: callers convert layers to the wanted
//! compression first (`registry::convert::export_manifest`, which stores
//! the variants); docker load and skopeo decompress gzip/zstd layers.
//! Entries are sorted and their headers fixed (mtime 0, root-owned), so the
//! same images give the same archive bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::descriptor::{is_index, is_manifest, Descriptor, REF_NAME_ANNOTATION};
use super::digest::Digest;
use super::Store;

/// The archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// A tar of an OCI image layout (`oci-archive:`).
    Oci,
    /// docker-archive: OCI layout plus `manifest.json` and `repositories`.
    Docker,
}

/// One image to save.
#[derive(Debug, Clone)]
pub struct ArchiveImage {
    /// Full reference name (`docker.io/library/ubuntu:16.04`), if tagged.
    pub name: Option<String>,
    /// Docker's short form (`ubuntu:16.04`) for `RepoTags`.
    pub familiar: Option<String>,
    /// The image's manifest (not an index: pick the platform first).
    pub manifest: Descriptor,
}

fn header(path: &str, size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    // Paths are short (blobs/sha256/<64 hex>), within ustar's 100 bytes.
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

/// Writes `images` from `store` to `out` (atomically: temp file + rename).
pub fn save_archive(
    store: &Store,
    images: &[ArchiveImage],
    format: ArchiveFormat,
    out: &Path,
) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".builder-save-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    write_archive(store, images, format, tmp.as_file())?;
    tmp.as_file().sync_all().context("fsync archive")?;
    tmp.persist(out)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming archive into {}", out.display()))?;
    Ok(())
}

/// Writes `images` from `store` as an archive to `out` (a pipe, stdout):
/// the same bytes [`save_archive`] writes to a file.
pub fn write_archive(
    store: &Store,
    images: &[ArchiveImage],
    format: ArchiveFormat,
    out: impl Write,
) -> Result<()> {
    if images.is_empty() {
        bail!("no images to save");
    }
    let mut blobs: BTreeSet<Digest> = BTreeSet::new();
    let mut index_entries = Vec::new();
    let mut docker_manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for img in images {
        // An index (a multi-platform build) goes in whole: its blob, and
        // each platform's manifest with its config and layers. In
        // manifest.json only the host's platform (else the first) carries
        // the tags, since `docker load` tags one image per name.
        let children: Vec<Descriptor> = if is_index(&img.manifest.media_type) {
            blobs.insert(img.manifest.digest.clone());
            let doc: Value = serde_json::from_slice(&store.read_blob(&img.manifest.digest)?)
                .with_context(|| format!("parsing index {}", img.manifest.digest))?;
            let list: Vec<Descriptor> = serde_json::from_value(doc["manifests"].clone())
                .with_context(|| format!("index {} has bad entries", img.manifest.digest))?;
            let host = super::Platform::host();
            let tagged = list
                .iter()
                .position(|d| d.platform.as_ref().is_some_and(|p| host.matches(p)))
                .unwrap_or(0);
            let mut list = list;
            let first = list.remove(tagged);
            list.insert(0, first);
            list
        } else if is_manifest(&img.manifest.media_type) {
            vec![img.manifest.clone()]
        } else {
            bail!(
                "cannot save {}: {} is a {}, not an image",
                img.name.as_deref().unwrap_or("image"),
                img.manifest.digest,
                img.manifest.media_type
            );
        };
        for (n, child) in children.iter().enumerate() {
            let manifest: Value = serde_json::from_slice(&store.read_blob(&child.digest)?)
                .with_context(|| format!("parsing manifest {}", child.digest))?;
            let digest_of = |v: &Value| -> Result<Digest> {
                Digest::parse(v.get("digest").and_then(Value::as_str).unwrap_or_default())
                    .context("manifest has a descriptor without a valid digest")
            };
            let config = digest_of(&manifest["config"])?;
            let layers: Vec<Digest> = manifest["layers"]
                .as_array()
                .context("manifest has no layers array")?
                .iter()
                .map(digest_of)
                .collect::<Result<_>>()?;
            blobs.insert(child.digest.clone());
            blobs.insert(config.clone());
            blobs.extend(layers.iter().cloned());
            let repo_tags: Vec<String> = match n {
                0 => img.familiar.iter().cloned().collect(),
                _ => Vec::new(),
            };
            docker_manifest.push(json!({
                "Config": format!("blobs/sha256/{}", config.hex()),
                "RepoTags": repo_tags,
                "Layers": layers.iter().map(|l| format!("blobs/sha256/{}", l.hex())).collect::<Vec<_>>(),
            }));
            if n > 0 {
                continue;
            }
            if let Some((repo, tag)) = img.familiar.as_deref().and_then(|f| f.rsplit_once(':')) {
                repositories
                    .entry(repo.to_string())
                    .or_default()
                    .insert(tag.to_string(), config.hex().to_string());
            }
        }
        let mut entry = img.manifest.clone();
        entry.annotations.clear();
        if let Some(name) = &img.name {
            entry
                .annotations
                .insert("io.containerd.image.name".into(), name.clone());
            let tag = name
                .rsplit_once(':')
                .map(|(_, t)| t)
                .filter(|t| !t.contains('/'));
            if let Some(t) = tag.filter(|_| format == ArchiveFormat::Docker) {
                entry
                    .annotations
                    .insert(REF_NAME_ANNOTATION.into(), t.to_string());
            } else {
                entry
                    .annotations
                    .insert(REF_NAME_ANNOTATION.into(), name.clone());
            }
        }
        index_entries.push(entry);
    }
    for b in &blobs {
        if !store.has_blob(b) {
            bail!("blob {b} is missing from the store (was the image fully pulled?)");
        }
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": super::descriptor::OCI_INDEX,
        "manifests": index_entries,
    });
    {
        let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, out));
        let add_bytes = |tar: &mut tar::Builder<_>, path: &str, bytes: &[u8]| -> Result<()> {
            let h = header(path, bytes.len() as u64, 0o644, tar::EntryType::Regular);
            tar.append(&h, bytes)
                .with_context(|| format!("writing {path}"))
        };
        for d in ["blobs/", "blobs/sha256/"] {
            let h = header(d, 0, 0o755, tar::EntryType::Directory);
            tar.append(&h, std::io::empty())?;
        }
        for b in &blobs {
            let f = store.open_blob(b)?;
            let size = f.metadata()?.len();
            let path = format!("blobs/sha256/{}", b.hex());
            let h = header(&path, size, 0o644, tar::EntryType::Regular);
            tar.append(&h, f.take(size))
                .with_context(|| format!("writing blob {b}"))?;
        }
        add_bytes(&mut tar, "index.json", &serde_json::to_vec(&index)?)?;
        if format == ArchiveFormat::Docker {
            add_bytes(
                &mut tar,
                "manifest.json",
                &serde_json::to_vec(&docker_manifest)?,
            )?;
            add_bytes(
                &mut tar,
                "repositories",
                &serde_json::to_vec(&repositories)?,
            )?;
        }
        add_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let mut w = tar.into_inner().context("finishing the archive")?;
        w.flush().context("writing the archive")?;
    }
    Ok(())
}
