//! `builder build --output` of a multi-platform build: the image index
//! (and, with attestations, one attestation manifest per platform) to an
//! archive, a registry or one directory per platform. The single-platform
//! outputs and the shared attribute parsing are in `output.rs`.

use anyhow::{anyhow, bail, Context as _, Result};
use std::path::PathBuf;

use super::output::{
    bool_attr, output_compression, parse_output, push_attested, write_output, Attested,
};
use crate::registry::convert::{ExportCompression, ExportOptions};
use crate::registry::{ManifestFormat, Reference, RegistryClient};
use crate::store::{save_archive, ArchiveFormat, ArchiveImage, Store};

/// Writes one `--output` of a multi-platform build: archives hold the
/// index (a Docker manifest list for `oci-mediatypes=false`, or for
/// `type=docker` under `--format docker`), `type=local` one directory per
/// platform named as buildx names them (`linux_amd64`), registries get the
/// index and every platform's image. With `attested` (each platform's
/// predicates), `oci` and `registry` get the index with one attestation
/// manifest per platform and `local` each platform's statements as files
/// (`docker` carries none, as in single-platform builds).
#[allow(clippy::too_many_arguments)]
pub fn write_index_output(
    store: &Store,
    index: &crate::engine::StoredIndex,
    spec: &str,
    client: &RegistryClient,
    rt: &tokio::runtime::Runtime,
    compression: ExportCompression,
    format: Option<ManifestFormat>,
    attested: Option<&super::build_multi_attest::MultiAttested>,
) -> Result<()> {
    let f = parse_output(spec)?;
    let compression = output_compression(&f, spec, compression)?;
    let force = bool_attr(&f, "force-compression", spec)?.unwrap_or(false);
    let oci_types = bool_attr(&f, "oci-mediatypes", spec)?.map(|oci| match oci {
        true => ManifestFormat::Oci,
        false => ManifestFormat::Docker,
    });
    let dest = || -> Result<PathBuf> {
        f.get("dest")
            .map(PathBuf::from)
            .ok_or_else(|| anyhow!("--output {spec}: missing dest="))
    };
    let name = f.get("name").cloned();
    let archive = |kind, default_format: Option<ManifestFormat>| -> Result<()> {
        let opts = ExportOptions {
            format: oci_types.or(default_format),
            compression,
            force,
        };
        let exported = crate::registry::export_index(store, &index.index, &opts)
            .context("preparing the images for the archive")?;
        let img = ArchiveImage {
            familiar: name
                .as_deref()
                .and_then(|n| Reference::parse(n).ok())
                .map(|r| r.familiar()),
            name: name.clone(),
            manifest: exported,
        };
        save_archive(store, &[img], kind, &dest()?)
    };
    let names: Vec<String> = name.iter().cloned().collect();
    let attested_index =
        |a| super::build_multi_attest::published_index(store, index, compression, force, &names, a);
    match f["type"].as_str() {
        "oci" if attested.is_some() => {
            let index = attested_index(attested.expect("checked"))?;
            crate::attest::export::save_oci_index(store, &index, name.as_deref(), &dest()?)
        }
        "oci" => archive(ArchiveFormat::Oci, Some(ManifestFormat::Oci)),
        "docker" => {
            if let Some((_, preds)) = attested.and_then(|a| a.per_platform.first()) {
                super::output::warn_docker_drops_attestations(&format!("--output {spec}"), preds);
            }
            archive(ArchiveFormat::Docker, format)
        }
        "local" => {
            let out = dest()?;
            for (i, (platform, image)) in index.images.iter().enumerate() {
                let dir = out.join(crate::plan::platform::dir_name(platform));
                let preds = attested.and_then(|a| a.per_platform.get(i));
                let att = preds.map(|(p, preds)| Attested {
                    predicates: preds,
                    platform: p,
                });
                write_output(
                    store,
                    image,
                    &format!("type=local,dest={}", dir.display()),
                    &[],
                    client,
                    rt,
                    compression,
                    att.as_ref(),
                )?;
            }
            Ok(())
        }
        "tar" => bail!(
            "--output {spec}: type=tar of several platforms is not supported yet; use \
             type=local (one directory per platform) or type=oci"
        ),
        "registry" | "image" => {
            let target = name.ok_or_else(|| anyhow!("--output {spec}: missing name="))?;
            let r = Reference::parse(&target)?;
            if let Some(a) = attested {
                return push_attested(client, rt, store, &attested_index(a)?, r);
            }
            super::output::push_plain(client, rt, store, &index.index, r, oci_types, compression)
        }
        other => {
            bail!("--output type={other} is not supported: use oci, docker, tar, local or registry")
        }
    }
}
