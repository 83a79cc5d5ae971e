//! The end of a multi-platform `builder build` (`--platform a,b,…`): the
//! platforms' images stored under one image index, then `--iidfile`,
//! `--push`, `--output`, `--cache-to` and `--metadata-file` on the index,
//! as `docker buildx build --platform a,b` does them.

use anyhow::{anyhow, bail, Result};

use super::build::BuildArgs;
use crate::engine::{CacheSpec, Engine, StageImage};
use crate::plan::{Plan, Platform};
use crate::progress::Progress;
use crate::registry::{ManifestFormat, Reference, RegistryClient};
use crate::store::Store;

/// What a finished multi-platform build needs from `build::run`.
pub(super) struct Finish<'a> {
    pub args: &'a BuildArgs,
    pub store: &'a Store,
    pub client: &'a RegistryClient,
    pub rt: &'a tokio::runtime::Runtime,
    pub engine: &'a Engine,
    /// Any of the plans (stage indexes are the same in all).
    pub plan: &'a Plan,
    pub progress: &'a Progress,
    pub tags: &'a [String],
    pub labels: &'a [(String, String)],
    pub annotations: &'a crate::image::annotations::Annotations,
    pub cache_to: &'a [CacheSpec],
    /// Every platform's plan (each platform's provenance is made from its own).
    pub plans: &'a [Plan],
    /// `--provenance`/`--sbom`/`--attest`, checked.
    pub attest_opts: &'a crate::attest::AttestOptions,
    /// What the provenance is made from, besides the plans.
    pub attest_inputs: &'a super::build_attest::Inputs<'a>,
}

impl Finish<'_> {
    /// Stores the index over `images` (one per platform, in `--platform`
    /// order) and does the build's other outputs with it.
    pub fn finish(self, images: Vec<(Platform, StageImage)>) -> Result<i32> {
        let args = self.args;
        let stored = crate::engine::store_index(
            self.store,
            &images,
            args.source_date_epoch,
            self.labels,
            self.tags,
            self.annotations,
        )?;
        // With attestations the store's tags name the index with them
        // (and so do `--iidfile` and `--metadata-file`, as BuildKit's).
        let attested = super::build_multi_attest::store_attested(
            self.attest_opts,
            self.attest_inputs,
            self.plans,
            self.store,
            &stored,
            self.tags,
        )?;
        let index_desc = attested
            .as_ref()
            .map_or_else(|| stored.index.clone(), |(_, d)| d.clone());
        let attested = attested.map(|(a, _)| a);
        let index_digest = index_desc.digest.to_string();
        self.progress.finish(Some(index_digest.clone()));
        let format = match args.format.as_str() {
            "oci" => None,
            "docker" => Some(ManifestFormat::Docker),
            other => bail!("--format {other}: use oci or docker"),
        };
        let compression =
            super::push::export_compression(&args.compression, args.compression_level)?;
        let mut pushed_digest = None;
        if args.push {
            if self.tags.is_empty() {
                bail!("--push needs at least one -t NAME:TAG");
            }
            let dests: Vec<Reference> = self
                .tags
                .iter()
                .map(|t| Reference::parse(t))
                .collect::<Result<_, _>>()?;
            let opts = crate::registry::PushOptions {
                format,
                mount_from: Vec::new(),
                compression,
            };
            pushed_digest = match &attested {
                Some(a) => {
                    let index = super::build_multi_attest::published_index(
                        self.store,
                        &stored,
                        compression,
                        false,
                        self.tags,
                        a,
                    )?;
                    let d = self.rt.block_on(crate::attest::store::push_index(
                        self.client,
                        self.store,
                        &index,
                        &dests,
                    ))?;
                    Some(d.to_string())
                }
                None => {
                    let pushed = self.rt.block_on(crate::registry::push_index(
                        self.client,
                        self.store,
                        &stored.index,
                        &dests,
                        &opts,
                    ))?;
                    pushed.digest.map(|d| d.to_string())
                }
            };
            super::build_single::report_pushed(self.progress, &dests, pushed_digest.as_deref());
        }
        // A multi-platform image's ID is its index digest (BuildKit's
        // `containerimage.digest`): the pushed one (layers compressed)
        // when pushed, else the stored one; there is no single config.
        if let Some(path) = &args.iidfile {
            let id = pushed_digest
                .clone()
                .unwrap_or_else(|| index_digest.clone());
            crate::store::fsutil::write_atomic(path, id.as_bytes(), 0o644)?;
        }
        for output in &args.outputs {
            super::output::write_index_output(
                self.store,
                &stored,
                output,
                self.client,
                self.rt,
                compression,
                format,
                attested.as_ref(),
            )?;
        }
        self.export_caches()?;
        if let Some(path) = &args.metadata_file {
            let meta = serde_json::json!({
                "containerimage.digest": pushed_digest.clone().unwrap_or_else(|| index_digest.clone()),
                "containerimage.descriptor": {
                    "mediaType": index_desc.media_type,
                    "digest": index_desc.digest.to_string(),
                    "size": index_desc.size,
                },
                "image.name": super::build_single::metadata_image_name(&args.tags),
            });
            crate::store::fsutil::write_atomic(
                path,
                serde_json::to_string_pretty(&meta)
                    .map_err(|e| anyhow!(e))?
                    .as_bytes(),
                0o644,
            )?;
        }
        if args.quiet {
            println!("{index_digest}");
        }
        Ok(0)
    }
}
