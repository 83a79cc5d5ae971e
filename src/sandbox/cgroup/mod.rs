//! One cgroup per run for `--memory`, `--cpus` and `--pids-limit`, on
//! cgroup v1 (a hierarchy per controller) or v2 (the unified hierarchy).
//!
//! The helper creates the cgroup before it forks the init; the init moves
//! itself in (writes `0` to `cgroup.procs`) before it sets anything else
//! up, so every process of the run is inside. When the run ends the helper
//! reads the OOM-kill and pids-limit counters, kills whatever is left in
//! the cgroup and removes it. The cgroup is named `builder-run-<helper
//! pid>`; one left by a helper that was killed (SIGKILL gives it no chance
//! to clean up) is reclaimed by the next run or build that looks at the
//! same parent, once no process with that pid is alive.
//!
//! Where: on v1 below builder's own cgroup in each hierarchy, so a limit
//! set on builder itself (a CI job's container) still holds. On v2 a
//! process may not sit in a cgroup whose children have controllers, so the
//! run's cgroup is a sibling of builder's own (in its parent, which must
//! delegate the controllers: root, or a systemd `Delegate=yes` unit for a
//! rootless builder); at the root of the hierarchy it is a child.
//!
//! Why not the `cgroups-rs` crate: it brings its own process model (it
//! would add the process itself, and its v1/v2 abstraction hides
//! `memory.memsw.*`, `memory.oom_control`'s `oom_kill` counter and
//! `pids.events`, which are what the error messages are made of), while
//! what a run needs is a few writes of plain files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::limits::{Limits, CPU_PERIOD_US};

mod cleanup;

pub use cleanup::reclaim_stale;
use cleanup::{kill_procs, reclaim_in, remove_dir};

/// Name prefix of the cgroups builder makes.
pub const PREFIX: &str = "builder-run-";

/// The mount point the cgroup file systems are looked up under.
const ROOT: &str = "/sys/fs/cgroup";

/// What happened in a run's cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// Processes the OOM killer killed for the memory limit.
    pub oom_kills: u64,
    /// Forks refused for the pids limit.
    pub pids_max: u64,
}

/// A cgroup limit's controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Controller {
    Memory,
    Pids,
    Cpu,
    Devices,
}

impl Controller {
    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::Devices => "devices",
        }
    }
}

/// A run's cgroup (one directory per v1 hierarchy, or one on v2); removed
/// (after killing what is left in it) when dropped.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<(Controller, PathBuf)>,
    unified: bool,
}

/// Whether the cgroup hierarchy at `/sys/fs/cgroup` is v2 (unified).
pub fn is_unified() -> bool {
    nix::sys::statfs::statfs(ROOT)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

fn needed(limits: &Limits) -> Vec<Controller> {
    let mut c = Vec::new();
    if limits.memory.is_some() {
        c.push(Controller::Memory);
    }
    if limits.pids.is_some() {
        c.push(Controller::Pids);
    }
    if limits.cpu_quota_us.is_some() {
        c.push(Controller::Cpu);
    }
    c
}

/// This process's cgroup path in the hierarchy with `controller` (v1), or
/// in the unified hierarchy (`None`), from `/proc/self/cgroup`.
fn own_path(controller: Option<&str>) -> Result<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").context("reading /proc/self/cgroup")?;
    parse_own(&text, controller)
}

fn parse_own(text: &str, controller: Option<&str>) -> Result<String> {
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let hit = match controller {
            None => id == "0" && ctrls.is_empty(),
            Some(c) => ctrls.split(',').any(|x| x == c),
        };
        if hit {
            return Ok(path.to_string());
        }
    }
    bail!(
        "this process is in no {} cgroup (see /proc/self/cgroup)",
        controller.unwrap_or("v2")
    )
}

/// The mount point of the v1 hierarchy of `controller`, from mountinfo.
fn v1_mount(controller: &str) -> Result<PathBuf> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split_whitespace();
        if r.next() != Some("cgroup") {
            continue;
        }
        let opts = r.nth(1).unwrap_or("");
        if opts.split(',').any(|o| o == controller) {
            if let Some(mp) = left.split_whitespace().nth(4) {
                return Ok(PathBuf::from(mp));
            }
        }
    }
    bail!("no cgroup v1 hierarchy has the {controller} controller mounted")
}

