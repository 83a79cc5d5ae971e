//! Running one stage: each instruction after expansion changes the image
//! config (metadata instructions) or adds a layer (WORKDIR, COPY, ADD, RUN)
//! over the stage's snapshot chain.

mod cache_key;
mod copy_dispatch;
mod metadata;
mod run;
mod run_mount;
mod workdir;

use std::path::Path;

use anyhow::{anyhow, Context as _, Result};

use super::state::StageImage;
use super::Shared;
use crate::context::BuildContext;
use crate::image::History;
use crate::plan::instructions::Copy;
use crate::plan::{Command, Evaluated, Plan, SourceRef, Stage, Step};

pub use metadata::set_env;
pub use run::run_user;
pub use workdir::normalize_workdir;

/// The most layers a new layer or mount may sit on. Docker 26.1's overlay2
/// driver refuses more lower dirs (moby `overlay2.maxDepth`, "max depth
/// exceeded"): an image may hold `MAX_LOWER_DEPTH + 1` = 129 layers, but no
/// step runs on a 129-layer parent and a 129-layer stage cannot be read by
/// `COPY --from` or `RUN --mount=from=` (parity cases 119–123). builder
/// keeps the same limit so that what it builds, Docker can build on.
pub const MAX_LOWER_DEPTH: usize = 128;

/// Docker's error for a chain deeper than [`MAX_LOWER_DEPTH`], with the
/// count and what to do.
fn max_depth_error(what: &str) -> anyhow::Error {
    anyhow!(
        "max depth exceeded: {what}, and a layer or mount sits on at most {MAX_LOWER_DEPTH} \
         layers, as Docker's overlay2 (merge RUN/COPY steps, or copy the result into a fresh \
         stage)"
    )
}

/// Refuses to read `image` (by `COPY --from`, `RUN --mount=from=`) when a
/// mount over it would exceed [`MAX_LOWER_DEPTH`], as Docker does.
fn check_readable(image: &StageImage, from: &str) -> Result<()> {
    if image.layers.len() > MAX_LOWER_DEPTH {
        return Err(max_depth_error(&format!(
            "{from} has {} layers",
            image.layers.len()
        )));
    }
    Ok(())
}

/// Where COPY --from and RUN --mount=from read: a finished stage or image.
pub type SourceImages<'a> = dyn Fn(&SourceRef) -> Option<StageImage> + Sync + 'a;

/// Runs the steps of `stage` on top of `image`.
pub struct StageRunner<'a> {
    shared: &'a Shared,
    plan: &'a Plan,
    stage: &'a Stage,
    context: &'a BuildContext,
    sources: &'a SourceImages<'a>,
    image: StageImage,
    /// Every ARG declared in the stage, in order (BuildKit lists them, even
    /// twice, in RUN history).
    arg_names: Vec<String>,
    /// Whether a CMD of this stage (an ONBUILD trigger's included) has run: an ENTRYPOINT
    /// then keeps CMD, else it clears the inherited one (BuildKit's `cmdSet`).
    cmd_set: bool,
    /// Position of each name in the config's `Env` (`KEY=value` strings), built on the first
    /// ENV and dropped whenever the config is replaced: a linear search per ENV made a stage
    /// of n ENV lines cost n² (issue 17).
    env_index: Option<std::collections::HashMap<String, usize>>,
    /// The sources a COPY resolved for its cache key (sources, `--exclude`, `--parents`, the
    /// resolution), handed to the same step's layer write: on a 100,000-file context a walk
    /// is ~0.1–0.3 s, and the layer then holds exactly the files the key was made of.
    resolved: std::sync::Mutex<Option<ResolvedSources>>,
    /// The family of the COPY/ADD step being run (see `engine::incremental`) and its
    /// progress id: its previous layer lends the new one its unchanged contents.
    family: Option<(String, usize)>,
}

