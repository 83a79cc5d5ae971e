//! `builder build --output type=…,dest=…`: where a built image goes besides
//! the store — an OCI or docker archive, the flattened rootfs as a tar or a
//! directory, or a registry.
//!
//! Archives and registry outputs take BuildKit's exporter attributes
//! `compression=gzip|zstd|uncompressed`, `compression-level=N`,
//! `force-compression=true|false` and `oci-mediatypes=true|false`; without
//! them the build's `--compression`/`--compression-level` apply (gzip by
//! default, as BuildKit). As in BuildKit, layers that are already
//! compressed (pulled base layers) keep their blobs unless
//! `force-compression=true`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::engine::overlay::{with_overlays, OverlaySpec};
use crate::engine::StoredImage;
use crate::registry::convert::{export_manifest, ExportCompression, ExportOptions};
use crate::registry::{ManifestFormat, Reference, RegistryClient};
use crate::store::{save_archive, ArchiveFormat, ArchiveImage, Store};

/// Parses `type=X,dest=Y,…` into its fields.
pub fn parse_output(spec: &str) -> Result<BTreeMap<String, String>> {
    if spec.trim().is_empty() {
        bail!("--output needs a value: a directory, or type=local|tar|oci|docker|registry,…");
    }
    let mut fields = BTreeMap::new();
    for part in spec.split(',') {
        match part.split_once('=') {
            Some((k, _)) if k.trim().is_empty() => {
                bail!("--output {spec}: a field has an empty key (expected key=value)")
            }
            Some(("dest", "")) => bail!("--output {spec}: dest= is empty"),
            Some((k, v)) => fields.insert(k.trim().to_string(), v.to_string()),
            // `-o DIR` is docker's short form of type=local,dest=DIR.
            None if !spec.contains('=') => {
                fields.insert("type".into(), "local".into());
                fields.insert("dest".into(), part.to_string())
            }
            None => bail!("--output {spec}: expected key=value fields"),
        };
    }
    if !fields.contains_key("type") {
        bail!("--output {spec}: missing type= (oci, docker, tar, local or registry)");
    }
    Ok(fields)
}

/// A boolean exporter attribute (`true`/`false`, `1`/`0`), if given.
fn bool_attr(f: &BTreeMap<String, String>, key: &str, spec: &str) -> Result<Option<bool>> {
    f.get(key)
        .map(|v| match v.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => bail!("--output {spec}: {key}={other}: expected true or false"),
        })
        .transpose()
}

/// The layer compression an output asks for: its `compression=` and
/// `compression-level=` attributes over the build's `defaults`.
fn output_compression(
    f: &BTreeMap<String, String>,
    spec: &str,
    defaults: ExportCompression,
) -> Result<ExportCompression> {
    let level =
        match f.get("compression-level") {
            Some(l) => Some(l.parse::<i32>().with_context(|| {
                format!("--output {spec}: compression-level={l} is not a number")
            })?),
            None => defaults.level,
        };
    let algo = match f.get("compression") {
        Some(a) => a.clone(),
        None => defaults.algorithm.unwrap_or_default().to_string(),
    };
    ExportCompression::parse(&algo, level).with_context(|| format!("--output {spec}"))
}

/// The attestations an output carries (see `cli::build_attest`).
pub struct Attested<'a> {
    /// The predicates of the image.
    pub predicates: &'a [crate::attest::Predicate],
    /// The image's platform.
    pub platform: &'a crate::plan::Platform,
}

