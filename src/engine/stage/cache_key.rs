//! Step cache keys: what a step's result depends on (instruction, config,
//! platform, context content digests, the keys of stages it reads).

use anyhow::Result;
use sha2::{Digest as _, Sha256};

use super::workdir::normalize_workdir;
use super::{is_url, StageRunner};
use crate::context::SelectOptions;
use crate::plan::{Command, Evaluated, MountType, SourceRef};

impl StageRunner<'_> {
    /// The cache key of a step, whether it makes a layer (only those are
    /// looked up; metadata steps are cheaper to redo than to look up), and
    /// for COPY/ADD its family: the key without the sources' content (see
    /// `engine::incremental`).
    pub(super) fn step_key(&self, ev: &Evaluated) -> Result<(String, bool, Option<String>)> {
        let mut k = crate::engine::cache::KeyBuilder::new(&self.image.cache_key);
        let cfg = &self.image.config.config;
        k.part("instruction", &format!("{:?}", ev.command));
        k.part("platform", &self.stage.platform.to_string());
        k.part("user", &cfg.user);
        k.part("workdir", &cfg.working_dir);
        k.part("shell", &format!("{:?}", cfg.shell));
        let layered = match &ev.command {
            Command::Workdir(p) => normalize_workdir(&cfg.working_dir, p) != "/",
            Command::Copy(_) | Command::Run(_) => true,
            _ => false,
        };
        // Only a step that runs something depends on the whole environment. A metadata
        // step's result is fixed by its parent key and its expanded instruction (ENV and
        // ARG carry their values), so hashing the environment there would only make a
        // stage of n ENV lines cost n² (issue 17).
        if layered {
            k.part("env", &format!("{:?}", ev.run_env));
            k.part("args", &format!("{:?}", self.arg_names));
        }
        let mut family = None;
        match &ev.command {
            Command::Copy(c) => {
                let mut f = k.clone();
                f.part("family", "sources omitted");
                family = Some(f.finish());
                match &c.from {
                    Some(_) => {
                        let src = self.stage_source(c)?;
                        k.part("from", &src.cache_key);
                    }
                    None => {
                        // The same COPY of another context directory (another project with
                        // the same Dockerfile) has its own latest layer first (see
                        // `incremental::candidates`).
                        family = family.map(|f| {
                            let root = self.context.root().as_os_str().as_encoded_bytes();
                            format!("{f}.{}", &hex::encode(Sha256::digest(root))[..16])
                        });
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
            }
            Command::Run(_) => {
                k.part("network", &format!("{:?}", self.shared.network));
                // BuildKit's ExecOp holds the extra hosts and the /dev/shm
                // mount, so they are part of its cache key too.
                let extras = &self.shared.run_extras;
                if !extras.extra_hosts.is_empty() || extras.shm_size.is_some() {
                    k.part("run-extras", &format!("{extras:?}"));
                }
                // So are `--ulimit`s (ExecOp `Meta.Ulimit`): a RUN sees them
                // (`ulimit -n`), so a build with others must not reuse its result.
                let ulimits = &self.shared.limits.ulimits;
                if !ulimits.is_empty() {
                    k.part("ulimits", &format!("{ulimits:?}"));
                }
                for m in &ev.mounts {
                    // Secrets count by id only; their content never enters a key.
                    k.part(
                        "mount",
                        &format!("{:?}/{:?}/{:?}/{:?}", m.kind, m.id, m.target, m.from),
                    );
                    if m.kind == MountType::Ssh {
                        // BuildKit re-runs a step whose SSH agent was not
                        // forwarded before and is now (recorded with Docker
                        // 26.1); a secret's presence does not count there.
                        let id = m.id.as_deref().unwrap_or("default");
                        let given = self.shared.ssh.contains_key(id);
                        k.part("ssh-given", if given { "1" } else { "0" });
                    }
                    let seeded_cache = m.kind == MountType::Cache && m.from.is_some();
                    if m.kind == MountType::Bind || seeded_cache {
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
            }
            _ => {}
        }
        Ok((k.finish(), layered, family))
    }

    /// The content digest of context sources, through the build's metadata
    /// index (unchanged files are not read again).
    fn context_digest(&self, sources: &[String], select: &SelectOptions) -> Result<String> {
        let mut selected = self.context.resolve_sources(sources, select)?;
        let digest = self
            .shared
            .context_indexes
            .with(self.context.root(), |index| {
                self.context.digest_sources(&mut selected, index)
            })?;
        *self.resolved.lock().unwrap_or_else(|e| e.into_inner()) = Some((
            sources.to_vec(),
            select.excludes.clone(),
            select.parents,
            selected,
        ));
        Ok(digest)
    }

    /// The resolution [`Self::context_digest`] made for these sources and options in this
    /// step, taken (a later call resolves again).
    pub(super) fn take_resolved(
        &self,
        sources: &[String],
        select: &SelectOptions,
    ) -> Option<Vec<crate::context::SelectedSource>> {
        let mut slot = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take() {
            Some((s, x, p, r)) if s == sources && x == select.excludes && p == select.parents => {
                Some(r)
            }
            _ => None,
        }
    }
}
