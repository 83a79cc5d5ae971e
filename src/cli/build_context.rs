//! `--build-context NAME=VALUE` (buildx): extra named contexts that `FROM
//! NAME`, `COPY --from=NAME` and `RUN --mount=from=NAME` resolve to, as
//! BuildKit's dockerui `NamedContext` does.
//!
//! * NAME is read as an image name and kept in its familiar form without
//!   `:latest` (buildx's `ParseContextNames`): `alpine`, `docker.io/library/alpine`
//!   and `alpine:latest` are one name.
//! * VALUE: `docker-image://REF` (an image), `oci-layout://DIR[:TAG|@DIGEST]`
//!   (an image in an OCI layout directory), or a local directory, which
//!   honours its own `.dockerignore` and whose files are owned by 0:0 (buildx
//!   resets owners of every local directory it sends). Git and HTTP(S)
//!   sources are refused with a clear error.
//!
//! builder turns every named context into an image before planning: a
//! directory or an OCI layout is stored under the reserved registry
//! [`crate::engine::base::CONTEXT_REGISTRY`] (never pulled), and the plan maps
//! NAME to that reference (see `plan::PlanOptions::named_contexts`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::context::{BuildContext, IgnoreSpec};
use crate::engine::base::CONTEXT_REGISTRY;
use crate::plan::Platform;
use crate::registry::Reference;
use crate::store::{Descriptor, Digest, Store};

/// What a named context is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// `docker-image://REF`.
    Image(String),
    /// A local directory.
    Local(PathBuf),
    /// `oci-layout://DIR[:TAG|@DIGEST]`: the directory and the tag or digest.
    OciLayout(PathBuf, Option<String>),
}

/// The name a context or a base is looked up by (buildx's and dockerui's
/// normalisation): familiar form, `:latest` dropped.
pub fn lookup_name(name: &str) -> Option<String> {
    crate::plan::named::context_key(name)
}

/// Parses every `--build-context` (a later one with the same name wins, as
/// buildx's map). Errors name the value and what is accepted.
pub fn parse_all(values: &[String]) -> Result<BTreeMap<String, NamedContext>> {
    let mut out = BTreeMap::new();
    for v in values.iter().filter(|v| !v.is_empty()) {
        let (name, value) = v
            .split_once('=')
            .ok_or_else(|| anyhow!("--build-context {v}: expected NAME=VALUE"))?;
        if name.contains("::") {
            // `NAME::PLATFORM` is the key BuildKit's dockerui looks up first, but
            // buildx fills it only for bake `target:` contexts: its --build-context
            // parses NAME as an image name and refuses this one the same way.
            bail!(
                "--build-context {v}: invalid context name {name:?}: per-platform names \
                 (NAME::PLATFORM) are not accepted by buildx's --build-context either; give one \
                 context per build (--platform) instead"
            );
        }
        let key = lookup_name(name)
            .ok_or_else(|| anyhow!("--build-context {v}: invalid context name {name:?}"))?;
        out.insert(key, parse_value(v, value)?);
    }
    Ok(out)
}

fn parse_value(v: &str, value: &str) -> Result<NamedContext> {
    if let Some(r) = value.strip_prefix("docker-image://") {
        Reference::parse(r).map_err(|e| anyhow!("--build-context {v}: {r:?}: {e}"))?;
        return Ok(NamedContext::Image(r.to_string()));
    }
    if let Some(rest) = value.strip_prefix("oci-layout://") {
        let (dir, pick) = match rest.rsplit_once('@') {
            Some((d, dg)) => (d, Some(dg.to_string())),
            None => match rest.rsplit_once(':') {
                Some((d, t)) if !t.contains('/') => (d, Some(t.to_string())),
                _ => (rest, None),
            },
        };
        if !Path::new(dir).join("index.json").is_file() {
            bail!("--build-context {v}: {dir} is not an OCI layout (no index.json)");
        }
        return Ok(NamedContext::OciLayout(PathBuf::from(dir), pick));
    }
    let remote = [
        "http://", "https://", "git://", "git@", "ssh://", "input:", "target:",
    ];
    if remote.iter().any(|p| value.starts_with(p)) || value.ends_with(".git") {
        bail!(
            "--build-context {v}: git, HTTP and bake sources are not supported by builder: use a \
             local directory, docker-image://REF or oci-layout://DIR"
        );
    }
    if let Some((scheme, _)) = value.split_once("://") {
        bail!("--build-context {v}: unsupported context source {scheme}");
    }
    if !Path::new(value).is_dir() {
        bail!("--build-context {v}: {value} is not a directory");
    }
    Ok(NamedContext::Local(PathBuf::from(value)))
}

