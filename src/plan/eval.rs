//! Walking one stage instruction by instruction, expanding words exactly
//! where Docker does, with the environment the stage has at that point.

use super::instructions::{check_port, check_signal, mount_diag, parse_chmod, Command, KeyValue};
use super::mount::{parse_mount, Mount};
use super::{Plan, Step};
use crate::diag::Diagnostic;
use crate::dockerfile::shell::Lexer;

/// An ordered list of variables, shared between evaluation results (most
/// instructions change none, so each result shares the previous list; one
/// that is no longer shared is changed in place).
pub type Vars = std::sync::Arc<super::vars::VarList>;

/// What a stage hands on to a stage built `FROM` it (and what an image base
/// provides: only `env`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageState {
    /// The image config's Env: base image ENV plus ENV instructions.
    pub env: Vars,
    /// The environment RUN and expansion see: `env` with ARG values mixed in
    /// in instruction order (a later ARG or ENV of the same name wins, as in
    /// BuildKit).
    pub run_env: Vars,
    /// ARGs in scope with their values (never persisted in the image).
    pub args: Vars,
}

impl StageState {
    /// The state at the start of a stage based on an image whose config Env is `env`.
    pub fn from_image_env(env: &[(String, String)]) -> Self {
        StageState {
            env: Vars::new(super::vars::VarList::from_pairs(env)),
            run_env: Vars::new(super::vars::VarList::from_pairs(env)),
            args: Vars::default(),
        }
    }
}

/// One instruction after expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The instruction with every word Docker expands expanded (RUN, CMD,
    /// ENTRYPOINT, HEALTHCHECK, SHELL and ONBUILD text is left as written).
    pub command: Command,
    /// RUN mounts, parsed after expansion.
    pub mounts: Vec<Mount>,
    /// COPY/ADD `--chmod` as a mode.
    pub chmod: Option<u32>,
    /// For ARG, each name's default as written, expanded (quotes removed) with the
    /// environment before the instruction; `None` where no default is given. BuildKit's
    /// ARG history entry shows these, whatever `--build-arg` sets. Empty for other steps.
    pub arg_defaults: Vec<Option<String>>,
    /// Config Env after this instruction.
    pub env: Vars,
    /// What a RUN here sees, before the proxy variables of [`super::args::proxy_env`] (which
    /// BuildKit adds outside the step's environment: not in its history or cache key).
    pub run_env: Vars,
    /// ARGs in scope after this instruction.
    pub args: Vars,
    /// Variable names the expansion used that were set.
    pub used_vars: Vec<String>,
    /// Variable names the expansion referenced that were not set (BuildKit's
    /// `unmatched`, what the `UndefinedVar` lint rule reports).
    pub unset_vars: Vec<String>,
}

/// Evaluates the steps of one stage in order.
#[derive(Debug)]
pub struct StageEvaluator<'p> {
    plan: &'p Plan,
    stage: usize,
    lexer: Lexer,
    state: StageState,
    used: std::collections::BTreeSet<String>,
    unset: std::collections::BTreeSet<String>,
    /// Where expansion results are counted (the plan's unless [`Self::with_budget`]).
    budget: super::Budget,
}

impl<'p> StageEvaluator<'p> {
    /// Starts stage `index` on a base image whose config Env is `base_env`
    /// (empty for scratch).
    pub fn new(plan: &'p Plan, index: usize, base_env: &[(String, String)]) -> Self {
        Self::with_base(plan, index, StageState::from_image_env(base_env))
    }

    /// Starts stage `index` on the final state of the stage it is built `FROM`.
    pub fn with_base(plan: &'p Plan, index: usize, base: StageState) -> Self {
        StageEvaluator {
            plan,
            stage: index,
            lexer: Lexer::new(plan.escape),
            state: base,
            used: Default::default(),
            unset: Default::default(),
            budget: plan.budget.clone(),
        }
    }

