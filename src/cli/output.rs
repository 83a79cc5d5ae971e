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

pub use super::output_index::write_index_output;

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
            // `-o -` is buildx's short form of type=tar,dest=- (stdout).
            None if spec == "-" => {
                fields.insert("type".into(), "tar".into());
                fields.insert("dest".into(), "-".into())
            }
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

/// Whether an output writes to stdout (`dest=-`, `-o -`).
pub(super) fn to_stdout(f: &BTreeMap<String, String>) -> bool {
    f.get("dest").is_some_and(|d| d == "-")
}

/// Checks `--output` specs and `--load` before the build starts: every spec
/// parses, at most one writes to stdout and only an archive type does
/// (`tar`, `oci`, `docker`, as buildx), stdout is then not a terminal
/// (buildx's refusal), and `--load` has a `docker` CLI to pipe into.
pub fn check_outputs(specs: &[String], load: bool) -> Result<()> {
    let mut stdout = 0;
    for spec in specs {
        let f = parse_output(spec)?;
        if to_stdout(&f) {
            if !matches!(f["type"].as_str(), "tar" | "oci" | "docker") {
                bail!(
                    "--output {spec}: dest=- (stdout) is for type=tar, oci or docker, not {}",
                    f["type"]
                );
            }
            stdout += 1;
        }
    }
    if stdout > 1 {
        bail!("--output: only one output can write to stdout (dest=-)");
    }
    if stdout == 1 && nix::unistd::isatty(std::io::stdout()).unwrap_or(false) {
        bail!(
            "--output: refusing to write an archive to the terminal; \
             redirect stdout (`> image.tar`, `| docker load`) or give dest=FILE"
        );
    }
    if load && docker_cli().is_none() {
        bail!(
            "--load pipes the image into `docker load`, but no docker CLI is on PATH; \
             the image is in builder's store anyway (`builder images`, `builder run`), \
             or write it with -o type=docker,dest=FILE and load that where Docker runs"
        );
    }
    Ok(())
}

/// The `docker` executable on PATH, if any.
pub fn docker_cli() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("docker"))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `--load`: the image as a docker archive piped into `docker load`, as
/// buildx's `--load` (`--output type=docker`) does; `tags` are its names.
pub fn load_into_docker(store: &Store, image: &StoredImage, tags: &[String]) -> Result<()> {
    let docker = docker_cli().ok_or_else(|| anyhow!("--load: no docker CLI on PATH"))?;
    // As `builder save` writes by default: nothing recompressed (docker
    // load decompresses whatever it gets; built layers stay plain tars).
    let opts = ExportOptions {
        format: None,
        compression: ExportCompression {
            algorithm: Some(crate::layer::Compression::Uncompressed),
            level: None,
        },
        force: false,
    };
    let manifest = export_manifest(store, &image.manifest, &opts)
        .context("preparing the image for docker load")?;
    let mut images: Vec<ArchiveImage> = tags
        .iter()
        .map(|t| ArchiveImage {
            familiar: Reference::parse(t).ok().map(|r| r.familiar()),
            name: Some(t.clone()),
            manifest: manifest.clone(),
        })
        .collect();
    if images.is_empty() {
        images.push(ArchiveImage {
            familiar: None,
            name: None,
            manifest,
        });
    }
    let mut child = std::process::Command::new(&docker)
        .arg("load")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::inherit())
        .spawn()
        .with_context(|| format!("--load: starting {} load", docker.display()))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let written = save_archive_to(store, &images, ArchiveFormat::Docker, stdin);
    let status = child.wait().context("--load: waiting for docker load")?;
    if !status.success() {
        bail!("--load: `docker load` failed ({status})");
    }
    written.context("--load: writing the archive to docker load")
}

fn save_archive_to(
    store: &Store,
    images: &[ArchiveImage],
    format: ArchiveFormat,
    out: impl std::io::Write,
) -> Result<()> {
    crate::store::write_archive(store, images, format, out)
}

