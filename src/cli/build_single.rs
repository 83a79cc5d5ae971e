//! The end of a one-platform `builder build`: the image stored and tagged,
//! its attestations, then `--iidfile`, `--push`, `--output`, `--load`,
//! `--cache-to` and `--metadata-file`, as `docker buildx build` does them
//! (several platforms: `build_multi`).

use anyhow::{bail, Result};

use super::build_multi::Finish;
use crate::engine::StageImage;
use crate::image::annotations::Level;
use crate::progress::Progress;
use crate::registry::Reference;

impl Finish<'_> {
    /// Stores `image` (the one platform's) and does the build's outputs with it.
    pub fn finish_single(self, image: StageImage) -> Result<i32> {
        let Finish {
            args,
            store,
            client,
            rt,
            plan,
            progress,
            tags,
            labels,
            annotations,
            attest_opts,
            attest_inputs,
            ..
        } = self;
        let platform_name = plan.platform.to_string();
        for level in [Level::Index, Level::ManifestDescriptor] {
            if annotations.has(level) {
                eprintln!(
                    "warning: --annotation: {level:?} annotations need an image index (several \
                 --platform values); this build has one image, they are not written"
                );
            }
        }
        let stored = crate::engine::store_image_annotated(
            store,
            &image,
            args.source_date_epoch,
            labels,
            tags,
            &annotations.at(Level::Manifest, Some(&platform_name)),
        )?;
        // Attestations: predicates once, then one attestation manifest per
        // published form of the manifest (store, push, each output).
        let preds = super::build_attest::store_attested(
            attest_opts,
            attest_inputs,
            plan,
            store,
            &stored,
            tags,
        )?;
        progress.finish(Some(stored.config_digest.to_string()));

        if let Some(path) = &args.iidfile {
            crate::store::fsutil::write_atomic(
                path,
                stored.config_digest.to_string().as_bytes(),
                0o644,
            )?;
        }
        let mut pushed_digest = None;
        // `containerimage.descriptor` of --metadata-file: the manifest as
        // stored, or as pushed (an index with attestations: not known here).
        let mut descriptor = Some(serde_json::json!({
            "mediaType": stored.manifest.media_type,
            "digest": stored.manifest.digest.to_string(),
            "size": stored.manifest.size,
        }));
        if args.push {
            if tags.is_empty() {
                bail!("--push needs at least one -t NAME:TAG");
            }
            let dests: Vec<Reference> = tags
                .iter()
                .map(|t| Reference::parse(t))
                .collect::<Result<_, _>>()?;
            let format = match args.format.as_str() {
                "oci" => None,
                "docker" => Some(crate::registry::ManifestFormat::Docker),
                other => bail!("--format {other}: use oci or docker"),
            };
            let opts = crate::registry::PushOptions {
                format,
                mount_from: Vec::new(),
                compression: super::push::export_compression(
                    &args.compression,
                    args.compression_level,
                )?,
            };
            pushed_digest = if preds.is_empty() {
                let names: Vec<String> = dests.iter().map(Reference::familiar).collect();
                let pushed = super::pull::transfer_step(
                    rt,
                    progress,
                    format!("pushing {}", names.join(", ")),
                    crate::registry::push(client, store, &stored.manifest, &dests, &opts),
                )?;
                descriptor = pushed.digest.as_ref().map(|d| {
                    serde_json::json!({
                        "mediaType": pushed.media_type,
                        "digest": d.to_string(),
                        "size": pushed.size,
                    })
                });
                pushed.digest.map(|d| d.to_string())
            } else {
                descriptor = None;
                let index = super::build_attest::published_index(
                    store,
                    &stored,
                    opts.compression,
                    tags,
                    &plan.platform,
                    &preds,
                )?;
                let d = rt.block_on(crate::attest::store::push_index(
                    client, store, &index, &dests,
                ))?;
                Some(d.to_string())
            };
            report_pushed(progress, &dests, pushed_digest.as_deref());
        }
        let output_compression =
            super::push::export_compression(&args.compression, args.compression_level)?;
        for output in &args.outputs {
            let attested = super::output::Attested {
                predicates: &preds,
                platform: &plan.platform,
            };
            super::output::write_output(
                store,
                &stored,
                output,
                tags,
                client,
                rt,
                output_compression,
                (!preds.is_empty()).then_some(&attested),
            )?;
        }
        if args.load {
            if !preds.is_empty() {
                super::output::warn_docker_drops_attestations("--load", &preds);
            }
            super::output::load_into_docker(store, &stored, tags)?;
        }
        self.export_caches()?;
        if let Some(path) = &args.metadata_file {
            let mut meta = serde_json::json!({
                "containerimage.config.digest": stored.config_digest.to_string(),
                "containerimage.digest": pushed_digest.clone().unwrap_or_else(|| stored.manifest.digest.to_string()),
                "image.name": metadata_image_name(&args.tags),
            });
            if let Some(d) = descriptor {
                meta["containerimage.descriptor"] = d;
            }
            crate::store::fsutil::write_atomic(
                path,
                serde_json::to_string_pretty(&meta)?.as_bytes(),
                0o644,
            )?;
        }
        // With an archive on stdout, the ID would corrupt it.
        let stdout_taken = args.outputs.iter().any(|o| {
            super::output::parse_output(o).is_ok_and(|f| f.get("dest").is_some_and(|d| d == "-"))
        });
        if args.quiet && !stdout_taken {
            println!("{}", stored.config_digest);
        }
        Ok(0)
    }

    /// `--cache-to`: the build's cache to each destination (one cache for
    /// every platform: step keys include the platform); `ignore-error=true`
    /// ones only warn.
    pub(super) fn export_caches(&self) -> Result<()> {
        for spec in self.cache_to {
            match self.engine.export_cache(self.plan, spec) {
                Ok(s) if !self.args.quiet => eprintln!(
                    "exported cache to {} ({} step records, {} cache mounts, {} layers, {})",
                    spec.location, s.records, s.mounts, s.layers, s.digest
                ),
                Ok(_) => {}
                Err(e) if spec.ignore_error => {
                    eprintln!("warning: cache export to {} failed: {e:#}", spec.location)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `image.name` of `--metadata-file`: the `-t` names as buildx passes them
/// to BuildKit, each normalised (`docker.io/library/…`) but with no `:latest`
/// added (`reference.ParseNormalizedNamed(t).String()`), joined by commas.
/// The tags were checked before the build; one that does not parse is kept as given.
pub(super) fn metadata_image_name(tags: &[String]) -> String {
    tags.iter()
        .map(|t| Reference::parse_named(t).map_or_else(|_| t.clone(), |r| r.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `pushed NAME (DIGEST)` per destination, through the progress stream
/// (a `pushed` event in json mode; nothing with `--quiet`).
pub(super) fn report_pushed(progress: &Progress, dests: &[Reference], digest: Option<&str>) {
    for d in dests {
        progress.pushed(d.familiar(), digest.unwrap_or_default());
    }
}