/// See [`StageRunner::resolved`].
type ResolvedSources = (
    Vec<String>,
    Vec<String>,
    bool,
    Vec<crate::context::SelectedSource>,
);

impl<'a> StageRunner<'a> {
    /// A runner for `stage` starting from `image`.
    pub fn new(
        shared: &'a Shared,
        plan: &'a Plan,
        stage: &'a Stage,
        context: &'a BuildContext,
        sources: &'a SourceImages<'a>,
        image: StageImage,
    ) -> Self {
        StageRunner {
            shared,
            plan,
            stage,
            context,
            sources,
            image,
            arg_names: Vec::new(),
            cmd_set: false,
            env_index: None,
            resolved: std::sync::Mutex::new(None),
            family: None,
        }
    }

    /// Runs ONBUILD triggers of the base, then every step; returns the image.
    pub fn run(mut self) -> Result<StageImage> {
        if self.image.layers.len() > MAX_LOWER_DEPTH + 1 {
            let err = max_depth_error(&format!(
                "the base image has {} layers",
                self.image.layers.len()
            ));
            return Err(self.at_from(format!("FROM failed: {err:#}")));
        }
        let mut evaluator = crate::plan::StageEvaluator::with_base(
            self.plan,
            self.stage.index,
            self.image.scope.clone(),
        );
        let triggers = std::mem::take(&mut self.image.config.config.on_build);
        let trigger_steps = self.trigger_steps(&triggers)?;
        let platform = self
            .shared
            .platform_labels
            .load(std::sync::atomic::Ordering::SeqCst);
        let platform_name = self.stage.platform.to_string();
        let counted = trigger_steps
            .iter()
            .filter(|s| crate::progress::names::is_step(&s.ast.keyword))
            .count();
        let mut names = crate::progress::names::StepNames::new(
            self.plan,
            self.stage,
            counted,
            platform.then_some(platform_name.as_str()),
        );
        names.skip_from(self.stage);
        for step in trigger_steps.iter().chain(self.stage.steps.iter()) {
            self.shared.check_cancelled()?;
            // Config-only instructions (ENV, LABEL, …) are no steps, as in BuildKit.
            let id = crate::progress::names::is_step(&step.ast.keyword).then(|| {
                let name = names.next(&first_line(&step.ast.original));
                self.shared.progress.start(name)
            });
            let result = evaluator
                .next(step)
                .map_err(|d| anyhow!("{d}"))
                .and_then(|ev| self.cached_step(step, &ev, id.unwrap_or(0)));
            match (result, id) {
                (Ok(true), Some(id)) => self.shared.progress.cached(id),
                (Ok(false), Some(id)) => self.shared.progress.done(id, true),
                (Ok(_), None) => {}
                (Err(e), id) => {
                    if let Some(id) = id {
                        self.shared.progress.error(id, format!("{e:#}"));
                    }
                    return Err(e);
                }
            }
        }
        self.image.scope = evaluator.state().clone();
        Ok(self.image)
    }

