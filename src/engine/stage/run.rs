//! RUN: the command in the sandbox over the stage's snapshot chain; its
//! overlay upper dir becomes the layer.

use std::collections::VecDeque;
use std::path::PathBuf;

use anyhow::{bail, Result};

use super::metadata::lookup;
use super::StageRunner;
use crate::engine::flat::{plant, EtcFiles, Flat};
use crate::engine::history;
use crate::plan::instructions::{Network, Run};
use crate::plan::{Evaluated, Platform, Step};
use crate::sandbox;

impl StageRunner<'_> {
    pub(super) fn run_step(
        &mut self,
        step: &Step,
        run: &Run,
        ev: &Evaluated,
        id: usize,
    ) -> Result<()> {
        let (argv, script) = self.run_argv(run);
        self.execute(run, ev, &argv, script, id)
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
        Ok(())
    }

    /// The RUN's argv, and the file to mount for a lone heredoc that starts with `#!`.
    ///
    /// BuildKit's `dispatchRun`: a RUN that is only one heredoc runs its body as `sh -c` text,
    /// unless the body as written starts with `#!`: then the body is a 0755 root-owned file
    /// `NAME` in a read-only mount at `/dev/pipes/` and the shell runs `/dev/pipes/NAME` (so the
    /// interpreter named by the shebang runs it, and the history shows that path). Any other
    /// heredoc form goes to the shell whole.
    fn run_argv(&self, run: &Run) -> (Vec<String>, Option<PipeScript>) {
        let cl = &run.command;
        if cl.exec_form {
            return (cl.args.clone(), None);
        }
        let text = cl.args.join(" ");
        let mut mount = None;
        let script = if cl.heredocs.len() == 1 && is_only_heredoc(&text, &cl.heredocs[0].name) {
            let h = &cl.heredocs[0];
            if h.shebang {
                mount = Some(PipeScript {
                    name: h.name.clone(),
                    content: h
                        .raw
                        .clone()
                        .unwrap_or_else(|| h.content.clone().into_bytes()),
                });
                format!("{PIPES_DIR}/{}", h.name)
            } else {
                h.content.clone()
            }
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
        (argv, mount)
    }

    fn execute(
        &mut self,
        run: &Run,
        ev: &Evaluated,
        argv: &[String],
        script: Option<PipeScript>,
        id: usize,
    ) -> Result<()> {
        // The binaries that run are the image's: check its platform (the
        // stage's when the config names none) before any work.
        let c = &self.image.config;
        let platform = if c.architecture.is_empty() {
            self.stage.platform.clone()
        } else {
            Platform::new(
                if c.os.is_empty() { "linux" } else { &c.os },
                &c.architecture,
                &c.variant,
            )
        };
        sandbox::binfmt::ensure_runnable(&platform)?;
        let lowers = self.shared.lowers(&self.image)?;
        let cfg = &self.image.config.config;
        let user = run_user(&lowers, &cfg.user)?;
        let cwd = if cfg.working_dir.is_empty() {
            "/".to_string()
        } else {
            cfg.working_dir.clone()
        };
        let mut run_env = (*ev.run_env).clone();
        for (k, v) in crate::plan::args::proxy_env(&self.plan.build_args) {
            run_env.set(&k, &v);
        }
        let mut env: Vec<String> = run_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
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
        // BuildKit: the RUN's own network namespace unless the step or the
        // build asks for another; the host's only with the entitlement.
        let network = match (run.network, self.shared.network) {
            (Network::None, _) | (Network::Default, Network::None) => sandbox::Network::None,
            (Network::Host, _) if !self.shared.allow_network_host => bail!(
                "RUN --network=host needs the network.host entitlement: build with \
                 --allow network.host"
            ),
            (Network::Host, _) | (Network::Default, Network::Host) => sandbox::Network::Host,
            // Where slirp4netns cannot open the tun device (a rootless
            // builder on a host that keeps it 0600) the build warned once.
            (Network::Default, Network::Default) if sandbox::network::tun_unusable().is_some() => {
                sandbox::Network::Host
            }
            (Network::Default, Network::Default) => sandbox::Network::Sandbox,
        };
        if network == sandbox::Network::None && sandbox::isolation::chroot_level() {
            bail!(
                "RUN --network=none needs a network namespace, which the chroot isolation level \
                 cannot create (no CAP_SYS_ADMIN, no user namespaces). Either drop \
                 --network=none from this RUN, or let builder use user namespaces (Docker/podman: \
                 --security-opt seccomp=unconfined --security-opt systempaths=unconfined; \
                 Kubernetes: hostUsers: false) or run it privileged"
            );
        }
        let mut mounts: Vec<sandbox::Mount> = Vec::new();
        if let Some(script) = script {
            mounts.push(script.mount(dirs.path())?);
        }
        let mut keep_alive = Vec::new();
        for m in &ev.mounts {
            if let Some(mount) = self.run_mount(m, &mut env, dirs.path(), &mut keep_alive)? {
                mounts.push(mount);
            }
        }
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let mut etc = sandbox::EtcFiles::with_hosts(
            "buildkitsandbox",
            &host_resolv,
            &self.shared.run_extras.extra_hosts,
        );
        // BuildKit's executor mounts /etc/hosts and /etc/resolv.conf only:
        // a RUN sees the image's /etc/hostname, if any (Docker 26.1.5: none
        // in busybox), while `hostname` still says buildkitsandbox.
        etc.hostname = None;
        // Copies (the chroot level, a store on overlayfs): a copy of the
        // chain, recorded. The chroot level also writes the /etc files in
        // (put back before the diff) and plants RUN --mount sources, having
        // no mounts; levels 1 and 2 bind them as over an overlay.
        let flat = if sandbox::isolation::copies() {
            let flat = Flat::prepare(&lowers, &dirs.path().join("root"))?;
            let chrooted = if sandbox::isolation::chroot_level() {
                let installed = EtcFiles::install(flat.root(), &etc.named())?;
                let planted = plant::plant(flat.root(), std::mem::take(&mut mounts))?;
                Some((installed, planted))
            } else {
                None
            };
            Some((flat, chrooted))
        } else {
            None
        };
        let rootfs = match &flat {
            Some((f, Some(_))) => sandbox::RootFs::Chroot(f.root().to_path_buf()),
            Some((f, None)) => sandbox::RootFs::Dir(f.root().to_path_buf()),
            None => sandbox::RootFs::Overlay {
                lowers,
                upper: upper.clone(),
                work,
            },
        };
        let spec = sandbox::RunSpec {
            rootfs,
            argv: argv.to_vec(),
            env,
            cwd,
            user,
            hostname: "buildkitsandbox".to_string(),
            network,
            mounts,
            etc,
            // Allowed by --allow security.insecure (checked on the plan).
            insecure: run.security == crate::plan::instructions::Security::Insecure,
            limits: self.shared.limits.clone(),
            attach: Default::default(),
            shm_size: self.shared.run_extras.shm_size,
        };
        let mut tail: VecDeque<String> = VecDeque::new();
        let progress = self.shared.progress.clone();
        let outcome = {
            let _permit = self.shared.run_permit();
            let running = sandbox::spawn(&self.shared.helper, &spec)?;
            self.shared.register_killer(running.killer());
            let waited = running.wait_outcome(|_, line| {
                let line = String::from_utf8_lossy(line).into_owned();
                if tail.len() == 10 {
                    tail.pop_front();
                }
                // The error's "last output" as a terminal showed it (a CR restarts the line).
                tail.push_back(crate::progress::screen::clean_line(&line, usize::MAX));
                progress.log(id, line);
            });
            match waited {
                // A command that cannot be executed is, in BuildKit, a
                // process that exited 1 after runc's "unable to start
                // container process: exec: …" (Docker 26.1.5).
                Err(sandbox::SandboxError::Setup(msg))
                    if msg.starts_with("exec \"") || msg.starts_with("exec: \"") =>
                {
                    bail!(
                        "process {:?} did not complete successfully: exit code: 1\n\
                     unable to start container process: {msg}",
                        argv.join(" ")
                    )
                }
                other => other?,
            }
        };
        drop(keep_alive);
        let code = outcome.code;
        let limit = sandbox::limits::explain(&spec.limits, &outcome.events, code);
        if code != 0 {
            let last: Vec<String> = tail.into_iter().collect();
            let shown = if last.is_empty() {
                String::new()
            } else {
                format!("\nlast output:\n  {}", last.join("\n  "))
            };
            let failed = format!(
                "process {:?} did not complete successfully: exit code: {code}{shown}",
                argv.join(" ")
            );
            if let Some(why) = limit {
                return Err(LimitHit(format!("{why}; {failed}")).into());
            }
            bail!("{failed}");
        }
        if let Some((flat, chrooted)) = flat {
            if let Some((installed, planted)) = chrooted {
                planted.remove()?;
                installed.restore()?;
            }
            flat.diff_into(&upper)?;
        }
        self.commit(&upper)
    }
}

