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
pub mod cache_mounts;
pub mod cache_spec;
pub mod commit;
mod context_indexes;
pub mod copy;
pub mod copy_meta;
pub mod direct_copy;
pub mod export;
pub mod export_index;
pub mod flat;
pub mod fsroot;
pub mod history;
pub mod incremental;
pub mod overlay;
pub mod overlay_copy;
pub mod shared;
pub mod stage;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};

use anyhow::{anyhow, bail, Result};

pub use base::PullPolicy;
pub use cache_io::{ExportSummary, StepOutcome};
pub use cache_spec::{CacheMode, CacheSpec};
pub use export::{store_image, store_image_annotated, StoredImage};
pub use export_index::{store_index, StoredIndex};
pub use shared::{RunPermit, Shared};
pub use state::{LayerRef, StageImage};

use crate::context::BuildContext;
use crate::plan::instructions::Network;
use crate::plan::{Base, Plan, SourceRef};
use crate::progress::Progress;
use crate::registry::RegistryClient;
use crate::store::Store;

/// Stack of each stage's thread, in bytes. Directory walks over the context, layers and RUN
/// output recurse once per directory level, and a context or a RUN may nest directories as
/// deep as paths allow (PATH_MAX 4096 bytes: ~2,000 levels), which overflowed the default
/// 2 MiB (at ~500 levels in a debug build). Stacks are reserved address space, touched only
/// as deep as a walk goes, so 10,000 stage threads still cost no memory up front.
const STAGE_STACK_BYTES: usize = 64 << 20;

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
    /// `--add-host` and `--shm-size`: what every RUN's sandbox gets.
    pub run_extras: RunExtras,
    /// `--secret` contents by id.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--memory`, `--cpus`, `--pids-limit`, `--ulimit` of every RUN.
    pub limits: crate::sandbox::Limits,
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

/// What buildx's build-level `--add-host` and `--shm-size` give every RUN
/// (BuildKit's frontend attributes `add-hosts` and `shm-size`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunExtras {
    /// `/etc/hosts` entries after the defaults, as (name, IP).
    pub extra_hosts: Vec<(String, String)>,
    /// `/dev/shm` size in bytes; `None`: 64 MiB.
    pub shm_size: Option<u64>,
}

/// Runs builds.
pub struct Engine {
    shared: Shared,
}