    /// Runs a step through the step cache; true when its result came from
    /// the cache (no mount, no extraction, no process).
    fn cached_step(&mut self, step: &Step, ev: &Evaluated, id: usize) -> Result<bool> {
        let (key, layered, family) = self.step_key(ev).map_err(|e| self.located(step, e))?;
        if layered && self.image.layers.len() > MAX_LOWER_DEPTH {
            return Err(self.located(
                step,
                max_depth_error(&format!(
                    "this step would run on {} layers",
                    self.image.layers.len()
                )),
            ));
        }
        // A cached RUN's cache mounts are still this build's, for an
        // export with `cache-mounts=true`.
        for m in &ev.mounts {
            if let Some(used) = self.cache_mount_use(m) {
                self.shared.note_cache_mount(used);
            }
        }
        // A step another platform's build of this Dockerfile has run (or is
        // running) with the same key is not run again.
        let flight = layered.then(|| self.shared.flight(&key));
        let mut slot = flight
            .as_ref()
            .map(|f| f.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some((config, layers)) = slot.as_ref().and_then(|s| s.as_ref()) {
            self.image.config = config.clone();
            self.image.layers = layers.clone();
            self.image.cache_key = key;
            return Ok(true);
        }
        let store = &self.shared.store;
        if layered && self.cache_enabled() {
            if let Some((config, layers)) = super::cache::lookup(store, &key) {
                self.env_index = None;
                self.image.config = config;
                self.image.layers = layers;
                self.image.cache_key = key;
                self.shared.note_outcome(self.stage.index, &self.image);
                if let Some(s) = slot.as_mut() {
                    **s = Some((self.image.config.clone(), self.image.layers.clone()));
                }
                return Ok(true);
            }
            if let Some((config, layers)) = self.shared.imported.lookup(&key) {
                self.env_index = None;
                self.image.config = config;
                self.image.layers = layers;
                self.image.cache_key = key.clone();
                // Recorded here too: it serves later builds once its blobs
                // are fetched (a record whose blobs are missing never hits).
                super::cache::record(store, &key, &self.image)?;
                self.shared.note_outcome(self.stage.index, &self.image);
                if let Some(s) = slot.as_mut() {
                    **s = Some((self.image.config.clone(), self.image.layers.clone()));
                }
                return Ok(true);
            }
        }
        self.family = family.clone().map(|f| (f, id));
        let stepped = self.step(step, ev, id);
        self.family = None;
        stepped?;
        if let (Some(family), Some(top)) = (family, self.image.layers.last()) {
            self.shared.note_family(&top.diff_id, family);
        }
        self.image.cache_key = key.clone();
        if layered {
            super::cache::record(store, &key, &self.image)?;
            self.shared.note_outcome(self.stage.index, &self.image);
        }
        if let Some(s) = slot.as_mut() {
            **s = Some((self.image.config.clone(), self.image.layers.clone()));
        }
        Ok(false)
    }

    fn cache_enabled(&self) -> bool {
        if self.shared.no_cache {
            return false;
        }
        let name = self.stage.name.clone().unwrap_or_default();
        let index = self.stage.index.to_string();
        !self
            .shared
            .no_cache_stages
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&name) || *s == index)
    }

    /// An error located at this stage's FROM line.
    fn at_from(&self, message: String) -> anyhow::Error {
        let from = &self.stage.from;
        let diag = crate::diag::Diagnostic::at(
            &self.shared.dockerfile_text,
            from.span.line,
            from.span.column,
            message,
        )
        .in_file(self.shared.dockerfile_name.clone())
        .width(4);
        anyhow!("{diag}")
    }

    /// The base image's ONBUILD triggers as steps of this stage.
    ///
    /// Errors: an unparsable trigger; a `COPY --from` trigger, which BuildKit 0.13 refuses
    /// whatever it names (stage, index or image: the trigger's sources are not among the
    /// stage's dependencies), with its wording, at the FROM line.
    fn trigger_steps(&self, triggers: &[String]) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        for trigger in triggers {
            let df = crate::dockerfile::parse(trigger)
                .map_err(|d| anyhow!("ONBUILD trigger {trigger:?} of the base image: {d}"))?;
            for inst in df.instructions {
                let src = crate::plan::SourceText::new(trigger, "ONBUILD");
                let command = crate::plan::instructions::parse_command(&src, &inst)
                    .map_err(|d| anyhow!("ONBUILD trigger {trigger:?}: {d}"))?;
                if let Command::Copy(Copy {
                    from: Some(from), ..
                }) = &command
                {
                    return Err(self.at_from(format!(
                        "cannot copy from stage {}, it needs to be defined before current stage {}",
                        crate::dockerfile::go_quote(from),
                        crate::dockerfile::go_quote(&self.stage.display_name())
                    )));
                }
                steps.push(Step {
                    ast: inst,
                    command,
                    sources: Vec::new(),
                });
            }
        }
        Ok(steps)
    }

    /// The error for a failed step, pointing at its Dockerfile line.
    fn located(&self, step: &Step, err: anyhow::Error) -> anyhow::Error {
        let diag = crate::diag::Diagnostic::at(
            &self.shared.dockerfile_text,
            step.ast.span.line,
            step.ast.span.column,
            match err.downcast_ref::<run::LimitHit>() {
                Some(hit) => format!("{} {hit}", step.command.keyword()),
                None => format!("{} failed: {err:#}", step.command.keyword()),
            },
        )
        .in_file(self.shared.dockerfile_name.clone())
        .width(step.command.keyword().len());
        anyhow!("{diag}")
    }

    /// Applies one evaluated instruction: metadata instructions change the
    /// config, WORKDIR/COPY/ADD/RUN add a layer (each in its own module).
    fn step(&mut self, step: &Step, ev: &Evaluated, id: usize) -> Result<()> {
        match &ev.command {
            Command::Workdir(path) => self.workdir_step(step, path),
            Command::Copy(c) => self.copy_step(step, c, ev),
            Command::Run(run) => self.run_step(step, run, ev, id),
            _ => self.metadata_step(step, ev),
        }
    }

    fn with_shell(&self, args: &[String], exec_form: bool) -> Vec<String> {
        if exec_form {
            return args.to_vec();
        }
        let mut out = self.shell();
        out.extend(args.iter().cloned());
        out
    }

    fn shell(&self) -> Vec<String> {
        let sh = &self.image.config.config.shell;
        if sh.is_empty() {
            vec!["/bin/sh".to_string(), "-c".to_string()]
        } else {
            sh.clone()
        }
    }

    fn history(&mut self, created_by: String, layer: bool) {
        // Stamped when the step runs, so a cached rebuild keeps the image ID.
        // Metadata steps take their parent's time (the base image's when no
        // step ran yet), so only executed layers move it, as in BuildKit.
        let inherited = (!layer)
            .then(|| {
                self.image
                    .config
                    .history
                    .iter()
                    .skip(self.image.base_history)
                    .rev()
                    .find_map(|h| h.created.clone())
                    .or_else(|| self.image.config.created.clone())
            })
            .flatten();
        let created = match self.shared.epoch {
            Some(secs) => crate::image::format_rfc3339_nano(secs, 0),
            None => inherited.unwrap_or_else(crate::image::now_rfc3339_nano),
        };
        self.image.config.history.push(History {
            created: Some(created),
            created_by,
            comment: "buildkit.dockerfile.v0".to_string(),
            empty_layer: !layer,
            ..Default::default()
        });
    }

    /// A fresh upper dir for a step, on the store's filesystem.
    fn step_dirs(&self) -> Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("step-")
            .tempdir_in(self.shared.store.tmp_dir())
            .context("creating a step directory")
    }

    fn commit(&mut self, upper: &Path) -> Result<()> {
        let layer = super::commit::commit_upper(&self.shared.store, upper, self.shared.epoch)?;
        self.image.push_layer(layer);
        Ok(())
    }

    fn stage_source(&self, c: &Copy) -> Result<StageImage> {
        let from = c.from.as_deref().unwrap_or_default();
        let by_index = from.parse::<usize>().ok();
        let reference = self
            .stage_ref(from, by_index)
            .unwrap_or_else(|| SourceRef::Image(from.to_string()));
        let image = (self.sources)(&reference)
            .ok_or_else(|| anyhow!("COPY --from={from}: source not available"))?;
        check_readable(&image, from)?;
        Ok(image)
    }

    /// The earlier stage `from` names: by index, else by name as the plan resolved it.
    fn stage_ref(&self, from: &str, by_index: Option<usize>) -> Option<SourceRef> {
        by_index
            .or_else(|| self.plan.stage_named(from))
            .filter(|&i| i < self.stage.index)
            .map(SourceRef::Stage)
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}
