//! The resource-limit flags `build` and `run` share, spelled as
//! `docker build` (classic builder) and `docker run` spell them; `--ulimit`
//! as `docker buildx build --ulimit`.

use anyhow::Result;
use clap::Args;

use crate::sandbox::Limits;

/// `--memory`, `--cpus`, `--pids-limit`, `--ulimit`.
#[derive(Debug, Args, Default)]
pub struct LimitArgs {
    /// Memory limit of each RUN, e.g. `64m`, `1g` or bytes (at least 6m);
    /// swap cannot add to it. Needs root or a delegated cgroup v2 subtree.
    #[arg(short = 'm', long = "memory", value_name = "SIZE")]
    pub memory: Option<String>,
    /// CPUs each RUN may use, a decimal (`0.5`: half a CPU's time, as a CFS
    /// quota of 50000 µs per 100000 µs).
    #[arg(long = "cpus", value_name = "N")]
    pub cpus: Option<String>,
    /// Most processes and threads of each RUN at once (-1: unlimited).
    #[arg(long = "pids-limit", value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// A ulimit of each RUN, `name=soft[:hard]` (e.g. `nofile=1024:2048`;
    /// -1 is unlimited); repeatable. Works at every isolation level.
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]")]
    pub ulimits: Vec<String>,
}

impl LimitArgs {
    /// Parses the values and checks that a cgroup can be made here when one
    /// is needed: errors come before any work.
    pub fn limits(&self) -> Result<Limits> {
        let limits = Limits::parse(
            self.memory.as_deref(),
            self.cpus.as_deref(),
            self.pids_limit,
            &self.ulimits,
        )?;
        if limits.needs_cgroup() {
            crate::sandbox::cgroup::check(&limits)?;
        } else {
            // Leftovers of a killed build go even when this one sets no limit.
            crate::sandbox::cgroup::reclaim_stale();
        }
        Ok(limits)
    }
}
