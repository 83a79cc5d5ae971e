//! Resolving a stage's base: `scratch`, an image from the store, or an
//! image pulled from a registry (mirrors and credentials as configured).

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;

use super::state::{LayerRef, StageImage};
use crate::image::ImageConfig;
use crate::plan::{Platform, StageState};
use crate::registry::{PullOptions, Reference, RegistryClient};
use crate::store::{self, Descriptor, Digest, Store};

/// When base images are fetched from their registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Use the stored copy when there is one (default).
    #[default]
    Missing,
    /// Always ask the registry what the tag points to now.
    Always,
    /// Never contact a registry.
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "missing" | "false" => Ok(PullPolicy::Missing),
            "always" | "true" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            other => Err(format!(
                "unknown pull policy {other:?}: use missing, always or never"
            )),
        }
    }
}

/// The empty image `FROM scratch` starts from (BuildKit's defaults:
/// WorkingDir `/` and a PATH).
pub fn scratch(platform: &Platform) -> StageImage {
    let mut config = ImageConfig {
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        ..Default::default()
    };
    config.rootfs.kind = "layers".to_string();
    config.config.working_dir = "/".to_string();
    config.config.env = vec![format!("PATH={}", crate::sandbox::DEFAULT_PATH)];
    let mut image = from_config(config, Vec::new());
    image.cache_key = format!("scratch:{platform}");
    image
}

/// A stage image from a base config and its layers; makes sure PATH is
/// set, as BuildKit does for every stage.
pub fn from_config(mut config: ImageConfig, layers: Vec<LayerRef>) -> StageImage {
    if !config.config.env.iter().any(|e| e.starts_with("PATH=")) {
        config
            .config
            .env
            .push(format!("PATH={}", crate::sandbox::DEFAULT_PATH));
    }
    let env: Vec<(String, String)> = config
        .config
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect();
    let base_history = config.history.len();
    StageImage {
        config,
        layers,
        scope: StageState::from_image_env(&env),
        base_history,
        cache_key: String::new(),
    }
}

/// Finds `reference` for `platform` in the store, or pulls it, following `policy`.
pub async fn resolve_image(
    store: &Store,
    client: &RegistryClient,
    reference: &str,
    platform: &Platform,
    policy: PullPolicy,
) -> Result<(StageImage, Digest)> {
    resolve_image_with(store, client, reference, platform, policy, false).await
}

/// [`resolve_image`]; with `keep_index` a pulled index stays tagged as the
/// index, so the other platforms of a multi-platform build find theirs
/// beside it. A stored image for another platform is not used: the right
/// one is pulled, and a base without the platform is an error naming both.
pub async fn resolve_image_with(
    store: &Store,
    client: &RegistryClient,
    reference: &str,
    platform: &Platform,
    policy: PullPolicy,
    keep_index: bool,
) -> Result<(StageImage, Digest)> {
    let r = Reference::parse(reference)
        .map_err(|e| anyhow!("FROM {reference}: invalid image reference: {e}"))?;
    let name = crate::cli::pull::store_name(&r);
    let want: store::Platform = platform
        .to_string()
        .parse()
        .map_err(|_| anyhow!("unsupported platform {platform}"))?;
    if policy != PullPolicy::Always {
        if let Some(desc) = store.resolve(&name)? {
            if let Ok(found) = load_local(store, &desc, &want) {
                if is_for(&found.0, &want) {
                    return Ok(found);
                }
            }
        }
        if policy == PullPolicy::Never {
            bail!(
                "image {name} for {platform} is not in the store and --pull=never forbids \
                 pulling it"
            );
        }
    }
    let pulled = crate::registry::pull(
        client,
        store,
        &r,
        &PullOptions {
            platform: want.clone(),
            keep_index,
        },
    )
    .await
    .map_err(|e| {
        // Registry errors already say what was being pulled.
        if e.to_string().starts_with("pulling ") {
            e
        } else {
            e.context(format!("pulling {}", r.familiar()))
        }
    })?;
    let found = load_local(store, &pulled.manifest, &want)?;
    if !is_for(&found.0, &want) {
        let c = &found.0.config;
        bail!(
            "{} is a single-platform image for {}/{}, which has no {platform} variant",
            r.familiar(),
            c.os,
            c.architecture
        );
    }
    Ok(found)
}

/// Whether an image's config is for `want` (a config without an
/// architecture is taken to be for any platform).
fn is_for(image: &StageImage, want: &store::Platform) -> bool {
    let c = &image.config;
    if c.architecture.is_empty() {
        return true;
    }
    let have = store::Platform {
        os: c.os.clone(),
        architecture: c.architecture.clone(),
        variant: (!c.variant.is_empty()).then(|| c.variant.clone()),
        ..Default::default()
    };
    want.matches(&have)
}

/// Loads a stored image (manifest or index) for `platform`.
pub fn load_local(
    store: &Store,
    desc: &Descriptor,
    platform: &store::Platform,
) -> Result<(StageImage, Digest)> {
    let bytes = store.read_blob(&desc.digest)?;
    let doc: Value = serde_json::from_slice(&bytes).context("stored manifest is not JSON")?;
    if doc.get("manifests").is_some() {
        let entries: Vec<Descriptor> = serde_json::from_value(doc["manifests"].clone())
            .context("stored index has bad entries")?;
        let pick = entries
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
            .ok_or_else(|| anyhow!("the image has no variant for {platform}"))?;
        return load_local(store, pick, platform);
    }
    let config_desc: Descriptor = serde_json::from_value(doc["config"].clone())
        .context("stored manifest has no config descriptor")?;
    let layer_descs: Vec<Descriptor> = serde_json::from_value(doc["layers"].clone())
        .context("stored manifest has bad layer descriptors")?;
    let config = ImageConfig::from_slice(&store.read_blob(&config_desc.digest)?)
        .context("the image config is not valid JSON")?;
    if config.rootfs.diff_ids.len() != layer_descs.len() {
        bail!(
            "image config lists {} layers but the manifest {}",
            config.rootfs.diff_ids.len(),
            layer_descs.len()
        );
    }
    let mut layers = Vec::new();
    for (diff, blob) in config.rootfs.diff_ids.iter().zip(layer_descs) {
        let diff_id = Digest::parse(diff).with_context(|| format!("bad diffID {diff}"))?;
        layers.push(LayerRef { diff_id, blob });
    }
    let mut image = from_config(config, layers);
    image.cache_key = format!("image:{}", desc.digest);
    Ok((image, desc.digest.clone()))
}
