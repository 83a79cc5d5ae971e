//! The attestation steps of `builder build` (`--sbom`, `--provenance`,
//! `--attest`), kept apart from `build.rs` so a multi-platform build can
//! repeat them per platform: [`predicates`] once per platform's image,
//! then [`publish_entries`] per published manifest, then one index.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use super::build::BuildArgs;
use crate::attest::provenance::{self, BuildInfo, Material, Step};
use crate::attest::{self, AttestOptions, Predicate, ProvenanceMode};
use crate::engine::StoredImage;
use crate::plan::{Base, Plan, SourceRef};
use crate::registry::convert::{export_manifest, ExportCompression, ExportOptions};
use crate::registry::ManifestFormat;
use crate::store::{Descriptor, Store};

/// `--sbom`/`--provenance`/`--attest` of `args`, checked (before any work).
///
/// Attestations need OCI media types (an image index with an attestation
/// manifest): as BuildKit's image writer refuses them with
/// `oci-mediatypes=false` ("cannot export attestations with
/// \"oci-mediatypes=false\""), asking for attestations with `--format
/// docker` or an `oci-mediatypes=false` output is an error; the implicit
/// `mode=min` provenance of a push is then left off, with a warning.
pub fn options(args: &BuildArgs) -> Result<AttestOptions> {
    let outputs: Vec<_> = args
        .outputs
        .iter()
        .filter_map(|o| super::output::parse_output(o).ok())
        .collect();
    let registry_output = args.push
        || outputs.iter().any(|f| {
            matches!(
                f.get("type").map(String::as_str),
                Some("registry" | "image")
            )
        });
    let mut opts = attest::options::parse(
        args.sbom.as_deref(),
        args.provenance.as_deref(),
        &args.attest,
        registry_output,
    )?;
    let docker_types = if args.format == "docker" {
        Some("--format docker".to_string())
    } else {
        outputs
            .iter()
            .find(|f| {
                f.get("oci-mediatypes")
                    .is_some_and(|v| v == "false" || v == "0")
            })
            .map(|f| format!("--output type={},oci-mediatypes=false", f["type"]))
    };
    if let (Some(what), true) = (docker_types, opts.any()) {
        let explicit = args.sbom.is_some() || args.provenance.is_some() || !args.attest.is_empty();
        if explicit {
            bail!(
                "{what}: cannot export attestations with Docker media types (BuildKit: \
                 \"oci-mediatypes=false\"); attestations live in an OCI image index: drop \
                 {what}, or --sbom/--provenance/--attest"
            );
        }
        eprintln!(
            "warning: {what}: the default provenance attestation is left off (attestations \
             need OCI media types); --provenance=false silences this"
        );
        opts.provenance = None;
    }
    Ok(opts)
}

/// What the provenance of a build is made from, besides the plan.
pub struct Inputs<'a> {
    /// The build's options.
    pub args: &'a BuildArgs,
    /// The Dockerfile name (as in messages) and bytes.
    pub dockerfile: (&'a str, &'a [u8]),
    /// The `--build-arg`s given.
    pub build_args: &'a BTreeMap<String, String>,
    /// `--label`s.
    pub labels: &'a [(String, String)],
    /// Unix seconds the build started.
    pub started: i64,
    /// Per platform, the images of the stages `BUILDKIT_SBOM_SCAN_STAGE`
    /// marks (index into the plan's stages, image), for extra SBOMs.
    pub scanned: &'a [(crate::plan::Platform, crate::engine::KeptStages)],
    /// The build context as opened for the build (a directory, or the
    /// extracted stdin tar), for `BUILDKIT_SBOM_SCAN_CONTEXT`.
    pub context: &'a crate::context::BuildContext,
}

/// Base images and `COPY --from`/`RUN --mount=from` images of the needed
/// stages, by the digest the store resolved them to, as `pkg:docker` purls.
fn materials(store: &Store, plan: &Plan, platform: &str) -> Vec<Material> {
    let mut refs = Vec::new();
    for s in plan.stages.iter().filter(|s| s.needed) {
        if let Base::Image(r) = &s.base {
            refs.push(r.clone());
        }
        for step in &s.steps {
            for src in &step.sources {
                if let SourceRef::Image(r) = src {
                    refs.push(r.clone());
                }
            }
        }
    }
    refs.sort();
    refs.dedup();
    refs.iter()
        .filter_map(|r| {
            let (_, d) = super::pull::find_local(store, r).ok()?;
            Some(Material {
                uri: attest::store::docker_purl(r, platform)?,
                digest: d.digest,
            })
        })
        .collect()
}

