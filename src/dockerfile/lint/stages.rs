//! The lint rules that need the build's state, not only the file: BuildKit
//! runs them while `dockerfile2llb` dispatches the stages (`convert.go`,
//! `validations.go`), so they see expanded words, the ENV of base images and
//! the context's `.dockerignore`.
//!
//! * `UndefinedVar`: a word names a variable that is neither in the stage's
//!   environment (the base image's ENV, ENV instructions, ARGs with a
//!   value; PATH is always set) nor declared by an ARG of the stage
//!   (`reportUnmatchedVariables`). Predefined args (`TARGETPLATFORM`, …) and
//!   proxy args count only once an ARG declares them, as in BuildKit.
//! * `CopyIgnoredFile`: a COPY/ADD source of the main context excluded by
//!   `.dockerignore` (`validateCopySourcePath`); not checked when the file
//!   has `!` exclusions.
//! * `InvalidBaseImagePlatform`: a base image whose config is for another
//!   OS or architecture than the stage's platform (`validateBaseImagePlatform`).
//!
//! A build checks the stages the target needs; `--check` all of them.

use std::collections::{BTreeMap, BTreeSet};

use super::ruleset::{COPY_IGNORED_FILE, INVALID_BASE_IMAGE_PLATFORM, UNDEFINED_VAR};
use super::{Finding, Rule};
use crate::context::PatternMatcher;
use crate::dockerfile::Instruction;
use crate::plan::{Base, Command, Plan, Platform, StageEvaluator, StageState};

/// Args BuildKit never puts in the environment (`nonEnvArgs`), so they are
/// never reported as undefined.
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// What the rules need of a base image: its config's Env and platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// Config Env as `(name, value)`, in order.
    pub env: Vec<(String, String)>,
    /// The config's platform (`os`, `architecture`, `variant`).
    pub platform: Platform,
}

/// How to run the stage rules.
pub struct StageLint<'a> {
    /// Every stage (`--check`), not only those the target needs (a build).
    pub all_stages: bool,
    /// The main context's `.dockerignore` matcher, if it has one.
    pub ignore: Option<&'a PatternMatcher>,
    /// Resolve every image base (for `InvalidBaseImagePlatform`), not only
    /// those whose ENV an `UndefinedVar` candidate depends on.
    pub resolve_all: bool,
    /// Finds a base image (reference as the plan maps it, stage platform);
    /// `None` when it cannot be had (the build reports that itself): its
    /// stages' `UndefinedVar` findings are then left out, not guessed.
    pub resolve: &'a mut dyn FnMut(&str, &Platform) -> Option<BaseImage>,
}

/// The stage rules' findings (unsorted; [`super::lint`]'s ordering and
/// `Config` apply when merged).
pub fn lint_stages(plan: &Plan, opts: StageLint<'_>) -> Vec<Finding> {
    let selected: Vec<usize> = plan
        .stages
        .iter()
        .filter(|s| opts.all_stages || s.needed)
        .map(|s| s.index)
        .collect();
    // The image each stage's chain starts from (None: scratch).
    let mut root: Vec<Option<usize>> = vec![None; plan.stages.len()];
    for s in &plan.stages {
        root[s.index] = match &s.base {
            Base::Image(_) => Some(s.index),
            Base::Stage(i) => root.get(*i).copied().flatten(),
            Base::Scratch => None,
        };
    }
    // Pass 1 with no image ENV: which chains have candidates and need their image.
    let mut bases: BTreeMap<usize, Option<BaseImage>> = BTreeMap::new();
    if opts.resolve_all {
        for &i in &selected {
            if let Some(r) = root[i] {
                bases.entry(r).or_default();
            }
        }
    }
    let first = run(plan, &selected, &bases, None);
    for f in &first {
        if f.finding.rule.name == UNDEFINED_VAR.name {
            if let Some(r) = f.root {
                bases.entry(r).or_default();
            }
        }
    }
    let mut out = Vec::new();
    for (r, slot) in bases.iter_mut() {
        let stage = &plan.stages[*r];
        let Base::Image(name) = &stage.base else {
            continue;
        };
        *slot = (opts.resolve)(&plan.image_for(name), &stage.platform);
        if let Some(b) = slot {
            let (want, have) = (&stage.platform, &b.platform);
            if !have.os.is_empty() && (want.os != have.os || want.architecture != have.architecture)
            {
                out.push(at(
                    INVALID_BASE_IMAGE_PLATFORM,
                    &stage.from,
                    format!(
                        "Base image {name} was pulled with platform {:?}, expected {:?} for current build",
                        have.to_string(),
                        want.to_string()
                    ),
                ));
            }
        }
    }
    out.extend(
        run(plan, &selected, &bases, Some(&opts))
            .into_iter()
            .map(|f| f.finding),
    );
    out
}