/// Stage images kept besides a plan's target: (stage index, image).
pub type KeptStages = Vec<(usize, StageImage)>;

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
        let mut images = self.build_many(std::slice::from_ref(plan), context)?;
        images
            .pop()
            .ok_or_else(|| anyhow!("the target stage did not finish"))
    }

    /// Builds several plans of one Dockerfile at once (one per target
    /// platform, see `--platform a,b`) and returns their target images in
    /// order. Every stage of every plan gets its own thread; a layered step
    /// whose cache key another plan's step already has (a `FROM
    /// --platform=$BUILDPLATFORM` stage, identical for every target) runs
    /// once and the others wait for its result ([`Shared::flight`]).
    pub fn build_many(&self, plans: &[Plan], context: &BuildContext) -> Result<Vec<StageImage>> {
        let keep = vec![Vec::new(); plans.len()];
        let built = self.build_many_keeping(plans, context, &keep)?;
        Ok(built.into_iter().map(|(target, _)| target).collect())
    }

    /// [`Engine::build_many`], also returning, per plan, the images of the
    /// needed stages listed in `keep[i]` (indexes into `plans[i].stages`;
    /// stages not built are left out), with their layers in the store: what
    /// `BUILDKIT_SBOM_SCAN_STAGE` scans besides the target.
    pub fn build_many_keeping(
        &self,
        plans: &[Plan],
        context: &BuildContext,
        keep: &[Vec<usize>],
    ) -> Result<Vec<(StageImage, KeptStages)>> {
        self.shared
            .platform_labels
            .store(plans.len() > 1, Ordering::SeqCst);
        let all_slots: Vec<Slots> = plans
            .iter()
            .map(|p| Mutex::new(vec![None; p.stages.len()]))
            .collect();
        // Stages wait only for stages of their own plan: one condition
        // variable per plan, used with that plan's slots only.
        let all_changed: Vec<Condvar> = plans.iter().map(|_| Condvar::new()).collect();
        let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for ((plan, slots), changed) in plans.iter().zip(&all_slots).zip(&all_changed) {
                for index in plan.build_order() {
                    let first_error = &first_error;
                    let stage_thread = std::thread::Builder::new()
                        .name(format!("stage-{index}"))
                        .stack_size(STAGE_STACK_BYTES);
                    let spawned = stage_thread.spawn_scoped(scope, move || {
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
                        drop(guard);
                        changed.notify_all();
                    });
                    if let Err(e) = spawned {
                        let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
                        guard[index] = Some(Err(()));
                        let mut fe = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        fe.get_or_insert_with(|| {
                            anyhow::anyhow!("starting the thread of stage {index}: {e}")
                        });
                        self.shared.cancel();
                        drop(guard);
                        changed.notify_all();
                    }
                }
            }
        });
        // The metadata index only speeds later builds up: failing to save it is not an error.
        self.shared
            .context_indexes
            .save_all(|| self.shared.store.temp_dir().ok());
        if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        let mut out = Vec::new();
        for ((plan, slots), keep) in plans.iter().zip(all_slots).zip(keep) {
            let mut slots = slots.into_inner().unwrap_or_else(|e| e.into_inner());
            let mut kept = Vec::new();
            for &i in keep {
                if let Some(Some(Ok(image))) = slots.get(i).filter(|_| i != plan.target) {
                    self.shared.fetch_missing(&image.layers)?;
                    kept.push((i, image.clone()));
                }
            }
            match slots[plan.target].take() {
                Some(Ok(image)) => {
                    // The result's layers must be in the store, even those a
                    // cache import only promised.
                    self.shared.fetch_missing(&image.layers)?;
                    out.push((image, kept));
                }
                _ => bail!("the target stage did not finish"),
            }
        }
        Ok(out)
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
        let mounts = if spec.cache_mounts {
            self.shared.export_cache_mounts()?
        } else {
            Vec::new()
        };
        self.shared.block_on(cache_io::export(
            &self.shared.store,
            &self.shared.client,
            spec,
            &steps,
            &mounts,
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
        // Only FROM an image is a step (BuildKit prints none for a stage or scratch).
        let platform = self.shared.platform_labels.load(Ordering::SeqCst);
        let platform_name = stage.platform.to_string();
        let mut names = crate::progress::names::StepNames::new(
            plan,
            stage,
            0,
            platform.then_some(platform_name.as_str()),
        );
        let id = match &stage.base {
            Base::Image(_) => Some(
                self.shared
                    .progress
                    .start(names.next(&format!("FROM {}", describe_base(plan, &stage.base)))),
            ),
            _ => None,
        };
        let base = match &stage.base {
            Base::Scratch => Ok(base::scratch(&stage.platform)),
            Base::Stage(i) => done[*i]
                .clone()
                .ok_or_else(|| anyhow!("stage {i} did not finish")),
            Base::Image(r) => self
                .shared
                .block_on(crate::registry::client::scoped(
                    id.unwrap_or(0),
                    base::resolve_image_with(
                        &self.shared.store,
                        &self.shared.client,
                        r,
                        &stage.platform,
                        self.shared.pull,
                        platform,
                    ),
                ))
                .map(|(img, _)| img),
        };
        let base = match base {
            Ok(b) => {
                if let Some(id) = id {
                    self.shared.progress.done(id, true);
                }
                b
            }
            Err(e) => {
                if let Some(id) = id {
                    self.shared.progress.error(id, format!("{e:#}"));
                }
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
                    // Its blobs are reported under the stage's FROM step.
                    let (img, _) = self
                        .shared
                        .block_on(crate::registry::client::scoped(
                            id.unwrap_or(0),
                            base::resolve_image_with(
                                &self.shared.store,
                                &self.shared.client,
                                r,
                                &stage.platform,
                                self.shared.pull,
                                self.shared.platform_labels.load(Ordering::SeqCst),
                            ),
                        ))
                        .map_err(|e| {
                            let e = not_a_stage(plan, r, e);
                            self.located(&step.ast, step.command.keyword(), e)
                        })?;
                    images.insert(r.clone(), img);
                }
            }
        }
        let lookup = |r: &SourceRef| -> Option<StageImage> {
            match r {
                SourceRef::Stage(i) => done.get(*i).cloned().flatten(),
                SourceRef::Image(name) => images
                    .get(name)
                    .or_else(|| images.get(&plan.image_for(name)))
                    .cloned(),
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

fn describe_base(plan: &Plan, base: &Base) -> String {
    match base {
        Base::Scratch => "scratch".to_string(),
        Base::Image(r) => r.clone(),
        Base::Stage(i) => plan.stages[*i].display_name(),
    }
}

/// A `--from=NAME` that is no stage is pulled as an image, as BuildKit does;
/// when that fails, the error says so and names the stage it was probably
/// meant to be (edit distance at most 2), since a typo is the usual cause.
fn not_a_stage(plan: &Plan, name: &str, err: anyhow::Error) -> anyhow::Error {
    let best = plan
        .stages
        .iter()
        .filter_map(|s| s.name.as_deref())
        .filter_map(|s| {
            Some((
                crate::dockerfile::edit_distance_within(&name.to_lowercase(), s, 2)?,
                s,
            ))
        })
        .min_by_key(|&(d, _)| d);
    let hint = best.map_or(String::new(), |(_, s)| format!(" (did you mean {s}?)"));
    anyhow!("no stage is named {name}{hint}, and as an image it failed: {err:#}")
}