/// Writes one `--output`; `compression` is the build's `--compression` and
/// `--compression-level`, which the output's own attributes override. With
/// `attested`, `oci` and `registry` outputs get an image index with the
/// attestation manifest, and `local` the statements as files, as BuildKit
/// writes them (`docker` and `tar` outputs carry none yet).
pub fn write_output(
    store: &Store,
    image: &StoredImage,
    spec: &str,
    client: &RegistryClient,
    rt: &tokio::runtime::Runtime,
    compression: ExportCompression,
    attested: Option<&Attested<'_>>,
) -> Result<()> {
    let f = parse_output(spec)?;
    let compression = output_compression(&f, spec, compression)?;
    let force = bool_attr(&f, "force-compression", spec)?.unwrap_or(false);
    let oci_types = bool_attr(&f, "oci-mediatypes", spec)?;
    let dest = || -> Result<PathBuf> {
        f.get("dest")
            .map(PathBuf::from)
            .ok_or_else(|| anyhow!("--output {spec}: missing dest="))
    };
    let name = f.get("name").cloned();
    let archive = |format, manifest_format: Option<ManifestFormat>| -> Result<()> {
        let opts = ExportOptions {
            format: match oci_types {
                Some(true) => Some(ManifestFormat::Oci),
                Some(false) => Some(ManifestFormat::Docker),
                None => manifest_format,
            },
            compression,
            force,
        };
        let manifest = export_manifest(store, &image.manifest, &opts)
            .context("preparing the image for the archive")?;
        let img = ArchiveImage {
            familiar: name
                .as_deref()
                .and_then(|n| Reference::parse(n).ok())
                .map(|r| r.familiar()),
            name: name.clone(),
            manifest,
        };
        save_archive(store, &[img], format, &dest()?)
    };
    match f["type"].as_str() {
        "oci" if attested.is_some() => {
            let a = attested.expect("checked");
            let published = super::build_attest::exported(store, image, compression, force)?;
            let names: Vec<String> = name.iter().cloned().collect();
            let index = super::build_attest::single_index(
                store,
                &published,
                &names,
                a.platform,
                a.predicates,
            )?;
            crate::attest::export::save_oci_index(store, &index, name.as_deref(), &dest()?)
        }
        // type=oci writes OCI media types; type=docker keeps the build's
        // (`--format`, OCI by default) unless oci-mediatypes= says.
        "oci" => archive(ArchiveFormat::Oci, Some(ManifestFormat::Oci)),
        "docker" => archive(ArchiveFormat::Docker, None),
        "tar" => rootfs(store, image, |root| {
            let out = dest()?;
            let tmp = out.with_extension("tmp");
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            let opts = crate::layer::WriteOptions::default();
            let (_, _, file) = crate::layer::write_to(root, file, &opts)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &out)?;
            Ok(())
        }),
        "local" => rootfs(store, image, |root| {
            let out = dest()?;
            std::fs::create_dir_all(&out)?;
            let opts = crate::engine::copy::CopyOptions {
                preserve_owner: true,
                ..Default::default()
            };
            let mut links = crate::engine::copy::HardlinkMap::default();
            crate::engine::copy::copy_dir_contents(root, &out, &opts, &mut links)?;
            if let Some(a) = attested {
                crate::attest::export::write_local_files(&out, a.predicates)?;
            }
            Ok(())
        }),
        "registry" | "image" => {
            let target = name.ok_or_else(|| anyhow!("--output {spec}: missing name="))?;
            if force {
                bail!("--output {spec}: force-compression applies to oci and docker archives only");
            }
            let r = Reference::parse(&target)?;
            if let Some(a) = attested {
                let published = super::build_attest::exported(store, image, compression, false)?;
                let index = super::build_attest::single_index(
                    store,
                    &published,
                    std::slice::from_ref(&target),
                    a.platform,
                    a.predicates,
                )?;
                rt.block_on(crate::attest::store::push_index(
                    client,
                    store,
                    &index,
                    &[r],
                ))?;
                return Ok(());
            }
            let opts = crate::registry::PushOptions {
                format: oci_types.map(|oci| {
                    if oci {
                        ManifestFormat::Oci
                    } else {
                        ManifestFormat::Docker
                    }
                }),
                compression,
                ..Default::default()
            };
            rt.block_on(crate::registry::push(
                client,
                store,
                &image.manifest,
                &[r],
                &opts,
            ))?;
            Ok(())
        }
        other => {
            bail!("--output type={other} is not supported: use oci, docker, tar, local or registry")
        }
    }
}

/// Mounts the image's layers read-only and hands the merged root to `f`.
pub(crate) fn rootfs(
    store: &Store,
    image: &StoredImage,
    f: impl FnOnce(&std::path::Path) -> Result<()> + Send,
) -> Result<()> {
    let (img, _) =
        crate::engine::base::load_local(store, &image.manifest, &crate::store::Platform::host())?;
    let lowers = img.lowers(store)?;
    with_overlays(
        &[OverlaySpec {
            lowers,
            upper: None,
        }],
        &store.temp_dir()?,
        |roots| f(&roots[0]).map_err(|e| std::io::Error::other(format!("{e:#}"))),
    )?;
    Ok(())
}
