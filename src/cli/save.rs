//! `builder save -o FILE [--format oci|docker] [--compression ALGO]
//! [--compression-level N] REF...`.
//!
//! By default layers are written as stored: built layers as uncompressed
//! tars (as `docker save` writes every layer), pulled layers as their
//! registry blobs, so a pulled image keeps its manifest digest (as `docker
//! save` with the containerd image store does). `--compression
//! gzip|zstd|uncompressed` converts every layer, pulled ones too, and writes
//! OCI media types; each variant is made once and remembered in the store.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::pull::{find_local, StoreArgs};
use crate::registry::convert::{export_manifest, ExportCompression, ExportOptions};
use crate::registry::{ManifestFormat, Reference};
use crate::store::{save_archive, ArchiveFormat, ArchiveImage};

/// Archive formats for `--format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SaveFormat {
    /// A tar of an OCI image layout (`oci-archive:`).
    Oci,
    /// docker-archive, for `docker load`.
    Docker,
}

/// `builder save` options.
#[derive(Debug, Args)]
pub struct SaveArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The output file.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Archive format.
    #[arg(long, value_enum, default_value = "docker")]
    pub format: SaveFormat,
    /// Layer compression for every layer: gzip, zstd or uncompressed
    /// (default: as stored, so built layers are uncompressed).
    #[arg(long)]
    pub compression: Option<String>,
    /// Compression level (gzip 0-9, zstd -7-22).
    #[arg(long)]
    pub compression_level: Option<i32>,
    /// The images to save.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Runs `builder save`.
pub fn run(args: SaveArgs) -> Result<i32> {
    let store = args.store.open_store()?;
    let opts = match &args.compression {
        Some(algo) => ExportOptions {
            format: Some(ManifestFormat::Oci),
            compression: ExportCompression::parse(algo, args.compression_level)?,
            force: true,
        },
        None if args.compression_level.is_some() => {
            bail!("--compression-level needs --compression gzip or zstd")
        }
        // Nothing is converted: plain stays plain, registry blobs stay.
        None => ExportOptions {
            format: None,
            compression: ExportCompression {
                algorithm: Some(crate::layer::Compression::Uncompressed),
                level: None,
            },
            force: false,
        },
    };
    let mut images = Vec::new();
    for i in &args.images {
        let (name, desc) = find_local(&store, i)?;
        if crate::attest::store::has_attestations(&store, &desc) {
            match args.format {
                // The attested index as BuildKit's oci exporter writes it:
                // image and attestation manifests, subjects re-pointed at
                // the manifests as converted.
                SaveFormat::Oci if args.images.len() == 1 => {
                    let index = crate::attest::store::republish(&store, &desc, |m| {
                        export_manifest(
                            &store,
                            m,
                            &ExportOptions {
                                format: Some(ManifestFormat::Oci),
                                ..opts
                            },
                        )
                    })?;
                    crate::attest::export::save_oci_index(
                        &store,
                        &index,
                        Some(&name),
                        &args.output,
                    )?;
                    return Ok(0);
                }
                SaveFormat::Oci => bail!(
                    "{i} has attestations (an image index): save it alone with --format oci, \
                     or with --format docker (image only)"
                ),
                // A docker archive holds image manifests only (BuildKit's
                // docker exporter): the image of this index, no attestations.
                SaveFormat::Docker => {
                    eprintln!(
                        "warning: {i}: docker archives carry no attestations; the image is \
                         saved without them (--format oci keeps them)"
                    );
                    let image = attested_image(&store, &desc)
                        .with_context(|| format!("{i}: finding the image in its index"))?;
                    let r = Reference::parse(&name).ok();
                    let tagged = r.as_ref().is_some_and(|r| r.tag().is_some());
                    images.push(ArchiveImage {
                        familiar: r.as_ref().filter(|_| tagged).map(Reference::familiar),
                        name: Some(name),
                        manifest: export_manifest(&store, &image, &opts)
                            .with_context(|| format!("preparing {i} for the archive"))?,
                    });
                    continue;
                }
            }
        }
        let r = Reference::parse(&name).ok();
        let tagged = r.as_ref().is_some_and(|r| r.tag().is_some());
        images.push(ArchiveImage {
            familiar: r.as_ref().filter(|_| tagged).map(Reference::familiar),
            name: Some(name),
            manifest: export_manifest(&store, &desc, &opts)
                .with_context(|| format!("preparing {i} for the archive"))?,
        });
    }
    let format = match args.format {
        SaveFormat::Oci => ArchiveFormat::Oci,
        SaveFormat::Docker => ArchiveFormat::Docker,
    };
    save_archive(&store, &images, format, &args.output)?;
    Ok(0)
}

/// The image manifest of a single-platform attested index (the entry that
/// is not an attestation manifest); several images are refused.
fn attested_image(
    store: &crate::store::Store,
    index: &crate::store::Descriptor,
) -> Result<crate::store::Descriptor> {
    let doc: serde_json::Value = serde_json::from_slice(&store.read_blob(&index.digest)?)?;
    let kids: Vec<crate::store::Descriptor> =
        serde_json::from_value(doc["manifests"].clone()).context("index without manifests")?;
    let mut images = kids.into_iter().filter(|k| {
        k.annotations
            .get(crate::attest::REFERENCE_TYPE_ANNOTATION)
            .map(String::as_str)
            != Some(crate::attest::ATTESTATION_MANIFEST)
    });
    match (images.next(), images.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => bail!("the index has no image manifest"),
        (Some(_), Some(_)) => bail!(
            "the index holds several platforms' images: a docker archive holds one; use --format oci"
        ),
    }
}
