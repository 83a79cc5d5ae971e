//! RUN --mount: bind (context or another stage), cache, tmpfs, secret, ssh.

use std::path::Path;

use anyhow::{anyhow, bail, Result};

use super::StageRunner;
use crate::engine::copy::{CopyOptions, HardlinkMap};
use crate::engine::overlay::{with_overlays, OverlaySpec};
use crate::plan::{MountType, Sharing, SourceRef};
use crate::sandbox;

impl StageRunner<'_> {
    /// The id, absolute target and options of a cache mount (`None` for
    /// other mount types); the id defaults to the target, as BuildKit's.
    pub(super) fn cache_mount_use(
        &self,
        m: &crate::plan::Mount,
    ) -> Option<crate::engine::cache_mounts::MountUse> {
        if m.kind != MountType::Cache {
            return None;
        }
        let t = m.target.clone().unwrap_or_default();
        let target = if t.starts_with('/') {
            t
        } else {
            let wd = &self.image.config.config.working_dir;
            format!("{}/{t}", wd.trim_end_matches('/'))
        };
        let mut id = m.id.clone().unwrap_or_else(|| target.clone());
        if let Some(from) = &m.from {
            // BuildKit keys a cache made from another stage's files by that
            // base too (`id:refID`): another base, another cache.
            let r = self
                .stage_ref(from, from.parse().ok())
                .unwrap_or_else(|| SourceRef::Image(from.clone()));
            let base = (self.sources)(&r).map(|i| i.cache_key).unwrap_or_default();
            let source = m.source.as_deref().unwrap_or("/");
            id = format!(
                "{id}:{}",
                crate::store::Digest::of(format!("{base}\n{source}").as_bytes()).hex()
            );
        }
        Some(crate::engine::cache_mounts::MountUse {
            id,
            target,
            sharing: m.sharing.unwrap_or(Sharing::Shared),
            uid: m.uid.unwrap_or(0),
            gid: m.gid.unwrap_or(0),
            mode: m.mode.unwrap_or(0o755),
        })
    }

    pub(super) fn run_mount(
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
                    None => {
                        let raw = crate::engine::fsroot::resolve_in_root(
                            self.context.root(),
                            &source,
                            true,
                        )?;
                        if raw.is_dir() && !self.context.ignore().is_empty() {
                            // Docker's client never sends what `.dockerignore` hides, so the
                            // mount shows the context as sent: a filtered copy (parity 291).
                            let copy = scratch.join(format!("bind-{}", keep_alive.len()));
                            std::fs::create_dir(&copy)?;
                            self.copy_context_dir(&source, &copy)?;
                            copy
                        } else {
                            raw
                        }
                    }
                    Some(from) => {
                        let copy = scratch.join(format!("bind-{}", keep_alive.len()));
                        std::fs::create_dir(&copy)?;
                        self.copy_from_source(from, &source, &copy, scratch)?;
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
                let used = self
                    .cache_mount_use(m)
                    .ok_or_else(|| anyhow!("not a cache mount"))?;
                let id = used.id.clone();
                let key = crate::store::Digest::of(id.as_bytes());
                let dir = self.shared.store.cache_dir().join("mounts").join(key.hex());
                self.shared.prepare_cache_mount(&used);
                if !dir.exists() && m.from.is_some() {
                    // BuildKit makes a new cache on top of `from`'s files
                    // (at `source`), so it starts with them; mode, uid and gid
                    // are those files'. Made aside, then renamed into place.
                    let from = m.from.as_deref().unwrap_or_default();
                    let source = m.source.clone().unwrap_or_else(|| "/".to_string());
                    let parent = dir
                        .parent()
                        .ok_or_else(|| anyhow!("cache dir has no parent"))?;
                    std::fs::create_dir_all(parent)?;
                    let seed = tempfile::Builder::new()
                        .prefix(".seed-")
                        .tempdir_in(parent)?;
                    self.copy_from_source(from, &source, seed.path(), scratch)?;
                    std::fs::rename(seed.keep(), &dir)?;
                } else if !dir.exists() {
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
                let _ = crate::engine::cache::touch(&dir); // last use, for `prune`
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
                        // BuildKit's words first (`secret X: not found`), then the fix.
                        bail!(
                            "secret {id}: not found (the mount is required: pass --secret \
                             id={id},src=FILE)"
                        );
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

impl StageRunner<'_> {
    /// Copies the context directory `source` as Docker's client sends it (without what
    /// `.dockerignore` hides; owners 0:0, modes and mtimes kept, as `COPY source /`) into
    /// the empty dir `dst`. Errors: `source` missing or hidden, I/O.
    fn copy_context_dir(&self, source: &str, dst: &Path) -> Result<()> {
        let select = crate::context::SelectOptions::default();
        let selected = self
            .context
            .resolve_sources(&[source.to_string()], &select)?;
        let opts = CopyOptions::default();
        let placement = crate::engine::overlay_copy::Placement {
            selected: &selected,
            files: &[],
            dest: "/",
            opts: &opts,
            unpack: false,
            from_context: true,
        };
        crate::engine::overlay_copy::place(dst, &placement)
    }

    /// Copies `source` of the stage or image `from` (owners kept) into the
    /// empty dir `dst`: a directory's contents, or a file as `dst/file`.
    /// The sandbox runs in another process, so files are copied out of a
    /// read-only overlay of the stage's layers. Errors: `from` unknown, too
    /// deep, `source` missing.
    fn copy_from_source(&self, from: &str, source: &str, dst: &Path, scratch: &Path) -> Result<()> {
        let by_index = from.parse::<usize>().ok();
        let r = self
            .stage_ref(from, by_index)
            .unwrap_or_else(|| SourceRef::Image(from.to_string()));
        let img =
            (self.sources)(&r).ok_or_else(|| anyhow!("--mount from={from}: not available"))?;
        super::check_readable(&img, from)?;
        let lowers = self.shared.lowers(&img)?;
        let src = source.to_string();
        let dst = dst.to_path_buf();
        Ok(with_overlays(
            &[OverlaySpec {
                lowers,
                upper: None,
            }],
            scratch,
            move |roots| {
                let from_path = crate::engine::fsroot::resolve_in_root(&roots[0], &src, true)?;
                let opts = CopyOptions {
                    preserve_owner: true,
                    ..Default::default()
                };
                let mut links = HardlinkMap::default();
                if from_path.is_dir() {
                    crate::engine::copy::copy_dir_contents(&from_path, &dst, &opts, &mut links)
                } else {
                    crate::engine::copy::copy_entry(
                        &from_path,
                        &dst.join("file"),
                        &opts,
                        &mut links,
                    )
                }
            },
        )?)
    }
}