/// A RUN that a resource limit ended ("was killed: out of memory (--memory
/// 32 MiB); process …"): located as `RUN <this>` rather than `RUN failed:`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct LimitHit(pub String);

/// The identity a RUN gets, as runc sets it up: the primary group is
/// always the first supplementary group too.
pub fn run_user(lowers: &[PathBuf], spec: &str) -> Result<sandbox::User> {
    let mut user = sandbox::user::resolve(lowers, spec)?;
    user.additional_gids.retain(|g| *g != user.gid);
    user.additional_gids.insert(0, user.gid);
    Ok(user)
}

/// Where BuildKit mounts the script of a shebang heredoc RUN: read-only, under the RUN's own
/// `/dev`, so it never reaches the layer.
const PIPES_DIR: &str = "/dev/pipes";

/// The body of `RUN <<NAME` that starts with `#!`, run as a file.
struct PipeScript {
    name: String,
    content: Vec<u8>,
}

impl PipeScript {
    /// Writes the body as `SCRATCH/pipes/NAME` (mode 0755, root-owned, as BuildKit's
    /// `llb.Mkfile(name, 0755, …)`) and binds that directory read-only at `/dev/pipes`: the
    /// script can neither be changed nor have siblings created next to it, as in BuildKit.
    ///
    /// Errors: a heredoc name that is not one file name, or the scratch dir not writable.
    fn mount(&self, scratch: &std::path::Path) -> Result<sandbox::Mount> {
        use std::os::unix::fs::PermissionsExt;
        // The name is a file name in BuildKit's scratch state too: a path could leave the dir.
        if self.name.is_empty() || self.name.contains('/') || self.name == "." || self.name == ".."
        {
            bail!(
                "heredoc name {:?} cannot be the file name of a script (RUN <<NAME with a #! line \
                 runs the body as /dev/pipes/NAME)",
                self.name
            );
        }
        let dir = scratch.join("pipes");
        std::fs::create_dir(&dir)?;
        let file = dir.join(&self.name);
        std::fs::write(&file, &self.content)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
        Ok(sandbox::Mount::Bind {
            source: dir,
            target: PIPES_DIR.to_string(),
            readonly: true,
        })
    }
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
