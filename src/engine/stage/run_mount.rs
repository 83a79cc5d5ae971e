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
        Some(crate::engine::cache_mounts::MountUse {
            id: m.id.clone().unwrap_or_else(|| target.clone()),
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
                        crate::engine::fsroot::resolve_in_root(self.context.root(), &source, true)?
                    }
                    Some(from) => {
                        let by_index = from.parse::<usize>().ok();
                        let r = self
                            .stage_ref(from, by_index)
                            .unwrap_or_else(|| SourceRef::Image(from.clone()));
                        let img = (self.sources)(&r)
                            .ok_or_else(|| anyhow!("--mount from={from}: not available"))?;
                        super::check_readable(&img, from)?;
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
                                    crate::engine::fsroot::resolve_in_root(&roots[0], &src, true)?;
                                let opts = CopyOptions {
                                    preserve_owner: true,
                                    ..Default::default()
                                };
                                let mut links = HardlinkMap::default();
                                if from_path.is_dir() {
                                    crate::engine::copy::copy_dir_contents(
                                        &from_path, &dst, &opts, &mut links,
                                    )
                                } else {
                                    let out = dst.join("file");
                                    crate::engine::copy::copy_entry(
                                        &from_path, &out, &opts, &mut links,
                                    )
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
                let used = self
                    .cache_mount_use(m)
                    .ok_or_else(|| anyhow!("not a cache mount"))?;
                let id = used.id.clone();
                let key = crate::store::Digest::of(id.as_bytes());
                let dir = self.shared.store.cache_dir().join("mounts").join(key.hex());
                self.shared.prepare_cache_mount(&used);
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
