//! Running one stage: each instruction after expansion changes the image
//! config (metadata instructions) or adds a layer (WORKDIR, COPY, ADD, RUN)
//! over the stage's snapshot chain.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use super::copy::{mkdir_all, place_entry, CopyOptions, HardlinkMap};
use super::overlay::{with_overlays, OverlaySpec};
use super::state::StageImage;
use super::{history, Shared};
use crate::context::{BuildContext, FileKind, IgnoreSpec, SelectOptions};
use crate::image::{Healthcheck as ImageHealthcheck, History};
use crate::plan::instructions::{Copy, Healthcheck, Network, Run};
use crate::plan::{Command, Evaluated, MountType, Plan, Sharing, SourceRef, Stage, Step};
use crate::sandbox;

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
}

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
        }
    }

    /// Runs ONBUILD triggers of the base, then every step; returns the image.
    pub fn run(mut self) -> Result<StageImage> {
        let mut evaluator = crate::plan::StageEvaluator::with_base(
            self.plan,
            self.stage.index,
            self.image.scope.clone(),
        );
        let triggers = std::mem::take(&mut self.image.config.config.on_build);
        let trigger_steps = self.trigger_steps(&triggers)?;
        let total = self.stage.steps.len() + trigger_steps.len() + 1;
        for (i, step) in trigger_steps
            .iter()
            .chain(self.stage.steps.iter())
            .enumerate()
        {
            self.shared.check_cancelled()?;
            let name = format!(
                "[{} {}/{}] {}",
                self.stage.display_name(),
                i + 2,
                total,
                first_line(&step.ast.original)
            );
            let id = self.shared.progress.start(name);
            let result = evaluator
                .next(step)
                .map_err(|d| anyhow!("{d}"))
                .and_then(|ev| self.cached_step(step, &ev, id));
            match result {
                Ok(true) => self.shared.progress.cached(id),
                Ok(false) => self.shared.progress.done(id, true),
                Err(e) => {
                    self.shared.progress.error(id, format!("{e:#}"));
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
        let (key, layered) = self.step_key(ev).map_err(|e| self.located(step, e))?;
        let store = &self.shared.store;
        if layered && self.cache_enabled() {
            if let Some((config, layers)) = super::cache::lookup(store, &key) {
                self.image.config = config;
                self.image.layers = layers;
                self.image.cache_key = key;
                self.shared.note_outcome(self.stage.index, &self.image);
                return Ok(true);
            }
            if let Some((config, layers)) = self.shared.imported.lookup(&key) {
                self.image.config = config;
                self.image.layers = layers;
                self.image.cache_key = key.clone();
                // Recorded here too: it serves later builds once its blobs
                // are fetched (a record whose blobs are missing never hits).
                super::cache::record(store, &key, &self.image)?;
                self.shared.note_outcome(self.stage.index, &self.image);
                return Ok(true);
            }
        }
        self.step(step, ev, id)?;
        self.image.cache_key = key.clone();
        if layered {
            super::cache::record(store, &key, &self.image)?;
            self.shared.note_outcome(self.stage.index, &self.image);
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

    /// The cache key of a step and whether it makes a layer (only those are
    /// looked up; metadata steps are cheaper to redo than to look up).
    fn step_key(&self, ev: &Evaluated) -> Result<(String, bool)> {
        let mut k = super::cache::KeyBuilder::new(&self.image.cache_key);
        let cfg = &self.image.config.config;
        k.part("instruction", &format!("{:?}", ev.command));
        k.part("platform", &self.stage.platform.to_string());
        k.part("user", &cfg.user);
        k.part("workdir", &cfg.working_dir);
        k.part("shell", &format!("{:?}", cfg.shell));
        k.part("env", &format!("{:?}", ev.run_env));
        k.part("args", &format!("{:?}", self.arg_names));
        let layered = match &ev.command {
            Command::Workdir(p) => normalize_workdir(&cfg.working_dir, p) != "/",
            Command::Copy(c) => {
                match &c.from {
                    Some(_) => {
                        let src = self.stage_source(c)?;
                        k.part("from", &src.cache_key);
                    }
                    None => {
                        let local: Vec<String> =
                            c.sources.iter().filter(|s| !is_url(s)).cloned().collect();
                        let select = SelectOptions {
                            excludes: c.excludes.clone(),
                            parents: c.parents,
                        };
                        k.part("context", &self.context_digest(&local, &select)?);
                    }
                }
                if c.sources.iter().any(|s| is_url(s)) && c.checksum.is_none() {
                    // A URL without a checksum can change at any time: always fetch.
                    k.part("nonce", &format!("{:?}", std::time::SystemTime::now()));
                }
                true
            }
            Command::Run(_) => {
                k.part("network", &format!("{:?}", self.shared.network));
                for m in &ev.mounts {
                    // Secrets count by id only; their content never enters a key.
                    k.part(
                        "mount",
                        &format!("{:?}/{:?}/{:?}/{:?}", m.kind, m.id, m.target, m.from),
                    );
                    if m.kind == MountType::Bind {
                        match &m.from {
                            None => {
                                let src = m.source.clone().unwrap_or_else(|| "/".to_string());
                                k.part(
                                    "bind",
                                    &self.context_digest(&[src], &SelectOptions::default())?,
                                );
                            }
                            Some(from) => {
                                let r = self
                                    .stage_ref(from, from.parse().ok())
                                    .unwrap_or_else(|| SourceRef::Image(from.clone()));
                                let key =
                                    (self.sources)(&r).map(|i| i.cache_key).unwrap_or_default();
                                k.part("bind-from", &key);
                            }
                        }
                    }
                }
                true
            }
            _ => false,
        };
        Ok((k.finish(), layered))
    }

    /// The content digest of context sources, through the build's metadata
    /// index (unchanged files are not read again).
    fn context_digest(&self, sources: &[String], select: &SelectOptions) -> Result<String> {
        let selected = self.context.resolve_sources(sources, select)?;
        let mut index = self
            .shared
            .context_index
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(self.context.digest_sources(&selected, &mut index)?)
    }

    fn trigger_steps(&self, triggers: &[String]) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        for trigger in triggers {
            let df = crate::dockerfile::parse(trigger)
                .map_err(|d| anyhow!("ONBUILD trigger {trigger:?} of the base image: {d}"))?;
            for inst in df.instructions {
                let src = crate::plan::SourceText::new(trigger, "ONBUILD");
                let command = crate::plan::instructions::parse_command(&src, &inst)
                    .map_err(|d| anyhow!("ONBUILD trigger {trigger:?}: {d}"))?;
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
            format!("{} failed: {err:#}", step.command.keyword()),
        )
        .in_file(self.shared.dockerfile_name.clone())
        .width(step.command.keyword().len());
        anyhow!("{diag}")
    }

    fn step(&mut self, step: &Step, ev: &Evaluated, id: usize) -> Result<()> {
        let cfg = &mut self.image.config.config;
        match &ev.command {
            Command::Env(pairs) => {
                let mut msg = String::from("ENV");
                for kv in pairs {
                    set_env(&mut cfg.env, &kv.key, &kv.value);
                    msg.push_str(&format!(" {}={}", kv.key, kv.value));
                }
                self.history(msg, false);
            }
            Command::Label(pairs) => {
                let mut msg = String::from("LABEL");
                for kv in pairs {
                    cfg.labels.insert(kv.key.clone(), kv.value.clone());
                    msg.push_str(&format!(" {}={}", kv.key, kv.value));
                }
                self.history(msg, false);
            }
            Command::Arg(_) => {
                let Command::Arg(raw) = &step.command else {
                    unreachable!("ARG evaluates to ARG")
                };
                let mut parts = Vec::new();
                for d in raw {
                    self.arg_names.push(d.name.clone());
                    parts.push(match &d.default {
                        Some(v) => format!("{}={}", d.name, v),
                        None => d.name.clone(),
                    });
                }
                self.history(format!("ARG {}", parts.join(" ")), false);
            }
            Command::Maintainer(m) => {
                self.image.config.author = m.clone();
                self.history(format!("MAINTAINER {m}"), false);
            }
            Command::User(u) => {
                cfg.user = u.clone();
                self.history(format!("USER {u}"), false);
            }
            Command::Expose(ports) => {
                let normalized = normalize_ports(ports)?;
                for p in &normalized {
                    cfg.exposed_ports.insert(p.clone());
                }
                self.history(history::expose(&normalized), false);
            }
            Command::Volume(vols) => {
                for v in vols {
                    cfg.volumes.insert(v.clone());
                }
                self.history(format!("VOLUME {}", history::go_plain_list(vols)), false);
            }
            Command::StopSignal(s) => {
                cfg.stop_signal = s.clone();
                self.history(format!("STOPSIGNAL {s}"), false);
            }
            Command::Shell(sh) => {
                cfg.shell = sh.clone();
                self.history(format!("SHELL {}", history::go_plain_list(sh)), false);
            }
            Command::Cmd(cl) => {
                let args = self.with_shell(&cl.args, cl.exec_form);
                let cfg = &mut self.image.config.config;
                cfg.cmd = args.clone();
                // BuildKit marks every CMD so (Docker's Windows-era flag).
                cfg.args_escaped = true;
                self.history(format!("CMD {}", history::go_string_list(&args)), false);
            }
            Command::Entrypoint(cl) => {
                let args = self.with_shell(&cl.args, cl.exec_form);
                let keep_cmd = self.stage_set_cmd(step);
                let cfg = &mut self.image.config.config;
                cfg.entrypoint = args.clone();
                if !cl.exec_form {
                    cfg.args_escaped = true;
                }
                // Docker resets CMD inherited from the base when ENTRYPOINT is set.
                if !keep_cmd {
                    cfg.cmd.clear();
                }
                self.history(
                    format!("ENTRYPOINT {}", history::go_string_list(&args)),
                    false,
                );
            }
            Command::Healthcheck(hc) => {
                let (cfg_hc, text) = healthcheck(hc);
                self.image.config.config.healthcheck = Some(cfg_hc);
                self.history(text, false);
            }
            Command::Onbuild(trigger) => {
                cfg.on_build.push(trigger.clone());
            }
            Command::Workdir(path) => {
                let wd = normalize_workdir(&cfg.working_dir, path);
                cfg.working_dir = wd.clone();
                if wd != "/" {
                    self.workdir_layer(&wd).map_err(|e| self.located(step, e))?;
                    self.history(format!("WORKDIR {wd}"), true);
                } else {
                    self.history(format!("WORKDIR {wd}"), false);
                }
            }
            Command::Copy(c) => {
                self.copy(c, ev).map_err(|e| self.located(step, e))?;
                let mut msg = String::from(if c.add { "ADD" } else { "COPY" });
                if c.parents {
                    msg.push_str(" --parents");
                }
                if let Some(o) = &c.chown {
                    msg.push_str(&format!(" --chown={o}"));
                }
                if let Some(m) = &c.chmod {
                    msg.push_str(&format!(" --chmod={m}"));
                }
                for s in &c.sources {
                    msg.push(' ');
                    msg.push_str(s);
                }
                for f in &c.inline {
                    msg.push_str(&format!(" <<{}", f.name));
                }
                msg.push_str(&format!(" {} # buildkit", c.dest));
                self.history(msg, true);
            }
            Command::Run(run) => {
                let argv = self.run_argv(run);
                self.run_step(run, ev, &argv, id)
                    .map_err(|e| self.located(step, e))?;
                let args: Vec<(String, String)> = self
                    .arg_names
                    .iter()
                    .map(|n| {
                        let v = lookup(&ev.run_env, n).unwrap_or_default();
                        (n.clone(), v)
                    })
                    .collect();
                let text = history::run(&args, &argv);
                self.history(text, true);
            }
        }
        Ok(())
    }

    /// Whether this stage sets CMD itself (before or after ENTRYPOINT).
    fn stage_set_cmd(&self, current: &Step) -> bool {
        let mut before = true;
        for s in &self.stage.steps {
            if std::ptr::eq(s, current) {
                before = false;
                continue;
            }
            if before && matches!(s.command, Command::Cmd(_)) {
                return true;
            }
        }
        false
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
        // Metadata steps take their parent's time, so only executed layers move it.
        let inherited = (!layer)
            .then(|| {
                self.image
                    .config
                    .history
                    .iter()
                    .skip(self.image.base_history)
                    .rev()
                    .find_map(|h| h.created.clone())
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

    fn workdir_layer(&mut self, wd: &str) -> Result<()> {
        let lowers = self.shared.lowers(&self.image)?;
        let owner = if self.image.config.config.user.is_empty() {
            (0, 0)
        } else {
            let u = sandbox::user::resolve(&lowers, &self.image.config.config.user)?;
            (u.uid, u.gid)
        };
        let dirs = self.step_dirs()?;
        let upper = dirs.path().join("upper");
        std::fs::create_dir(&upper)?;
        let spec = OverlaySpec {
            lowers,
            upper: Some(upper.clone()),
        };
        let path = wd.to_string();
        with_overlays(&[spec], dirs.path(), move |roots| {
            let target = super::fsroot::resolve_in_root(&roots[0], &path, true)?;
            mkdir_all(&target, owner)
        })
        .with_context(|| format!("creating the working directory {wd}"))?;
        self.commit(&upper)
    }

    fn copy(&mut self, c: &Copy, ev: &Evaluated) -> Result<()> {
        let lowers = self.shared.lowers(&self.image)?;
        let owner = match &c.chown {
            Some(spec) => Some(chown_ids(&lowers, spec)?),
            None => None,
        };
        let wd = &self.image.config.config.working_dir;
        let dest = dest_relative_to_workdir(wd, &c.dest);
        let dest_is_dir_hint = dest.ends_with('/');

        // Where the sources come from.
        let (source_lowers, preserve_owner) = match &c.from {
            Some(_) => {
                let from = self.stage_source(c)?;
                (Some(self.shared.lowers(&from)?), true)
            }
            None => (None, false),
        };
        let opts = CopyOptions {
            owner,
            mode: ev.chmod,
            preserve_owner,
        };
        let dirs = self.step_dirs()?;
        let select = SelectOptions {
            excludes: c.excludes.clone(),
            parents: c.parents,
        };
        // Files from the context or a stage: the layer is written straight
        // from them when the copy's shape allows (see `direct_copy`).
        let direct = super::direct_copy::enabled()
            && !c.add
            && !c.parents
            && c.inline.is_empty()
            && !c.sources.iter().any(|s| is_url(s));
        if direct {
            let (context, sources, store, epoch) = (
                self.context,
                &c.sources,
                &self.shared.store,
                self.shared.epoch,
            );
            let select_from = |src_root: Option<&Path>| -> Result<_> {
                Ok(match src_root {
                    Some(root) => BuildContext::from_dir(root, IgnoreSpec::None)?
                        .resolve_sources(sources, &select)?,
                    None => context.resolve_sources(sources, &select)?,
                })
            };
            let layer = super::direct_copy::copy_layer(
                &lowers,
                source_lowers.as_deref(),
                dirs.path(),
                select_from,
                &dest,
                &opts,
                now_secs(),
                |entries| super::commit::commit_planned(store, entries, epoch),
            )?;
            if let Some(layer) = layer {
                self.image.push_layer(layer);
                return Ok(());
            }
        }
        let upper = dirs.path().join("upper");
        std::fs::create_dir(&upper)?;

        // Downloads happen before mounting (they are async).
        let mut downloads = Vec::new();
        let mut local_sources = Vec::new();
        for s in &c.sources {
            if is_url(s) {
                if !c.add {
                    bail!("source can't be a URL for COPY: {s}");
                }
                let dl = self.shared.block_on(super::add::download(
                    s,
                    dirs.path(),
                    c.checksum.as_deref(),
                ))?;
                let named = dirs.path().join(format!("dl-{}", downloads.len()));
                std::fs::create_dir(&named)?;
                let file = named.join(&dl.file_name);
                std::fs::rename(&dl.path, &file)?;
                if let Some(m) = dl.modified {
                    let t = filetime_from(m);
                    nix::sys::stat::utimensat(
                        nix::fcntl::AT_FDCWD,
                        &file,
                        &t,
                        &t,
                        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                    )?;
                }
                std::fs::set_permissions(
                    &file,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )?;
                downloads.push(file);
            } else {
                local_sources.push(s.clone());
            }
        }
        let inline_dir = dirs.path().join("inline");
        std::fs::create_dir(&inline_dir)?;
        let mut inline_files = Vec::new();
        for f in &c.inline {
            let p = inline_dir.join(&f.name);
            std::fs::write(&p, f.data.as_bytes())?;
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
            inline_files.push(p);
        }

        let mut specs = vec![OverlaySpec {
            lowers,
            upper: Some(upper.clone()),
        }];
        if let Some(src) = &source_lowers {
            specs.push(OverlaySpec {
                lowers: src.clone(),
                upper: None,
            });
        }
        let context = self.context;
        let unpack = c.add && c.unpack.unwrap_or(true);
        let add = c.add;
        with_overlays(&specs, dirs.path(), |roots| {
            let root = &roots[0];
            let result: Result<()> = (|| {
                let selected = match roots.get(1) {
                    Some(src_root) => {
                        let view = BuildContext::from_dir(src_root, IgnoreSpec::None)?;
                        view.resolve_sources(&local_sources, &select)?
                    }
                    None => context.resolve_sources(&local_sources, &select)?,
                };
                let matches: usize = selected.iter().map(|s| s.matches.len()).sum::<usize>()
                    + downloads.len()
                    + inline_files.len();
                let dest_path = super::fsroot::resolve_in_root(root, &dest, true)?;
                let dest_is_dir = dest_is_dir_hint
                    || matches > 1
                    || selected.iter().any(|s| s.wildcard)
                    || dest_path.is_dir();
                let parent_owner = owner.unwrap_or((0, 0));
                let mut links = HardlinkMap::disabled();
                let place_file =
                    |src: &Path, name: &std::ffi::OsStr, links: &mut HardlinkMap| -> Result<()> {
                        let target = if dest_is_dir {
                            mkdir_all(&dest_path, parent_owner)?;
                            dest_path.join(name)
                        } else {
                            if let Some(p) = dest_path.parent() {
                                mkdir_all(p, parent_owner)?;
                            }
                            dest_path.clone()
                        };
                        place_entry(src, &target, &opts, links, false)?;
                        Ok(())
                    };
                for source in &selected {
                    for m in &source.matches {
                        if m.kind == FileKind::Dir {
                            mkdir_all(&dest_path, parent_owner)?;
                            // Hardlinks are kept inside one copied directory,
                            // never across sources (each is its own copy).
                            let mut dir_links = HardlinkMap::default();
                            for entry in &m.entries {
                                let target = dest_path.join(&entry.dest);
                                let keep = entry.dest.as_os_str().is_empty();
                                place_entry(&entry.path, &target, &opts, &mut dir_links, keep)?;
                            }
                        } else if add && unpack && m.kind == FileKind::File {
                            match super::add::detect_archive(&m.path)? {
                                Some(kind) => {
                                    mkdir_all(&dest_path, parent_owner)?;
                                    super::add::extract_archive(&m.path, kind, &dest_path)?;
                                }
                                None => place_file(&m.path, &m.name, &mut links)?,
                            }
                        } else {
                            place_file(&m.path, &m.name, &mut links)?;
                        }
                    }
                }
                for file in downloads.iter().chain(inline_files.iter()) {
                    let name = file.file_name().unwrap_or_default().to_os_string();
                    place_file(file, &name, &mut links)?;
                }
                Ok(())
            })();
            result.map_err(|e| std::io::Error::other(format!("{e:#}")))
        })?;
        self.commit(&upper)
    }

    fn stage_source(&self, c: &Copy) -> Result<StageImage> {
        let from = c.from.as_deref().unwrap_or_default();
        let by_index = from.parse::<usize>().ok();
        let reference = self
            .stage_ref(from, by_index)
            .unwrap_or_else(|| SourceRef::Image(from.to_string()));
        (self.sources)(&reference)
            .ok_or_else(|| anyhow!("COPY --from={from}: source not available"))
    }

    fn stage_ref(&self, from: &str, by_index: Option<usize>) -> Option<SourceRef> {
        let lower = from.to_ascii_lowercase();
        self.plan
            .stages
            .iter()
            .find(|s| {
                s.index < self.stage.index
                    && (s.name.as_deref() == Some(&lower) || by_index == Some(s.index))
            })
            .map(|s| SourceRef::Stage(s.index))
    }

    fn run_argv(&self, run: &Run) -> Vec<String> {
        let cl = &run.command;
        if cl.exec_form {
            return cl.args.clone();
        }
        let text = cl.args.join(" ");
        let script = if cl.heredocs.len() == 1 && is_only_heredoc(&text, &cl.heredocs[0].name) {
            cl.heredocs[0].content.clone()
        } else {
            let mut s = text;
            for h in &cl.heredocs {
                s.push('\n');
                s.push_str(&h.content);
                s.push_str(&h.name);
            }
            s
        };
        let mut argv = self.shell();
        argv.push(script);
        argv
    }

    fn run_step(&mut self, run: &Run, ev: &Evaluated, argv: &[String], id: usize) -> Result<()> {
        let lowers = self.shared.lowers(&self.image)?;
        let cfg = &self.image.config.config;
        let user = run_user(&lowers, &cfg.user)?;
        let cwd = if cfg.working_dir.is_empty() {
            "/".to_string()
        } else {
            cfg.working_dir.clone()
        };
        let mut env: Vec<String> = ev.run_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !ev.run_env.iter().any(|(k, _)| k == "PATH") {
            env.push(format!("PATH={}", sandbox::DEFAULT_PATH));
        }
        // runc sets HOME from passwd when the environment has none.
        if !ev.run_env.iter().any(|(k, _)| k == "HOME") {
            env.push(format!(
                "HOME={}",
                sandbox::user::home_dir(&lowers, user.uid)
            ));
        }
        let dirs = self.step_dirs()?;
        let upper = dirs.path().join("upper");
        let work = dirs.path().join("work");
        std::fs::create_dir(&upper)?;
        std::fs::create_dir(&work)?;
        let network = match (run.network, self.shared.network) {
            (Network::None, _) | (Network::Default, Network::None) => sandbox::Network::None,
            _ => sandbox::Network::Host,
        };
        let mut mounts = Vec::new();
        let mut keep_alive = Vec::new();
        for m in &ev.mounts {
            if let Some(mount) = self.run_mount(m, &mut env, dirs.path(), &mut keep_alive)? {
                mounts.push(mount);
            }
        }
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let spec = sandbox::RunSpec {
            rootfs: sandbox::RootFs::Overlay {
                lowers,
                upper: upper.clone(),
                work,
            },
            argv: argv.to_vec(),
            env,
            cwd,
            user,
            hostname: "buildkitsandbox".to_string(),
            network,
            mounts,
            etc: sandbox::EtcFiles::defaults("buildkitsandbox", &host_resolv),
        };
        let mut tail: VecDeque<String> = VecDeque::new();
        let progress = self.shared.progress.clone();
        let code = {
            let _permit = self.shared.run_permit();
            let running = sandbox::spawn(&self.shared.helper, &spec)?;
            self.shared.register_killer(running.killer());
            running.wait(|_, line| {
                let line = String::from_utf8_lossy(line).into_owned();
                if tail.len() == 10 {
                    tail.pop_front();
                }
                tail.push_back(line.clone());
                progress.log(id, line);
            })?
        };
        drop(keep_alive);
        if code != 0 {
            let last: Vec<String> = tail.into_iter().collect();
            let shown = if last.is_empty() {
                String::new()
            } else {
                format!("\nlast output:\n  {}", last.join("\n  "))
            };
            bail!(
                "process {:?} did not complete successfully: exit code: {code}{shown}",
                argv.join(" ")
            );
        }
        self.commit(&upper)
    }

    fn run_mount(
        &self,
        m: &crate::plan::Mount,
        env: &mut Vec<String>,
        scratch: &Path,
        keep_alive: &mut Vec<Box<dyn std::any::Any>>,
    ) -> Result<Option<sandbox::Mount>> {
        let target = m.target.clone().unwrap_or_default();
        let abs_target = |t: &str| -> String {
            if t.starts_with('/') {
                t.to_string()
            } else {
                let wd = &self.image.config.config.working_dir;
                format!("{}/{t}", wd.trim_end_matches('/'))
            }
        };
        Ok(Some(match m.kind {
            MountType::Bind => {
                let source = m.source.clone().unwrap_or_else(|| "/".to_string());
                let host = match &m.from {
                    None => super::fsroot::resolve_in_root(self.context.root(), &source, true)?,
                    Some(from) => {
                        let by_index = from.parse::<usize>().ok();
                        let r = self
                            .stage_ref(from, by_index)
                            .unwrap_or_else(|| SourceRef::Image(from.clone()));
                        let img = (self.sources)(&r)
                            .ok_or_else(|| anyhow!("--mount from={from}: not available"))?;
                        let lowers = self.shared.lowers(&img)?;
                        // The sandbox runs in another process, so the stage's
                        // files are copied out of a read-only overlay.
                        let copy = scratch.join(format!("bind-{}", keep_alive.len()));
                        std::fs::create_dir(&copy)?;
                        let src = source.clone();
                        let dst = copy.clone();
                        with_overlays(
                            &[OverlaySpec {
                                lowers,
                                upper: None,
                            }],
                            scratch,
                            move |roots| {
                                let from_path =
                                    super::fsroot::resolve_in_root(&roots[0], &src, true)?;
                                let opts = CopyOptions {
                                    preserve_owner: true,
                                    ..Default::default()
                                };
                                let mut links = HardlinkMap::default();
                                if from_path.is_dir() {
                                    super::copy::copy_dir_contents(
                                        &from_path, &dst, &opts, &mut links,
                                    )
                                } else {
                                    let out = dst.join("file");
                                    super::copy::copy_entry(&from_path, &out, &opts, &mut links)
                                }
                            },
                        )?;
                        if copy.join("file").exists() && !copy.join("file").is_dir() {
                            copy.join("file")
                        } else {
                            copy
                        }
                    }
                };
                sandbox::Mount::Bind {
                    source: host,
                    target: abs_target(&target),
                    readonly: m.readonly,
                }
            }
            MountType::Cache => {
                let id = m.id.clone().unwrap_or_else(|| abs_target(&target));
                let key = crate::store::Digest::of(id.as_bytes());
                let dir = self.shared.store.cache_dir().join("mounts").join(key.hex());
                if !dir.exists() {
                    std::fs::create_dir_all(&dir)?;
                    let mode = m.mode.unwrap_or(0o755);
                    std::fs::set_permissions(
                        &dir,
                        std::os::unix::fs::PermissionsExt::from_mode(mode),
                    )?;
                    nix::unistd::chown(
                        &dir,
                        Some(nix::unistd::Uid::from_raw(m.uid.unwrap_or(0))),
                        Some(nix::unistd::Gid::from_raw(m.gid.unwrap_or(0))),
                    )?;
                }
                let _ = super::cache::touch(&dir); // last use, for `prune`
                if m.sharing == Some(Sharing::Locked) || m.sharing == Some(Sharing::Private) {
                    let lock = self
                        .shared
                        .store
                        .lock(&format!("cache-mount-{}", key.hex()))?;
                    keep_alive.push(Box::new(lock));
                }
                sandbox::Mount::Cache {
                    source: dir,
                    target: abs_target(&target),
                    readonly: m.readonly,
                }
            }
            MountType::Tmpfs => sandbox::Mount::Tmpfs {
                target: abs_target(&target),
                size: m.size_limit,
            },
            MountType::Secret => {
                let id =
                    m.id.clone()
                        .or_else(|| {
                            m.target
                                .as_ref()
                                .and_then(|t| t.rsplit('/').next().map(str::to_string))
                        })
                        .unwrap_or_default();
                let Some(content) = self.shared.secrets.get(&id) else {
                    if m.required {
                        bail!("secret {id} is required but was not given: pass --secret id={id},src=FILE");
                    }
                    return Ok(None);
                };
                if let Some(var) = &m.env {
                    env.push(format!("{var}={}", String::from_utf8_lossy(content)));
                    if m.target.is_none() {
                        return Ok(None);
                    }
                }
                let target = m
                    .target
                    .clone()
                    .unwrap_or_else(|| format!("/run/secrets/{id}"));
                sandbox::Mount::Secret {
                    target: abs_target(&target),
                    content: sandbox::SecretBytes(content.clone()),
                    mode: m.mode.unwrap_or(0o400),
                    uid: m.uid.unwrap_or(0),
                    gid: m.gid.unwrap_or(0),
                }
            }
            MountType::Ssh => {
                let id = m.id.clone().unwrap_or_else(|| "default".to_string());
                let Some(socket) = self.shared.ssh.get(&id) else {
                    if m.required {
                        bail!(
                            "ssh agent {id} is required but was not given: pass --ssh {id}=SOCKET"
                        );
                    }
                    return Ok(None);
                };
                let target = m
                    .target
                    .clone()
                    .unwrap_or_else(|| "/run/buildkit/ssh_agent.0".to_string());
                env.push(format!("SSH_AUTH_SOCK={}", abs_target(&target)));
                sandbox::Mount::Ssh {
                    socket: socket.clone(),
                    target: abs_target(&target),
                }
            }
        }))
    }
}

/// The identity a RUN gets, as runc sets it up: the primary group is
/// always the first supplementary group too.
pub fn run_user(lowers: &[PathBuf], spec: &str) -> Result<sandbox::User> {
    let mut user = sandbox::user::resolve(lowers, spec)?;
    user.additional_gids.retain(|g| *g != user.gid);
    user.additional_gids.insert(0, user.gid);
    Ok(user)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn is_only_heredoc(text: &str, name: &str) -> bool {
    let t = text.trim();
    let rest = t
        .strip_prefix("<<-")
        .or_else(|| t.strip_prefix("<<"))
        .unwrap_or("");
    let rest = rest.trim_matches(|c| c == '"' || c == '\'');
    !t.is_empty() && rest == name
}

fn filetime_from(t: std::time::SystemTime) -> nix::sys::time::TimeSpec {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    nix::sys::time::TimeSpec::new(d.as_secs() as i64, 0)
}

fn lookup(env: &[(String, String)], name: &str) -> Option<String> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Sets `KEY=value` in a Docker env list, replacing an existing key in place.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
    {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// BuildKit's WORKDIR rule: relative paths join the current WORKDIR, the
/// result is cleaned.
pub fn normalize_workdir(current: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", if current.is_empty() { "/" } else { current })
    };
    clean_abs(&joined)
}

fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A COPY destination made absolute against WORKDIR, keeping a trailing `/`
/// (which means "a directory").
pub fn dest_relative_to_workdir(workdir: &str, dest: &str) -> String {
    let trailing = dest.ends_with('/') || dest == "." || dest.is_empty() || dest.ends_with("/.");
    let abs = if dest.starts_with('/') {
        clean_abs(dest)
    } else {
        clean_abs(&format!(
            "{}/{dest}",
            if workdir.is_empty() { "/" } else { workdir }
        ))
    };
    if trailing && abs != "/" {
        format!("{abs}/")
    } else {
        abs
    }
}

/// `--chown` to numeric ids, BuildKit's way: a name uses its passwd uid and
/// primary gid; a bare number is used for both uid and gid.
fn chown_ids(lowers: &[PathBuf], spec: &str) -> Result<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, mut gid) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => {
            let u = sandbox::user::resolve(lowers, user)?;
            (u.uid, u.gid)
        }
    };
    if let Some(g) = group {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => sandbox::user::resolve(lowers, &format!("0:{g}"))?.gid,
        };
    }
    Ok((uid, gid))
}

/// EXPOSE values as Docker stores them: `80/tcp`, ranges expanded.
fn normalize_ports(ports: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for p in ports {
        let (port, proto) = match p.split_once('/') {
            Some((a, b)) => (a, b.to_ascii_lowercase()),
            None => (p.as_str(), "tcp".to_string()),
        };
        // "ip:host:container" forms keep only the container port.
        let port = port.rsplit(':').next().unwrap_or(port);
        match port.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (
                    a.parse().with_context(|| format!("invalid port {p}"))?,
                    b.parse()
                        .with_context(|| format!("invalid port range {p}"))?,
                );
                if b < a {
                    bail!("invalid port range {p}");
                }
                for n in a..=b {
                    out.push(format!("{n}/{proto}"));
                }
            }
            None => {
                let n: u32 = port.parse().with_context(|| format!("invalid port {p}"))?;
                out.push(format!("{n}/{proto}"));
            }
        }
    }
    Ok(out)
}

fn healthcheck(hc: &Healthcheck) -> (ImageHealthcheck, String) {
    use crate::plan::duration::format_go_duration;
    let (test, interval, timeout, start_period, start_interval, retries) = match hc {
        Healthcheck::None => (vec!["NONE".to_string()], 0, 0, 0, 0, 0),
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => (
            test.clone(),
            *interval,
            *timeout,
            *start_period,
            *start_interval,
            *retries as i64,
        ),
    };
    let text = format!(
        "HEALTHCHECK &{{{} {:?} {:?} {:?} {:?} {}}}",
        history::go_string_list(&test),
        format_go_duration(interval),
        format_go_duration(timeout),
        format_go_duration(start_period),
        format_go_duration(start_interval),
        history::go_quote_rune(retries)
    );
    let cfg = ImageHealthcheck {
        test,
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
        ..Default::default()
    };
    (cfg, text)
}

/// Seconds since the epoch now (0 if the clock is before 1970).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_and_dest_rules() {
        assert_eq!(normalize_workdir("/a/b", "../c"), "/a/c");
        assert_eq!(normalize_workdir("", "rel"), "/rel");
        assert_eq!(dest_relative_to_workdir("/w", "."), "/w/");
        assert_eq!(dest_relative_to_workdir("/w", "x/"), "/w/x/");
        assert_eq!(dest_relative_to_workdir("/w", "../up.txt"), "/up.txt");
        assert_eq!(dest_relative_to_workdir("/", "/var/tmp/."), "/var/tmp/");
    }

    #[test]
    fn ports() {
        assert_eq!(
            normalize_ports(&["80".into(), "53/UDP".into(), "8000-8001".into()]).unwrap(),
            vec!["80/tcp", "53/udp", "8000/tcp", "8001/tcp"]
        );
        assert!(normalize_ports(&["x".into()]).is_err());
    }

    #[test]
    fn env_replaced_in_place() {
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        set_env(&mut env, "A", "3");
        set_env(&mut env, "C", "4");
        assert_eq!(env, vec!["A=3", "B=2", "C=4"]);
    }
}