/// The steps of the needed stages in build order, for `mode=max`.
fn steps(plan: &Plan) -> Vec<Step> {
    let mut out = Vec::new();
    for i in plan.build_order() {
        let s = &plan.stages[i];
        let name = s.display_name();
        for ast in std::iter::once(&s.from).chain(s.steps.iter().map(|st| &st.ast)) {
            out.push(Step {
                stage: name.clone(),
                instruction: ast.original.clone(),
                lines: (ast.span.line, ast.span.end_line.max(ast.span.line)),
            });
        }
    }
    out
}

/// The predicates of the build's image `stored` (one platform), as `opts`
/// asks: provenance first, then the SBOM, as BuildKit lists them.
pub fn predicates(
    opts: &AttestOptions,
    inputs: &Inputs<'_>,
    plan: &Plan,
    store: &Store,
    stored: &StoredImage,
    names: &[String],
) -> Result<Vec<Predicate>> {
    let args = inputs.args;
    let epoch = args.source_date_epoch;
    let now = now();
    let platform = plan.platform.to_string();
    let mut out = Vec::new();
    if let Some(p) = &opts.provenance {
        let mut fa = BTreeMap::new();
        let entry = std::path::Path::new(inputs.dockerfile.0)
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_else(|| "Dockerfile".into());
        fa.insert("filename".to_string(), entry);
        if let Some(t) = &args.target {
            fa.insert("target".into(), t.clone());
        }
        for (k, v) in inputs.build_args {
            fa.insert(format!("build-arg:{k}"), v.clone());
        }
        for (k, v) in inputs.labels {
            fa.insert(format!("label:{k}"), v.clone());
        }
        if args.no_cache {
            fa.insert("no-cache".into(), String::new());
        }
        let ids = |raw: &[String], key: &str| -> Vec<String> {
            let mut v: Vec<String> = raw
                .iter()
                .filter_map(|s| {
                    s.split(',')
                        .find_map(|f| f.strip_prefix(key))
                        .or_else(|| s.split(',').find_map(|f| f.strip_prefix("src=")))
                        .or_else(|| s.split(',').find_map(|f| f.strip_prefix("env=")))
                        .map(str::to_string)
                })
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let ssh: Vec<String> = args
            .ssh
            .iter()
            .map(|s| {
                s.split_once('=')
                    .map_or(s.as_str(), |(id, _)| id)
                    .to_string()
            })
            .collect();
        let context_dir = (args.context != "-").then(|| std::path::PathBuf::from(&args.context));
        let df_dir = args
            .file
            .as_deref()
            .filter(|f| *f != "-")
            .and_then(|f| std::path::Path::new(f).parent().map(|p| p.to_path_buf()))
            .filter(|p| !p.as_os_str().is_empty());
        let vcs = match &context_dir {
            Some(c) => crate::attest::git::git_vcs(c, df_dir.as_deref().or(Some(c))),
            None => BTreeMap::new(),
        };
        let (started, finished) = match epoch {
            Some(e) => (e, e),
            None => (inputs.started, now),
        };
        let mats = materials(store, plan, &platform);
        let mut id_input = format!("{platform}\n{fa:?}\n{started}\n");
        for m in &mats {
            id_input.push_str(&format!("{} {}\n", m.uri, m.digest));
        }
        id_input.push_str(&crate::store::Digest::of(inputs.dockerfile.1).to_string());
        let info = BuildInfo {
            frontend_args: fa,
            platform: platform.clone(),
            materials: mats,
            secret_ids: ids(&args.secrets, "id="),
            ssh_ids: ssh,
            locals: if args.context == "-" {
                vec!["dockerfile".into()]
            } else {
                vec!["context".into(), "dockerfile".into()]
            },
            vcs,
            dockerfile: (p.mode == ProvenanceMode::Max).then(|| {
                (
                    inputs.dockerfile.0.to_string(),
                    inputs.dockerfile.1.to_vec(),
                )
            }),
            steps: if p.mode == ProvenanceMode::Max {
                steps(plan)
            } else {
                Vec::new()
            },
            started,
            finished,
            invocation_id: crate::store::Digest::of(id_input.as_bytes()).hex()[..25].to_string(),
        };
        out.push(provenance::predicate(&info, p));
    }
    if let Some(s) = &opts.sbom {
        if let Some(g) = &s.generator {
            eprintln!(
                "warning: --sbom generator={g}: builder scans the image with its own scanner \
                 (dpkg, apk, lock files); the generator image is not run"
            );
        }
        let name = names.first().cloned().unwrap_or_else(|| "image".into());
        let created = epoch.unwrap_or(now);
        let mut pred = None;
        super::output::rootfs(store, stored, |root| {
            pred = Some(attest::sbom::predicate(root, &name, created, None));
            Ok(())
        })?;
        out.extend(pred);
        out.extend(extra_sboms(inputs, plan, store, &name, created)?);
    }
    Ok(out)
}

/// The SBOMs of the stages and context `BUILDKIT_SBOM_SCAN_STAGE` and
/// `BUILDKIT_SBOM_SCAN_CONTEXT` mark (see `attest::sbom::targets`), ordered
/// by name as BuildKit lists them after the core SBOM. The context is
/// scanned as BuildKit's scanner gets it: through `.dockerignore`, limited
/// to what the build reads (see `attest::sbom::context`).
fn extra_sboms(
    inputs: &Inputs<'_>,
    plan: &Plan,
    store: &Store,
    image: &str,
    created: i64,
) -> Result<Vec<Predicate>> {
    use attest::sbom::targets;
    let mut out = Vec::new();
    let kept = inputs
        .scanned
        .iter()
        .find(|(p, _)| *p == plan.platform)
        .map(|(_, k)| k.as_slice())
        .unwrap_or_default();
    for (i, img) in kept {
        let stage = targets::stage_name(plan, *i);
        let doc = format!("{image} (stage {stage})");
        let mut pred = None;
        super::output::stage_rootfs(store, img, |root| {
            pred = Some(attest::sbom::predicate(root, &doc, created, Some(&stage)));
            Ok(())
        })?;
        out.extend(pred);
    }
    if targets::scan_targets(plan).context {
        let doc = format!("{image} (context)");
        let scratch = store.temp_dir()?;
        out.push(attest::sbom::context::predicate(
            inputs.context,
            &scratch,
            &doc,
            created,
        )?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One platform's index entries for the manifest `published` (the image
/// as it is published: stored, pushed or archived): the manifest with its
/// platform, then its attestation manifest. The multi-platform path calls
/// this per platform and lists all image entries before all attestation
/// entries, as BuildKit does (`write_index` takes them in that order).
pub fn publish_entries(
    store: &Store,
    published: &Descriptor,
    names: &[String],
    platform: &crate::plan::Platform,
    preds: &[Predicate],
) -> Result<(Descriptor, Descriptor)> {
    let mut image = published.clone();
    image.annotations.clear();
    image.platform = Some(crate::store::Platform {
        os: platform.os.clone(),
        architecture: platform.architecture.clone(),
        variant: (!platform.variant.is_empty()).then(|| platform.variant.clone()),
        ..Default::default()
    });
    let att = attest::store::attach(store, &image, names, &platform.to_string(), preds)?;
    Ok((image, att))
}

/// The stored image's manifest converted as a push or archive writes it,
/// always with OCI media types (BuildKit turns them on for attestations).
pub fn exported(
    store: &Store,
    stored: &StoredImage,
    compression: ExportCompression,
    force: bool,
) -> Result<Descriptor> {
    export_manifest(
        store,
        &stored.manifest,
        &ExportOptions {
            format: Some(ManifestFormat::Oci),
            compression,
            force,
        },
    )
}

/// Index for a single-platform image and its attestations, in the store.
pub fn single_index(
    store: &Store,
    published: &Descriptor,
    names: &[String],
    platform: &crate::plan::Platform,
    preds: &[Predicate],
) -> Result<Descriptor> {
    let (image, att) = publish_entries(store, published, names, platform, preds)?;
    attest::store::write_index(store, &[image, att])
}

/// [`predicates`] when `opts` asks for any, and the store's index over the
/// image and its attestations tagged `tags` (BuildKit's store keeps it so);
/// no predicates, nothing changes. Returns the predicates.
pub fn store_attested(
    opts: &AttestOptions,
    inputs: &Inputs<'_>,
    plan: &Plan,
    store: &Store,
    stored: &StoredImage,
    tags: &[String],
) -> Result<Vec<Predicate>> {
    if !opts.any() {
        return Ok(Vec::new());
    }
    let preds = predicates(opts, inputs, plan, store, stored, tags)?;
    let index = single_index(store, &stored.manifest, tags, &plan.platform, &preds)?;
    for tag in tags {
        store.set_tag(tag, &index)?;
    }
    Ok(preds)
}

/// The index to push for a single-platform image: the image converted as
/// a push converts it ([`exported`]) and its attestation manifest.
pub fn published_index(
    store: &Store,
    stored: &StoredImage,
    compression: ExportCompression,
    names: &[String],
    platform: &crate::plan::Platform,
    preds: &[Predicate],
) -> Result<Descriptor> {
    let published = exported(store, stored, compression, false)?;
    single_index(store, &published, names, platform, preds)
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