/// The parent dirs builder's cgroups go in, one per needed controller
/// (v1) or one (v2).
fn parents(controllers: &[Controller]) -> Result<(Vec<(Controller, PathBuf)>, bool)> {
    if is_unified() {
        let own = own_path(None)?;
        let rel = Path::new(own.trim_start_matches('/'));
        let parent = Path::new(ROOT).join(rel.parent().unwrap_or(Path::new("")));
        Ok((
            controllers.iter().map(|c| (*c, parent.clone())).collect(),
            true,
        ))
    } else {
        let mut out = Vec::new();
        for c in controllers {
            let mount = v1_mount(c.name())?;
            let own = own_path(Some(c.name()))?;
            out.push((*c, mount.join(own.trim_start_matches('/'))));
        }
        Ok((out, false))
    }
}

impl Cgroup {
    /// Makes the cgroup of a run with `limits` (named after this process),
    /// reclaiming leftovers of dead helpers first, and with `devices` also
    /// a v1 devices cgroup with Docker's rules where that can be made
    /// (see [`devices`](super::devices); never an error). `None` when
    /// nothing needs one.
    pub fn create(limits: &Limits, devices: bool) -> Result<Option<Cgroup>> {
        let controllers = needed(limits);
        let mut cg = if controllers.is_empty() {
            None
        } else {
            Some(Self::create_for(limits, &controllers)?)
        };
        if devices && !is_unified() {
            let made: Vec<PathBuf> = cg
                .iter()
                .flat_map(|c| c.dirs.iter().map(|(_, d)| d.clone()))
                .collect();
            if let Some(dir) = devices_cgroup(&made) {
                super::devices::set_confined();
                let c = cg.get_or_insert_with(|| Cgroup {
                    dirs: Vec::new(),
                    unified: false,
                });
                c.dirs.push((Controller::Devices, dir));
            }
        }
        Ok(cg)
    }

    fn create_for(limits: &Limits, controllers: &[Controller]) -> Result<Cgroup> {
        let (parents, unified) = parents(controllers)?;
        let name = format!("{PREFIX}{}", std::process::id());
        let mut cg = Cgroup {
            dirs: Vec::new(),
            unified,
        };
        for (c, parent) in &parents {
            reclaim_in(parent);
            if unified {
                enable_controller(parent, c.name())?;
            }
            let dir = parent.join(&name);
            if cg.dirs.iter().any(|(_, d)| *d == dir) {
                cg.dirs.push((*c, dir));
                continue;
            }
            if dir.exists() {
                // A dead helper with the same pid left it.
                remove_dir(&dir);
            }
            std::fs::create_dir(&dir)
                .with_context(|| format!("creating the cgroup {}", dir.display()))?;
            cg.dirs.push((*c, dir));
        }
        cg.set(limits)?;
        Ok(cg)
    }

    fn dir(&self, c: Controller) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(x, _)| *x == c)
            .map(|(_, d)| d.as_path())
    }

    fn set(&self, limits: &Limits) -> Result<()> {
        if let (Some(bytes), Some(dir)) = (limits.memory, self.dir(Controller::Memory)) {
            if self.unified {
                write(dir, "memory.max", &bytes.to_string())?;
                // memory+swap = memory, as memsw below (absent without swap accounting).
                write_if_present(dir, "memory.swap.max", "0")?;
            } else {
                write(dir, "memory.limit_in_bytes", &bytes.to_string())?;
                write_if_present(dir, "memory.memsw.limit_in_bytes", &bytes.to_string())?;
            }
        }
        if let (Some(n), Some(dir)) = (limits.pids, self.dir(Controller::Pids)) {
            write(dir, "pids.max", &n.to_string())?;
        }
        if let (Some(q), Some(dir)) = (limits.cpu_quota_us, self.dir(Controller::Cpu)) {
            if self.unified {
                write(dir, "cpu.max", &format!("{q} {CPU_PERIOD_US}"))?;
            } else {
                write(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                write(dir, "cpu.cfs_quota_us", &q.to_string())?;
            }
        }
        Ok(())
    }

    /// Moves the calling process into the cgroup (the init, right after
    /// the fork).
    pub fn join(&self) -> Result<()> {
        let mut done: Vec<&Path> = Vec::new();
        for (_, dir) in &self.dirs {
            if !done.contains(&dir.as_path()) {
                write(dir, "cgroup.procs", "0")?;
                done.push(dir);
            }
        }
        Ok(())
    }

    /// Kills every process in the cgroup (they may still be dying on
    /// return); the chroot level's way to end what a command left running
    /// in another session, holding its output pipes.
    pub fn kill(&self) {
        for (_, dir) in &self.dirs {
            kill_procs(dir);
        }
    }

    /// The OOM-kill and pids-limit counters.
    pub fn events(&self) -> Events {
        let mut e = Events::default();
        if let Some(dir) = self.dir(Controller::Memory) {
            let file = if self.unified {
                "memory.events"
            } else {
                "memory.oom_control"
            };
            e.oom_kills = counter(dir, file, "oom_kill");
        }
        if let Some(dir) = self.dir(Controller::Pids) {
            e.pids_max = counter(dir, "pids.events", "max");
        }
        e
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for (_, dir) in &self.dirs {
            remove_dir(dir);
        }
    }
}

