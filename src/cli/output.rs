//! `builder build --output type=…,dest=…`: where a built image goes besides
//! the store — an OCI or docker archive, the flattened rootfs as a tar or a
//! directory, or a registry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::engine::overlay::{with_overlays, OverlaySpec};
use crate::engine::StoredImage;
use crate::registry::{Reference, RegistryClient};
use crate::store::{save_archive, ArchiveFormat, ArchiveImage, Store};

/// Parses `type=X,dest=Y,…` into its fields.
pub fn parse_output(spec: &str) -> Result<BTreeMap<String, String>> {
    let mut fields = BTreeMap::new();
    for part in spec.split(',') {
        match part.split_once('=') {
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

/// Writes one `--output`.
pub fn write_output(
    store: &Store,
    image: &StoredImage,
    spec: &str,
    client: &RegistryClient,
    rt: &tokio::runtime::Runtime,
) -> Result<()> {
    let f = parse_output(spec)?;
    let dest = || -> Result<PathBuf> {
        f.get("dest")
            .map(PathBuf::from)
            .ok_or_else(|| anyhow!("--output {spec}: missing dest="))
    };
    let name = f.get("name").cloned();
    let archive = |format| -> Result<()> {
        let img = ArchiveImage {
            familiar: name
                .as_deref()
                .and_then(|n| Reference::parse(n).ok())
                .map(|r| r.familiar()),
            name: name.clone(),
            manifest: image.manifest.clone(),
        };
        save_archive(store, &[img], format, &dest()?)
    };
    match f["type"].as_str() {
        "oci" => archive(ArchiveFormat::Oci),
        "docker" => archive(ArchiveFormat::Docker),
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
            Ok(())
        }),
        "registry" | "image" => {
            let target = name.ok_or_else(|| anyhow!("--output {spec}: missing name="))?;
            let r = Reference::parse(&target)?;
            let opts = crate::registry::PushOptions::default();
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
fn rootfs(
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
        &store.tmp_dir(),
        |roots| f(&roots[0]).map_err(|e| std::io::Error::other(format!("{e:#}"))),
    )?;
    Ok(())
}
