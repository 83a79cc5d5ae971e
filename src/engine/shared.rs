//! State shared by the stages (and the platforms) of one build: the store and
//! registry client, the `--jobs` limit, cancellation, the steps done so far for
//! `--cache-to`, and the per-cache-key flights that make equal steps run once.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use anyhow::{bail, Result};

use super::{cache_io, EngineOptions, LayerRef, PullPolicy, StageImage, StepOutcome};
use crate::plan::instructions::Network;
use crate::progress::Progress;
use crate::registry::RegistryClient;
use crate::store::Store;

/// State shared by the stages of one build.
pub struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) client: Arc<RegistryClient>,
    pub(crate) progress: Progress,
    pub(crate) epoch: Option<i64>,
    pub(crate) network: Network,
    pub(crate) allow_network_host: bool,
    pub(crate) run_extras: super::RunExtras,
    pub(crate) limits: crate::sandbox::Limits,
    pub(crate) secrets: BTreeMap<String, Vec<u8>>,
    pub(crate) ssh: BTreeMap<String, PathBuf>,
    pub(crate) pull: PullPolicy,
    pub(crate) helper: PathBuf,
    pub(crate) dockerfile_text: String,
    pub(crate) dockerfile_name: String,
    pub(super) runtime: tokio::runtime::Handle,
    pub(crate) no_cache: bool,
    pub(crate) no_cache_stages: Vec<String>,
    /// The metadata index of each build context this build digests files of.
    pub(crate) context_indexes: super::context_indexes::ContextIndexes,
    pub(super) cancelled: AtomicBool,
    pub(super) killers: Mutex<Vec<crate::sandbox::Killer>>,
    pub(super) jobs: usize,
    pub(super) running: Mutex<usize>,
    pub(super) running_changed: Condvar,
    /// Records imported with `--cache-from`.
    pub(crate) imported: cache_io::ImportedCache,
    /// Every layered step of this build, for `--cache-to`.
    pub(crate) outcomes: Mutex<Vec<StepOutcome>>,
    /// The cache mounts RUNs used, for `--cache-to …,cache-mounts=true`.
    pub(crate) mount_uses: Mutex<Vec<super::cache_mounts::MountUse>>,
    /// COPY/ADD layers of this build → their step family (see `incremental`).
    pub(crate) families: Mutex<HashMap<crate::store::Digest, String>>,
    /// Progress names carry the stage's platform (several target platforms).
    pub(crate) platform_labels: AtomicBool,
    /// Layered steps by cache key, for [`Shared::flight`].
    pub(super) flights: Mutex<HashMap<String, Arc<Flight>>>,
}

/// One layered step's result within a build, shared by every stage whose
/// step has the same cache key: its lock is held while the step runs, so
/// the others wait and take the result (BuildKit's solver merges equal
/// vertices the same way). `None` until the step has succeeded.
pub(crate) type Flight = Mutex<Option<(crate::image::ImageConfig, Vec<LayerRef>)>>;

/// A slot in the `--jobs` limit, released on drop.
pub struct RunPermit<'a>(&'a Shared);

impl Drop for RunPermit<'_> {
    fn drop(&mut self) {
        let mut n = self.0.running.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        self.0.running_changed.notify_one();
    }
}

