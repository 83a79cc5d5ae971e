//! The build engine: runs a plan's stages over snapshots, one step at a time
//! (expansion, execution, layer commit), independent stages at once.
//!
//! Stages run on scoped OS threads (their work is file system and process
//! work that would block an async runtime), each starting as soon as the
//! stages it needs are done; registry I/O runs on the tokio runtime the
//! caller provides. The first failure cancels the others: their running
//! RUN processes are killed and no further step starts.

pub mod add;
pub mod base;
pub mod cache;
pub mod cache_io;
pub mod cache_spec;
pub mod commit;
pub mod copy;
pub mod direct_copy;
pub mod export;
pub mod flat;
pub mod fsroot;
pub mod history;
pub mod incremental;
pub mod overlay;
pub mod overlay_copy;
pub mod stage;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use anyhow::{anyhow, bail, Result};

pub use base::PullPolicy;
pub use cache_io::{ExportSummary, StepOutcome};
pub use cache_spec::{CacheMode, CacheSpec};
pub use export::{store_image, StoredImage};
pub use state::{LayerRef, StageImage};

use crate::context::BuildContext;
use crate::plan::instructions::Network;
use crate::plan::{Base, Plan, SourceRef};
use crate::progress::Progress;
use crate::registry::RegistryClient;
use crate::store::Store;

/// Everything a build needs besides the plan and the context.
pub struct EngineOptions {
    /// The store.
    pub store: Arc<Store>,
    /// The registry client (mirrors, credentials).
    pub client: Arc<RegistryClient>,
    /// Where events go.
    pub progress: Progress,
    /// Clamp for timestamps.
    pub source_date_epoch: Option<i64>,
    /// `--network` for every RUN: `Default` is a network namespace of the
    /// RUN's own (see `sandbox::network`), `Host` the host's.
    pub network: Network,
    /// `--allow network.host`: the entitlement `RUN --network=host` needs,
    /// as in BuildKit.
    pub allow_network_host: bool,
    /// `--secret` contents by id.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--ssh` agent sockets by id.
    pub ssh: BTreeMap<String, PathBuf>,
    /// `--pull`.
    pub pull: PullPolicy,
    /// `--jobs`: concurrent RUN steps.
    pub jobs: usize,
    /// The binary re-executed as the sandbox helper.
    pub helper: PathBuf,
    /// The Dockerfile text (for errors pointing at a line).
    pub dockerfile_text: String,
    /// The Dockerfile name shown in errors.
    pub dockerfile_name: String,
    /// The async runtime for registry I/O.
    pub runtime: tokio::runtime::Handle,
    /// `--no-cache`: run every step.
    pub no_cache: bool,
    /// `--no-cache-filter`: stages (by name or index) that run every step.
    pub no_cache_stages: Vec<String>,
    /// `--cache-from`: shared caches to read step records from.
    pub cache_from: Vec<CacheSpec>,
}