/// A stage's end state, the ARGs it declared and its chain's image stage.
type Walked = (StageState, BTreeSet<String>, Option<usize>);

struct Found {
    finding: Finding,
    /// The image stage the finding's stage chain starts from.
    root: Option<usize>,
}

/// One pass over `selected` stages: image bases get the ENV in `bases`
/// (empty when absent), and stages whose image is known missing are skipped.
/// `opts` is `None` on the first pass (UndefinedVar candidates only).
fn run(
    plan: &Plan,
    selected: &[usize],
    bases: &BTreeMap<usize, Option<BaseImage>>,
    opts: Option<&StageLint<'_>>,
) -> Vec<Found> {
    let default_path = [("PATH".to_string(), crate::sandbox::DEFAULT_PATH.to_string())];
    let mut states: Vec<Option<Walked>> = vec![None; plan.stages.len()];
    let budget = crate::plan::Budget::new(plan.planning_bytes);
    let mut out = Vec::new();
    for &i in selected {
        let stage = &plan.stages[i];
        let (base, mut declared, root) = match &stage.base {
            Base::Stage(b) => match states.get(*b).cloned().flatten() {
                Some(s) => s,
                None => continue,
            },
            Base::Scratch => (
                StageState::from_image_env(&default_path),
                BTreeSet::new(),
                None,
            ),
            Base::Image(_) => {
                let env = match bases.get(&i) {
                    None => default_path.to_vec(),
                    Some(Some(b)) => with_path(&b.env),
                    // Resolved and missing: nothing is known of its ENV.
                    Some(None) if opts.is_some() => continue,
                    Some(None) => default_path.to_vec(),
                };
                (StageState::from_image_env(&env), BTreeSet::new(), Some(i))
            }
        };
        let unknown_root = root.is_some_and(|r| matches!(bases.get(&r), Some(None)));
        if unknown_root && opts.is_some() {
            continue;
        }
        let mut ev = StageEvaluator::with_base(plan, i, base).with_budget(budget.clone());
        for step in &stage.steps {
            let Ok(e) = ev.next(step) else {
                if budget.exhausted() {
                    return out; // later words are unknown; the build stops here too
                }
                continue; // the build reports it at this step
            };
            for var in &e.unset_vars {
                if declared.contains(var) || NON_ENV_ARGS.contains(&var.as_str()) {
                    continue;
                }
                let mut msg = format!("Usage of undefined variable '${var}'");
                // Suggested from the environment after the step (holding the one
                // before would make every ENV copy the whole list).
                let names = ev.state().run_env.iter().map(|(k, _)| k.as_str());
                if let Some(s) = crate::dockerfile::suggest(var, names) {
                    msg.push_str(&format!(" (did you mean ${s}?)"));
                }
                out.push(Found {
                    finding: at(UNDEFINED_VAR, &step.ast, msg),
                    root,
                });
            }
            match &e.command {
                Command::Arg(decls) => declared.extend(decls.iter().map(|d| d.name.clone())),
                Command::Copy(c) if c.from.is_none() => {
                    if let Some(m) = opts.and_then(|o| o.ignore) {
                        for src in &c.sources {
                            if let Some(f) = ignored_source(m, c.add, src, &step.ast) {
                                out.push(Found { finding: f, root });
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        states[i] = Some((ev.state().clone(), declared, root));
    }
    out
}

/// The image's Env with PATH added when it has none (BuildKit always sets it).
fn with_path(env: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), crate::sandbox::DEFAULT_PATH.into()));
    }
    env
}

/// `validateCopySourcePath` for one (expanded) source of the main context.
fn ignored_source(m: &PatternMatcher, add: bool, src: &str, inst: &Instruction) -> Option<Finding> {
    if m.is_empty() || m.has_exclusions() {
        return None;
    }
    if add && (src.starts_with("http://") || src.starts_with("https://")) {
        return None;
    }
    let src = go_clean(src);
    if src == "." || src == "/" {
        // The context root: only patterns that exclude every entry of it.
        let root_ignored = m
            .patterns()
            .iter()
            .any(|p| !p.is_exclusion() && matches!(p.as_str(), "*" | "**" | "**/*"));
        if !root_ignored {
            return None;
        }
    }
    if !m.matches_or_parent_matches(src.as_bytes()) {
        return None;
    }
    let cmd = if add { "Add" } else { "Copy" };
    Some(at(
        COPY_IGNORED_FILE,
        inst,
        format!("Attempting to {cmd} file {src:?} that is excluded by .dockerignore"),
    ))
}

/// Go's `filepath.Clean` for slash paths.
fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

fn at(rule: Rule, inst: &Instruction, message: String) -> Finding {
    Finding {
        rule,
        message,
        start_line: inst.span.line,
        end_line: inst.span.end_line.max(inst.span.line),
    }
}