impl Shared {
    pub(super) fn new(o: EngineOptions) -> Self {
        let context_indexes = super::context_indexes::ContextIndexes::new(&o.store.cache_dir());
        let imported = import_caches(&o);
        Shared {
            store: o.store,
            client: o.client,
            progress: o.progress,
            epoch: o.source_date_epoch,
            network: o.network,
            allow_network_host: o.allow_network_host,
            run_extras: o.run_extras,
            limits: o.limits,
            secrets: o.secrets,
            ssh: o.ssh,
            pull: o.pull,
            helper: o.helper,
            dockerfile_text: o.dockerfile_text,
            dockerfile_name: o.dockerfile_name,
            context_indexes,
            runtime: o.runtime,
            no_cache: o.no_cache,
            no_cache_stages: o.no_cache_stages,
            cancelled: AtomicBool::new(false),
            killers: Mutex::new(Vec::new()),
            jobs: o.jobs.max(1),
            running: Mutex::new(0),
            running_changed: Condvar::new(),
            imported,
            outcomes: Mutex::new(Vec::new()),
            mount_uses: Mutex::new(Vec::new()),
            families: Mutex::new(HashMap::new()),
            platform_labels: AtomicBool::new(false),
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// The shared slot of the layered step with cache `key` in this build.
    pub(crate) fn flight(&self, key: &str) -> Arc<Flight> {
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// Makes sure the blobs of `layers` are in the store, fetching those
    /// an imported cache promised but nobody needed until now.
    pub fn fetch_missing(&self, layers: &[LayerRef]) -> Result<()> {
        if self.imported.is_empty() || layers.iter().all(|l| self.store.has_blob(&l.blob.digest)) {
            return Ok(());
        }
        self.block_on(
            self.imported
                .fetch_missing(&self.store, &self.client, layers),
        )
    }

    /// The snapshot dirs of `image`'s chain (top first), fetching and
    /// extracting what is missing.
    /// A layer may be shown by two dirs (a delta over a similar layer's
    /// snapshot, see `incremental`) as long as the chain stays within
    /// [`super::stage::MAX_LOWER_DEPTH`] dirs; past that, full snapshots.
    pub fn lowers(&self, image: &StageImage) -> Result<Vec<PathBuf>> {
        self.fetch_missing(&image.layers)?;
        let stacks = |delta: bool| -> Result<Vec<PathBuf>> {
            let mut out = Vec::with_capacity(image.layers.len());
            for l in image.layers.iter().rev() {
                out.extend(self.snapshot_stack(l, delta)?);
            }
            Ok(out)
        };
        let lowers = stacks(true)?;
        if lowers.len() <= super::stage::MAX_LOWER_DEPTH.max(image.layers.len()) {
            return Ok(lowers);
        }
        stacks(false)
    }

    /// Remembers what a layered step produced, for `--cache-to`.
    pub(crate) fn note_outcome(&self, stage: usize, image: &StageImage) {
        self.outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(StepOutcome {
                stage,
                key: image.cache_key.clone(),
                config: image.config.clone(),
                layers: image.layers.clone(),
            });
    }

    /// Runs a future to completion on the build's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Waits for a free `--jobs` slot.
    pub fn run_permit(&self) -> RunPermit<'_> {
        let mut n = self.running.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= self.jobs {
            n = self
                .running_changed
                .wait(n)
                .unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        RunPermit(self)
    }

    /// Remembers a running step so a failure elsewhere can stop it.
    pub fn register_killer(&self, killer: crate::sandbox::Killer) {
        let cancelled = self.cancelled.load(Ordering::SeqCst);
        if cancelled {
            killer.kill();
        }
        self.killers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(killer);
    }

    /// Stops every running step; later steps will not start.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        for k in self
            .killers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            k.kill();
        }
    }

    /// An error when the build was cancelled.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.cancelled.load(Ordering::SeqCst) {
            bail!("cancelled: another stage failed");
        }
        Ok(())
    }
}

/// Reads every `--cache-from`; a cache that cannot be read is a warning,
/// as in BuildKit: the build runs, only slower.
fn import_caches(o: &EngineOptions) -> cache_io::ImportedCache {
    let mut imported = cache_io::ImportedCache::default();
    for spec in &o.cache_from {
        let id = o
            .progress
            .start(format!("importing cache manifest from {}", spec.location));
        match o
            .runtime
            .block_on(imported.import(&o.store, &o.client, spec))
        {
            Ok(0) => o.progress.log(id, "no cache there yet"),
            Ok(n) => o.progress.log(
                id,
                format!(
                    "{n} step records, {} cache mounts",
                    imported.mounts().count()
                ),
            ),
            Err(e) => o.progress.log(
                id,
                format!(
                    "warning: cannot import the cache from {}: {e:#}",
                    spec.location
                ),
            ),
        }
        o.progress.done(id, false);
    }
    imported
}