/// State shared by the stages of one build.
pub struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) client: Arc<RegistryClient>,
    pub(crate) progress: Progress,
    pub(crate) epoch: Option<i64>,
    pub(crate) network: Network,
    pub(crate) allow_network_host: bool,
    pub(crate) secrets: BTreeMap<String, Vec<u8>>,
    pub(crate) ssh: BTreeMap<String, PathBuf>,
    pub(crate) pull: PullPolicy,
    pub(crate) helper: PathBuf,
    pub(crate) dockerfile_text: String,
    pub(crate) dockerfile_name: String,
    runtime: tokio::runtime::Handle,
    pub(crate) no_cache: bool,
    pub(crate) no_cache_stages: Vec<String>,
    pub(crate) context_index: Mutex<crate::context::MetadataIndex>,
    cancelled: AtomicBool,
    killers: Mutex<Vec<crate::sandbox::Killer>>,
    jobs: usize,
    running: Mutex<usize>,
    running_changed: Condvar,
    /// Records imported with `--cache-from`.
    pub(crate) imported: cache_io::ImportedCache,
    /// Every layered step of this build, for `--cache-to`.
    pub(crate) outcomes: Mutex<Vec<StepOutcome>>,
    /// COPY/ADD layers of this build → their step family (see `incremental`).
    pub(crate) families: Mutex<HashMap<crate::store::Digest, String>>,
}

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
    fn new(o: EngineOptions) -> Self {
        let index_path = o.store.cache_dir().join("context-index");
        let imported = import_caches(&o);
        Shared {
            store: o.store,
            client: o.client,
            progress: o.progress,
            epoch: o.source_date_epoch,
            network: o.network,
            allow_network_host: o.allow_network_host,
            secrets: o.secrets,
            ssh: o.ssh,
            pull: o.pull,
            helper: o.helper,
            dockerfile_text: o.dockerfile_text,
            dockerfile_name: o.dockerfile_name,
            context_index: Mutex::new(
                crate::context::MetadataIndex::open(index_path)
                    .unwrap_or_else(|_| crate::context::MetadataIndex::in_memory()),
            ),
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
            families: Mutex::new(HashMap::new()),
        }
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
    pub fn lowers(&self, image: &StageImage) -> Result<Vec<PathBuf>> {
        self.fetch_missing(&image.layers)?;
        image
            .layers
            .iter()
            .rev()
            .map(|l| self.snapshot(l))
            .collect()
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

/// Runs builds.
pub struct Engine {
    shared: Shared,
}

/// Per-stage outcome slots: `None` while running.
type Slots = Mutex<Vec<Option<std::result::Result<StageImage, ()>>>>;

impl Engine {
    /// An engine with these options.
    pub fn new(options: EngineOptions) -> Self {
        Engine {
            shared: Shared::new(options),
        }
    }

    /// The shared build state (store, progress).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Builds the plan's target stage and returns its image.
    pub fn build(&self, plan: &Plan, context: &BuildContext) -> Result<StageImage> {
        let order = plan.build_order();
        let slots: Slots = Mutex::new(vec![None; plan.stages.len()]);
        let changed = Condvar::new();
        let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for &index in &order {
                let (slots, changed, first_error) = (&slots, &changed, &first_error);
                scope.spawn(move || {
                    let outcome = self.run_stage(plan, context, index, slots, changed);
                    let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Ok(image) => guard[index] = Some(Ok(image)),
                        Err(e) => {
                            guard[index] = Some(Err(()));
                            let mut fe = first_error.lock().unwrap_or_else(|e| e.into_inner());
                            if fe.is_none() && !self.shared.cancelled.load(Ordering::SeqCst) {
                                *fe = Some(e);
                            }
                            self.shared.cancel();
                        }
                    }
                    changed.notify_all();
                });
            }
        });
        // The metadata index only speeds later builds up: failing to save it is not an error.
        let _ = self
            .shared
            .context_index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .save_via(|| self.shared.store.temp_dir().ok());
        if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        let mut slots = slots.into_inner().unwrap_or_else(|e| e.into_inner());
        match slots[plan.target].take() {
            Some(Ok(image)) => {
                // The result's layers must be in the store, even those a
                // cache import only promised.
                self.shared.fetch_missing(&image.layers)?;
                Ok(image)
            }
            _ => Err(anyhow!("the target stage did not finish")),
        }
    }

    /// Exports this build's step records to `spec` (`--cache-to`): with
    /// `mode=min` the stages the result is built on, with `mode=max` all.
    pub fn export_cache(&self, plan: &Plan, spec: &CacheSpec) -> Result<ExportSummary> {
        let mut chain = vec![plan.target];
        while let Base::Stage(i) = plan.stages[*chain.last().unwrap_or(&plan.target)].base {
            if chain.contains(&i) {
                break;
            }
            chain.push(i);
        }
        let outcomes = self
            .shared
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let steps: Vec<StepOutcome> = outcomes
            .iter()
            .filter(|o| spec.mode == CacheMode::Max || chain.contains(&o.stage))
            .cloned()
            .collect();
        drop(outcomes);
        // Layers a cache import promised are fetched before they are re-exported.
        for s in &steps {
            self.shared.fetch_missing(&s.layers)?;
        }
        self.shared.block_on(cache_io::export(
            &self.shared.store,
            &self.shared.client,
            spec,
            &steps,
        ))
    }

    fn wait_for(
        &self,
        slots: &Slots,
        changed: &Condvar,
        deps: &[usize],
    ) -> Result<Vec<Option<StageImage>>> {
        let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if deps.iter().any(|&d| matches!(guard[d], Some(Err(())))) {
                bail!("cancelled: a stage this one needs failed");
            }
            if deps.iter().all(|&d| guard[d].is_some()) {
                return Ok(guard
                    .iter()
                    .map(|s| match s {
                        Some(Ok(img)) => Some(img.clone()),
                        _ => None,
                    })
                    .collect());
            }
            guard = changed.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn run_stage(
        &self,
        plan: &Plan,
        context: &BuildContext,
        index: usize,
        slots: &Slots,
        changed: &Condvar,
    ) -> Result<StageImage> {
        let stage = &plan.stages[index];
        let done = self.wait_for(slots, changed, &stage.deps)?;
        self.shared.check_cancelled()?;
        let total = stage.steps.len() + 1;
        let from_name = format!(
            "[{} 1/{total}] FROM {}",
            stage.display_name(),
            describe_base(plan, &stage.base)
        );
        let id = self.shared.progress.start(from_name);
        let base = match &stage.base {
            Base::Scratch => Ok(base::scratch(&stage.platform)),
            Base::Stage(i) => done[*i]
                .clone()
                .ok_or_else(|| anyhow!("stage {i} did not finish")),
            Base::Image(r) => self
                .shared
                .block_on(base::resolve_image(
                    &self.shared.store,
                    &self.shared.client,
                    r,
                    &stage.platform,
                    self.shared.pull,
                ))
                .map(|(img, _)| img),
        };
        let base = match base {
            Ok(b) => {
                self.shared.progress.done(id, true);
                b
            }
            Err(e) => {
                self.shared.progress.error(id, format!("{e:#}"));
                return Err(self.located(&stage.from, "FROM", e));
            }
        };
        // Images named by COPY --from / RUN --mount=from are fetched up front.
        let mut images: HashMap<String, StageImage> = HashMap::new();
        for step in &stage.steps {
            for src in &step.sources {
                if let SourceRef::Image(r) = src {
                    if images.contains_key(r) {
                        continue;
                    }
                    let (img, _) = self
                        .shared
                        .block_on(base::resolve_image(
                            &self.shared.store,
                            &self.shared.client,
                            r,
                            &stage.platform,
                            self.shared.pull,
                        ))
                        .map_err(|e| self.located(&step.ast, step.command.keyword(), e))?;
                    images.insert(r.clone(), img);
                }
            }
        }
        let lookup = |r: &SourceRef| -> Option<StageImage> {
            match r {
                SourceRef::Stage(i) => done.get(*i).cloned().flatten(),
                SourceRef::Image(name) => images.get(name).cloned(),
            }
        };
        stage::StageRunner::new(&self.shared, plan, stage, context, &lookup, base).run()
    }
}

impl Engine {
    /// `err` pointing at the Dockerfile line of `inst` (`KEYWORD failed: …`).
    fn located(
        &self,
        inst: &crate::dockerfile::Instruction,
        keyword: &str,
        err: anyhow::Error,
    ) -> anyhow::Error {
        let diag = crate::diag::Diagnostic::at(
            &self.shared.dockerfile_text,
            inst.span.line,
            inst.span.column,
            format!("{keyword} failed: {err:#}"),
        )
        .in_file(self.shared.dockerfile_name.clone())
        .width(keyword.len());
        anyhow!("{diag}")
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
            Ok(n) => o.progress.log(id, format!("{n} step records")),
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

fn describe_base(plan: &Plan, base: &Base) -> String {
    match base {
        Base::Scratch => "scratch".to_string(),
        Base::Image(r) => r.clone(),
        Base::Stage(i) => plan.stages[*i].display_name(),
    }
}