/// The run's v1 devices cgroup with Docker's rules, or `None` where it
/// cannot be made (the `nodev` remounts then guard instead).
/// `made`: the run's dirs already made (a hierarchy that has the devices
/// controller mounted with another one shares its dir).
fn devices_cgroup(made: &[PathBuf]) -> Option<PathBuf> {
    let (p, _) = parents(&[Controller::Devices]).ok()?;
    let parent = &p[0].1;
    let dir = parent.join(format!("{PREFIX}{}", std::process::id()));
    if made.contains(&dir) {
        return super::devices::restrict(&dir).ok().map(|()| dir);
    }
    reclaim_in(parent);
    if dir.exists() {
        remove_dir(&dir);
    }
    std::fs::create_dir(&dir).ok()?;
    match super::devices::restrict(&dir) {
        Ok(()) => Some(dir),
        Err(_) => {
            remove_dir(&dir);
            None
        }
    }
}

/// Makes `controller` available to the children of `parent` (v2).
fn enable_controller(parent: &Path, controller: &str) -> Result<()> {
    let file = parent.join("cgroup.subtree_control");
    let on =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    if on.split_whitespace().any(|c| c == controller) {
        return Ok(());
    }
    std::fs::write(&file, format!("+{controller}")).with_context(|| {
        format!(
            "enabling the {controller} controller in {} (the cgroup is not delegated, or has \
             processes of its own)",
            file.display()
        )
    })
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).with_context(|| format!("writing {value} to {}", path.display()))
}

fn write_if_present(dir: &Path, file: &str, value: &str) -> Result<()> {
    if dir.join(file).exists() {
        write(dir, file, value)?;
    }
    Ok(())
}

/// The value of `key` in a flat-keyed cgroup file (0 when absent).
fn counter(dir: &Path, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

/// Checks, before any work, that runs with `limits` can get their cgroup
/// here, by making one and removing it. The error says why not and what
/// to do (a rootless builder needs a delegated cgroup v2 subtree).
pub fn check(limits: &Limits) -> Result<()> {
    reclaim_stale();
    let err = match Cgroup::create(limits, false) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let flags = flag_names(limits);
    let host_uid = super::userns::host_uid();
    if host_uid != 0 {
        let hierarchy = if is_unified() {
            "the cgroup v2 subtree builder runs in is not delegated to this user"
        } else {
            "this host uses cgroup v1, whose hierarchies only root can write"
        };
        bail!(
            "{flags} need a cgroup of the build's own, and a rootless builder (host uid \
             {host_uid}) can only use a delegated cgroup v2 subtree: {hierarchy} ({err:#}). \
             Run builder in a delegated unit (e.g. `systemd-run --user --scope -p Delegate=yes \
             builder build …` on a cgroup v2 host), run it as root, or drop {flags} (--ulimit \
             works at every level)"
        );
    }
    bail!("{flags} need a cgroup of the build's own, which cannot be made here: {err:#}")
}

fn flag_names(limits: &Limits) -> String {
    let mut f = Vec::new();
    if limits.memory.is_some() {
        f.push("--memory");
    }
    if limits.cpu_quota_us.is_some() {
        f.push("--cpus");
    }
    if limits.pids.is_some() {
        f.push("--pids-limit");
    }
    f.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cgroup_per_hierarchy() {
        let text = "12:cpu,cpuacct:/a\n4:memory:/process_api/x\n8:pids:/\n0::/user.slice/s\n";
        assert_eq!(parse_own(text, Some("memory")).unwrap(), "/process_api/x");
        assert_eq!(parse_own(text, Some("cpu")).unwrap(), "/a");
        assert_eq!(parse_own(text, Some("pids")).unwrap(), "/");
        assert_eq!(parse_own(text, None).unwrap(), "/user.slice/s");
        assert!(parse_own(text, Some("devices")).is_err());
    }

    #[test]
    fn counters_are_read_by_key() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        )
        .unwrap();
        std::fs::write(d.path().join("pids.events"), "max 61\n").unwrap();
        assert_eq!(counter(d.path(), "memory.oom_control", "oom_kill"), 3);
        assert_eq!(counter(d.path(), "pids.events", "max"), 61);
        assert_eq!(counter(d.path(), "memory.events", "oom_kill"), 0);
    }
}