/// A boolean exporter attribute (`true`/`false`, `1`/`0`), if given.
pub(super) fn bool_attr(
    f: &BTreeMap<String, String>,
    key: &str,
    spec: &str,
) -> Result<Option<bool>> {
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
pub(super) fn output_compression(
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
/// `--compression-level`, which the output's own attributes override;
/// archives without `name=` are named by `tags` (the build's `-t`), as buildx.
/// With `attested`, `oci` and `registry` outputs get an image index with the
/// attestation manifest, and `local` the statements as files, as BuildKit
/// writes them; `tar` gets the statements as files too, `docker` none (a
/// warning says so), as BuildKit's tar and docker exporters.
#[allow(clippy::too_many_arguments)]
pub fn write_output(
    store: &Store,
    image: &StoredImage,
    spec: &str,
    tags: &[String],
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
        let names: Vec<String> = match &name {
            Some(n) => n.split(',').map(str::to_string).collect(),
            None => tags.to_vec(),
        };
        let mut imgs: Vec<ArchiveImage> = names
            .iter()
            .map(|n| ArchiveImage {
                familiar: Reference::parse(n).ok().map(|r| r.familiar()),
                name: Some(n.clone()),
                manifest: manifest.clone(),
            })
            .collect();
        if imgs.is_empty() {
            imgs.push(ArchiveImage {
                familiar: None,
                name: None,
                manifest,
            });
        }
        if to_stdout(&f) {
            let out = std::io::stdout().lock();
            return save_archive_to(store, &imgs, format, out).context("writing to stdout");
        }
        save_archive(store, &imgs, format, &dest()?)
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
        "docker" => {
            if let Some(a) = attested {
                warn_docker_drops_attestations(&format!("--output {spec}"), a.predicates);
            }
            archive(ArchiveFormat::Docker, None)
        }
        "tar" if to_stdout(&f) => tar_root(store, image, attested, |root| {
            let opts = crate::layer::WriteOptions::default();
            let (_, _, mut out) = crate::layer::write_to(root, std::io::stdout().lock(), &opts)?;
            std::io::Write::flush(&mut out).context("writing to stdout")?;
            Ok(())
        }),
        "tar" => tar_root(store, image, attested, |root| {
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
                return push_attested(client, rt, store, &index, r);
            }
            let format = oci_types.map(|oci| match oci {
                true => ManifestFormat::Oci,
                false => ManifestFormat::Docker,
            });
            push_plain(client, rt, store, &image.manifest, r, format, compression)
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
    stage_rootfs(store, &img, f)
}

/// A docker archive (`--output type=docker`, `--load`'s `docker load`)
/// with attestations: it holds one image manifest, no index, so the
/// attestations (`preds`, named by their attestation paths) are left out.
/// buildx refuses this case with "docker exporter does not currently
/// support exporting manifest lists"; builder writes the image and warns
/// with the same words, naming what is dropped and what keeps it. `what`
/// is the flag (`--load`, `--output SPEC`).
pub(super) fn warn_docker_drops_attestations(what: &str, preds: &[crate::attest::Predicate]) {
    let names: Vec<&str> = preds.iter().map(|p| p.name.as_str()).collect();
    eprintln!(
        "warning: {what}: docker exporter does not currently support exporting manifest \
         lists: the image goes without its attestations ({}); use --push or --output \
         type=oci to keep them",
        names.join(", ")
    );
}

/// The root `type=tar` archives: the image's root file system, and with
/// `attested` the statements as files at its top (`provenance.json`,
/// `sbom.spdx.json`, their subjects the image's files), as BuildKit's tar
/// exporter writes them (the local exporter's file system, tarred). The
/// statements go to a scratch upper dir, never into the image's layers.
fn tar_root(
    store: &Store,
    image: &StoredImage,
    attested: Option<&Attested<'_>>,
    f: impl FnOnce(&std::path::Path) -> Result<()> + Send,
) -> Result<()> {
    let Some(a) = attested else {
        return rootfs(store, image, f);
    };
    let (img, _) =
        crate::engine::base::load_local(store, &image.manifest, &crate::store::Platform::host())?;
    let lowers = img.lowers(store)?;
    let scratch = tempfile::tempdir_in(store.temp_dir()?)?;
    let upper = scratch.path().join("upper");
    std::fs::create_dir(&upper)?;
    with_overlays(
        &[OverlaySpec {
            lowers,
            upper: Some(upper),
        }],
        &store.temp_dir()?,
        |roots| {
            crate::attest::export::write_local_files(&roots[0], a.predicates)
                .and_then(|()| f(&roots[0]))
                .map_err(|e| std::io::Error::other(format!("{e:#}")))
        },
    )?;
    Ok(())
}

/// Mounts a built stage's layers read-only and hands the merged root to `f`.
pub(crate) fn stage_rootfs(
    store: &Store,
    img: &crate::engine::StageImage,
    f: impl FnOnce(&std::path::Path) -> Result<()> + Send,
) -> Result<()> {
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

/// Pushes an image without attestations, a manifest or a multi-platform
/// index (told apart by `desc`'s media type), as `target` with the
/// output's `oci-mediatypes=` (`format`, `None`: as stored) and
/// compression: the registry branch of both [`write_output`] and
/// [`write_index_output`] when nothing is attested.
pub(super) fn push_plain(
    client: &RegistryClient,
    rt: &tokio::runtime::Runtime,
    store: &Store,
    desc: &crate::store::Descriptor,
    target: Reference,
    format: Option<ManifestFormat>,
    compression: ExportCompression,
) -> Result<()> {
    let opts = crate::registry::PushOptions {
        format,
        compression,
        ..Default::default()
    };
    let dests = [target];
    if crate::store::descriptor::is_index(&desc.media_type) {
        rt.block_on(crate::registry::push_index(
            client, store, desc, &dests, &opts,
        ))?;
    } else {
        rt.block_on(crate::registry::push(client, store, desc, &dests, &opts))?;
    }
    Ok(())
}

/// Pushes an attested image index (image manifests and their attestation
/// manifests, see `attest::store::push_index`) as `target`: the registry
/// branch of both [`write_output`] and [`write_index_output`].
pub(super) fn push_attested(
    client: &RegistryClient,
    rt: &tokio::runtime::Runtime,
    store: &Store,
    index: &crate::store::Descriptor,
    target: Reference,
) -> Result<()> {
    rt.block_on(crate::attest::store::push_index(
        client,
        store,
        index,
        &[target],
    ))?;
    Ok(())
}