    /// Counts expansion results against `budget` instead of the plan's (for a pass over the
    /// stages that is not the build, such as [`super::context_paths`]).
    pub fn with_budget(mut self, budget: super::Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The budget expansion results are counted against.
    pub fn budget(&self) -> &super::Budget {
        &self.budget
    }

    /// The index of the stage being evaluated.
    pub fn stage(&self) -> usize {
        self.stage
    }

    /// The state so far (hand it to stages built `FROM` this one when done).
    pub fn state(&self) -> &StageState {
        &self.state
    }

    /// Expands one step and applies its effect on ENV/ARG scope.
    pub fn next(&mut self, step: &Step) -> Result<Evaluated, Diagnostic> {
        self.used.clear();
        self.unset.clear();
        let mut mounts = Vec::new();
        let mut chmod = None;
        let mut arg_defaults = Vec::new();
        let command = match &step.command {
            Command::Env(pairs) => {
                let pairs = self.kvs(step, pairs)?;
                for kv in &pairs {
                    std::sync::Arc::make_mut(&mut self.state.env).set(&kv.key, &kv.value);
                    std::sync::Arc::make_mut(&mut self.state.run_env).set(&kv.key, &kv.value);
                }
                Command::Env(pairs)
            }
            Command::Label(pairs) => Command::Label(self.kvs(step, pairs)?),
            Command::Arg(decls) => {
                // BuildKit expands every default of the instruction first, with the
                // environment before it (`ArgCommand.Expand`), then declares the names in
                // order: `ARG X=1 Y=$X` leaves Y as X was before the line. The expanded
                // defaults are also what the ARG history entry shows.
                let mut defaults = Vec::with_capacity(decls.len());
                for d in decls {
                    defaults.push(self.opt_word(step, d.default.as_deref())?);
                }
                let mut out = Vec::new();
                for (d, default) in decls.iter().zip(&defaults) {
                    let value = if let Some(v) = self.plan.build_args.get(&d.name) {
                        Some(v.clone())
                    } else if default.is_some() {
                        default.clone()
                    } else {
                        super::shell_get(&self.plan.global_args, &d.name)
                    };
                    if let Some(v) = &value {
                        std::sync::Arc::make_mut(&mut self.state.run_env).set(&d.name, v);
                        std::sync::Arc::make_mut(&mut self.state.args).set(&d.name, v);
                    }
                    out.push(super::instructions::ArgDecl {
                        name: d.name.clone(),
                        default: value,
                    });
                }
                arg_defaults = defaults;
                Command::Arg(out)
            }
            Command::Workdir(p) => Command::Workdir(self.word(step, p)?),
            Command::User(u) => Command::User(self.word(step, u)?),
            Command::StopSignal(s) => {
                let v = self.word(step, s)?;
                check_signal(&v).map_err(|e| self.plan.source.at_text(&step.ast, s, 0, e))?;
                Command::StopSignal(v)
            }
            Command::Volume(vs) => {
                let mut out = Vec::new();
                for v in vs {
                    out.push(self.word(step, v)?);
                }
                Command::Volume(out)
            }
            Command::Expose(ps) => {
                let mut out = Vec::new();
                for p in ps {
                    let words = self
                        .lexer
                        .process(p, &*self.state.run_env)
                        .map_err(|e| self.expand_diag(step, p, e))?;
                    self.used.extend(words.matched);
                    self.unset.extend(words.unmatched);
                    self.charge(step, p, words.result.len())?;
                    for w in words.words {
                        check_port(&w).map_err(|e| self.plan.source.at_text(&step.ast, p, 0, e))?;
                        out.push(w);
                    }
                }
                Command::Expose(out)
            }
            Command::Copy(c) => {
                let mut c = c.clone();
                c.chown = self.opt_word(step, c.chown.as_deref())?;
                // `--chmod` is read literally (see `parse_chmod`).
                c.checksum = self.opt_word(step, c.checksum.as_deref())?;
                for s in c.sources.iter_mut() {
                    *s = self.word(step, s)?;
                }
                c.dest = self.word(step, &c.dest)?;
                let heredoc_lexer = Lexer::new(self.plan.escape).skip_quotes(true);
                for f in c.inline.iter_mut().filter(|f| f.expand) {
                    let e = heredoc_lexer
                        .process_unsplit(&f.data, &*self.state.run_env)
                        .map_err(|e| self.expand_diag(step, &f.name, e))?;
                    self.used.extend(e.matched);
                    self.unset.extend(e.unmatched);
                    self.charge(step, &f.name, e.result.len())?;
                    f.data = e.result;
                }
                chmod = c.chmod.as_deref().and_then(parse_chmod);
                if c.checksum.is_some() && c.sources.iter().any(|s| !is_http_source(s)) {
                    // BuildKit's dispatchCopy refuses it before anything is fetched.
                    let index = step
                        .ast
                        .flags
                        .iter()
                        .position(|f| f.starts_with("--checksum"))
                        .unwrap_or(0);
                    return Err(self.plan.source.at_flag(
                        &step.ast,
                        index,
                        None,
                        "checksum can't be specified for non-HTTP sources".to_string(),
                    ));
                }
                Command::Copy(c)
            }
            Command::Run(r) => {
                let mut mount_index = 0;
                for (index, flag) in step.ast.flags.iter().enumerate() {
                    if !flag.starts_with("--mount=") {
                        continue;
                    }
                    let Some(spec) = r.mounts.get(mount_index) else {
                        break;
                    };
                    mount_index += 1;
                    let env = &*self.state.run_env;
                    let lexer = self.lexer;
                    let budget = &self.budget;
                    let mut used = Vec::new();
                    let mut expand = |v: &str| {
                        let e = lexer.process_unsplit(v, env).map_err(|e| e.to_string())?;
                        budget.charge(e.result.len())?;
                        used.extend(e.matched);
                        Ok(Some(e.result))
                    };
                    let m = parse_mount(spec, &mut expand)
                        .map_err(|e| mount_diag(&self.plan.source, &step.ast, index, spec, e))?;
                    self.used.extend(used);
                    mounts.push(m);
                }
                Command::Run(r.clone())
            }
            other => other.clone(),
        };
        let run_env = self.state.run_env.clone();
        Ok(Evaluated {
            command,
            mounts,
            chmod,
            arg_defaults,
            env: self.state.env.clone(),
            run_env,
            args: self.state.args.clone(),
            used_vars: self.used.iter().cloned().collect(),
            unset_vars: self.unset.iter().cloned().collect(),
        })
    }

    fn expand_diag(
        &self,
        step: &Step,
        word: &str,
        e: crate::dockerfile::shell::ExpandError,
    ) -> Diagnostic {
        self.plan.source.at_text(&step.ast, word, 0, e.to_string())
    }

    fn word(&mut self, step: &Step, w: &str) -> Result<String, Diagnostic> {
        let e = self
            .lexer
            .process_unsplit(w, &*self.state.run_env)
            .map_err(|e| self.expand_diag(step, w, e))?;
        self.used.extend(e.matched);
        self.unset.extend(e.unmatched);
        self.charge(step, w, e.result.len())?;
        Ok(e.result)
    }

    /// Counts `bytes` of expansion of `word` against the budget.
    fn charge(&self, step: &Step, word: &str, bytes: usize) -> Result<(), Diagnostic> {
        self.budget
            .charge(bytes)
            .map_err(|e| self.plan.source.at_text(&step.ast, word, 0, e))
    }

    fn opt_word(&mut self, step: &Step, w: Option<&str>) -> Result<Option<String>, Diagnostic> {
        w.map(|w| self.word(step, w)).transpose()
    }

    fn kvs(&mut self, step: &Step, pairs: &[KeyValue]) -> Result<Vec<KeyValue>, Diagnostic> {
        let mut out = Vec::new();
        for kv in pairs {
            out.push(KeyValue {
                key: self.word(step, &kv.key)?,
                value: self.word(step, &kv.value)?,
            });
        }
        Ok(out)
    }
}

/// BuildKit's `isHTTPSource`: what ADD downloads (and what `--checksum` may verify).
fn is_http_source(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}