/// Turns the named contexts into image references the plan uses: images as
/// given, directories and OCI layouts stored first (for `platform`).
pub fn prepare(
    store: &Store,
    named: &BTreeMap<String, NamedContext>,
    platform: &Platform,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, nc) in named {
        let reference = match nc {
            NamedContext::Image(r) => r.clone(),
            NamedContext::Local(dir) => store_dir(store, dir, platform)
                .with_context(|| format!("--build-context {name}={}", dir.display()))?,
            NamedContext::OciLayout(dir, pick) => store_layout(store, dir, pick.as_deref())
                .with_context(|| {
                    format!("--build-context {name}=oci-layout://{}", dir.display())
                })?,
        };
        out.insert(name.clone(), reference);
    }
    Ok(out)
}

fn tag_for(store: &Store, desc: &Descriptor) -> Result<String> {
    let tag = format!("{CONTEXT_REGISTRY}/ctx:{}", &desc.digest.hex()[..32]);
    store.set_tag(&tag, desc)?;
    Ok(tag)
}

/// The directory (through its `.dockerignore`) as a one-layer image with an
/// empty config, as BuildKit gives a local context used as a base.
fn store_dir(store: &Store, dir: &Path, platform: &Platform) -> Result<String> {
    let ctx = BuildContext::from_dir(dir, IgnoreSpec::Auto { dockerfile: None })?;
    let tmp = tempfile::NamedTempFile::new_in(store.temp_dir()?)?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(tmp.reopen()?));
    for rel in ctx.list()? {
        if rel.as_os_str() == "." || rel.as_os_str().is_empty() {
            continue;
        }
        let path = ctx.root().join(&rel);
        let meta = std::fs::symlink_metadata(&path)?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        // buildx's resetUIDAndGID: files of a local context are root's.
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("")?;
        h.set_groupname("")?;
        h.set_mtime(meta.mtime().max(0) as u64);
        let ft = meta.file_type();
        if ft.is_symlink() {
            h.set_size(0);
            b.append_link(&mut h, &rel, std::fs::read_link(&path)?)?;
        } else if ft.is_dir() {
            h.set_size(0);
            b.append_data(&mut h, &rel, std::io::empty())?;
        } else if ft.is_file() {
            b.append_data(&mut h, &rel, std::fs::File::open(&path)?)?;
        }
    }
    b.into_inner()?.flush()?;
    let bytes_path = tmp.path().to_path_buf();
    let diff_id = file_digest(&bytes_path)?;
    let (digest, size) = store.put_blob_file(&bytes_path, Some(&diff_id))?;
    let mut image = crate::engine::base::scratch(platform);
    image.push_layer(crate::engine::LayerRef {
        diff_id,
        blob: Descriptor::new(crate::engine::commit::MEDIA_TYPE_LAYER_TAR, digest, size),
    });
    image.base_history = image.config.history.len();
    let stored = crate::engine::store_image(store, &image, Some(0), &[], &[])?;
    tag_for(store, &stored.manifest)
}

fn file_digest(path: &Path) -> Result<Digest> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(Digest::parse(&format!(
        "sha256:{}",
        hex::encode(h.finalize())
    ))?)
}

/// The image of an OCI layout: by `@DIGEST`, by `:TAG` (its
/// `org.opencontainers.image.ref.name`), or the only one there is.
fn store_layout(store: &Store, dir: &Path, pick: Option<&str>) -> Result<String> {
    let tmp = tempfile::NamedTempFile::new_in(store.temp_dir()?)?;
    {
        let mut b = tar::Builder::new(std::io::BufWriter::new(tmp.reopen()?));
        b.follow_symlinks(false);
        b.append_dir_all(".", dir)?;
        b.into_inner()?.flush()?;
    }
    let keep = |n: &str| Some(n.to_string());
    let images = crate::store::load::load_archive(store, std::fs::File::open(tmp.path())?, &keep)?;
    // A tag is the `org.opencontainers.image.ref.name` of an entry of
    // index.json (a bare tag names no image for the loader, so read it here).
    let by_tag = |tag: &str| -> Result<Option<String>> {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)?;
        Ok(index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| {
                m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .is_some_and(|n| n == tag || n.rsplit_once(':').is_some_and(|(_, t)| t == tag))
            })
            .and_then(|m| m["digest"].as_str().map(str::to_string)))
    };
    let want = match pick {
        Some(p) if p.starts_with("sha256:") => Some(p.to_string()),
        Some(tag) => by_tag(tag)?,
        None if images.len() == 1 => Some(images[0].descriptor.digest.to_string()),
        None => bail!(
            "{} holds {} images: name one with :TAG or @DIGEST",
            dir.display(),
            images.len()
        ),
    };
    let found = want.and_then(|w| images.iter().find(|i| i.descriptor.digest.to_string() == w));
    let img = found.ok_or_else(|| {
        anyhow!(
            "{} has no image {}",
            dir.display(),
            pick.unwrap_or_default()
        )
    })?;
    tag_for(store, &img.descriptor)
}
