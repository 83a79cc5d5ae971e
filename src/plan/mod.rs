//! The build plan: typed instructions grouped into stages, ARG/ENV scoping,
//! predefined args, `--build-arg`, `--target`, stage references and the
//! stage DAG with stages the target does not need pruned.
//!
//! Words stay raw in the plan because the base image's ENV (known only after
//! pulling it) takes part in expansion; the engine walks each stage with a
//! [`StageEvaluator`], which expands every instruction exactly where Docker
//! does and tracks the environment and the ARGs in scope.

pub mod args;
mod budget;
mod context_paths;
pub mod duration;
pub mod entitlements;
mod eval;
mod flags;
pub mod instructions;
pub mod mount;
pub mod named;
mod planner;
pub mod platform;
mod render;
mod source;
mod stages;
mod vars;

pub use budget::Budget;
pub use context_paths::context_paths;
pub use eval::{Evaluated, StageEvaluator, StageState, Vars};
pub use instructions::{Command, Copy, From, Healthcheck, Run};
pub use mount::{Mount, MountType, Sharing};
pub use planner::plan;
pub use platform::Platform;
pub use source::SourceText;
pub use vars::VarList;

use crate::dockerfile::Instruction;
use std::collections::BTreeMap;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--build-arg NAME=VALUE` (the last one for a name wins).
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to build; the last stage when `None`.
    pub target: Option<String>,
    /// `--platform`: the target platform; the host's when `None`.
    pub platform: Option<Platform>,
    /// The platform the build runs on; the host's when `None`.
    pub build_platform: Option<Platform>,
    /// The Dockerfile text, so diagnostics can show the offending line.
    pub source: String,
    /// The Dockerfile name shown in diagnostics (`Dockerfile` when empty).
    pub file: String,
    /// `--build-context` names (see [`named::context_key`]) and the image
    /// reference each stands for: a stage of that name is replaced by it,
    /// and a `FROM`/`--from` image of that name resolves to it (BuildKit's
    /// dockerui named contexts).
    pub named_contexts: BTreeMap<String, String>,
}

/// Where a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An image reference (expanded, as written otherwise).
    Image(String),
    /// An earlier stage, by index.
    Stage(usize),
    /// `FROM scratch`: an empty filesystem.
    Scratch,
}

/// Where `COPY --from` or `RUN --mount=from=` takes files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// A stage of this Dockerfile, by index.
    Stage(usize),
    /// An image reference.
    Image(String),
}

/// One instruction of a stage: the AST node, its typed form (raw words) and
/// the stages or images it reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The instruction as parsed (for spans, `original`, history text).
    pub ast: Instruction,
    /// Flags and arguments checked and sorted, words unexpanded.
    pub command: Command,
    /// Stages or images this instruction reads from.
    pub sources: Vec<SourceRef>,
}

/// One build stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Position among the stages (what `--from=N` refers to).
    pub index: usize,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The FROM instruction.
    pub from: Instruction,
    /// What it starts from.
    pub base: Base,
    /// The platform it builds for.
    pub platform: Platform,
    /// True when `FROM --platform` set the platform.
    pub platform_explicit: bool,
    /// Its instructions after FROM.
    pub steps: Vec<Step>,
    /// Stages it needs (base and sources), ascending.
    pub deps: Vec<usize>,
    /// False when the target does not need this stage (it is not built).
    pub needed: bool,
}

impl Stage {
    /// The name shown to users: `AS` name or `stage-N`.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

/// The checked build plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// All stages in file order (pruned ones have `needed == false`).
    pub stages: Vec<Stage>,
    /// The stage to build.
    pub target: usize,
    /// Needed stages grouped in waves: every stage's deps are in earlier waves,
    /// so the stages of one wave can run in parallel.
    pub waves: Vec<Vec<usize>>,
    /// `--build-context` names and the images they stand for (see
    /// [`PlanOptions::named_contexts`]).
    pub named_contexts: BTreeMap<String, String>,
    /// Global ARGs after `--build-arg` and predefined args (what FROM sees and
    /// what an in-stage `ARG name` without a value inherits).
    pub global_args: VarList,
    /// The `--build-arg`s given.
    pub build_args: BTreeMap<String, String>,
    /// The target platform.
    pub platform: Platform,
    /// The escape character of the Dockerfile.
    pub escape: char,
    /// Non-fatal findings (e.g. unconsumed build args).
    pub warnings: Vec<String>,
    /// The Dockerfile text, for diagnostics raised while evaluating.
    pub source: SourceText,
    /// Bytes of expansion results while planning (global ARGs, FROM lines).
    pub planning_bytes: usize,
    /// The expansion budget the build's evaluators share (starting at `planning_bytes`).
    pub budget: Budget,
}

impl Plan {
    /// Needed stages in an order where every stage comes after its deps.
    pub fn build_order(&self) -> Vec<usize> {
        self.waves.iter().flatten().copied().collect()
    }

    /// The image a `FROM`/`--from` image name stands for: its `--build-context`
    /// image when one has that name, else the name itself.
    pub fn image_for(&self, name: &str) -> String {
        named::resolve(&self.named_contexts, name)
    }

    /// The stage `--from`, `--mount=from=` or `--target` names (lower-cased lookup).
    pub fn stage_named(&self, name: &str) -> Option<usize> {
        let lower = name.to_lowercase();
        self.stages
            .iter()
            .rposition(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// An evaluator for stage `index` on top of an image whose config has `base_env`.
    pub fn evaluator(&self, index: usize, base_env: &[(String, String)]) -> StageEvaluator<'_> {
        StageEvaluator::new(self, index, base_env)
    }

    /// A plain-text summary: stages, bases, deps and the parallel waves.
    pub fn render_dry_run(&self) -> String {
        render::dry_run(self)
    }
}

/// The value of `name` in a variable list.
fn shell_get(list: &VarList, name: &str) -> Option<String> {
    list.get(name).map(str::to_string)
}
