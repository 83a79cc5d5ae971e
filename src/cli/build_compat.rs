//! `docker build` flags that `docker buildx build` (0.13, `commands/build.go`)
//! still accepts, hidden, from the classic builder: `--rm`, `--force-rm`,
//! `--compress`, `--squash`, `--security-opt`, `--memory-swap`, `-c/--cpu-shares`,
//! `--cpu-period`, `--cpu-quota`, `--cpuset-cpus`, `--cpuset-mems`, plus
//! buildx's `--builder`. CI scripts written for `docker build` pass them; buildx
//! ignores them (warning for `--squash` and `--security-opt`, in its words), and
//! so does builder. `--cgroup-parent`, which BuildKit honours, is refused by
//! name: builder places each RUN in a cgroup of its own.

use anyhow::{bail, Result};
use clap::builder::BoolishValueParser;
use clap::Args;

/// The hidden compatibility flags; their values are only checked, never used.
#[derive(Debug, Args, Default)]
pub struct CompatArgs {
    /// Classic builder: remove intermediate containers (buildx: ignored).
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub rm: Option<bool>,
    /// Classic builder: always remove intermediate containers (buildx: ignored).
    #[arg(long = "force-rm", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub force_rm: Option<bool>,
    /// Classic builder: gzip the context upload (buildx: ignored).
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub compress: Option<bool>,
    /// Classic builder: squash the new layers (buildx: ignored, with a warning).
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub squash: Option<bool>,
    /// Classic builder: security options (buildx: ignored, with a warning).
    #[arg(long = "security-opt", hide = true)]
    pub security_opt: Vec<String>,
    /// Classic builder: memory + swap limit (buildx: ignored).
    #[arg(long = "memory-swap", hide = true, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Classic builder: CPU shares (buildx: ignored).
    #[arg(
        short = 'c',
        long = "cpu-shares",
        hide = true,
        allow_negative_numbers = true
    )]
    pub cpu_shares: Option<i64>,
    /// Classic builder: CFS period in µs (buildx: ignored).
    #[arg(long = "cpu-period", hide = true, allow_negative_numbers = true)]
    pub cpu_period: Option<i64>,
    /// Classic builder: CFS quota in µs (buildx: ignored).
    #[arg(long = "cpu-quota", hide = true, allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// Classic builder: CPUs allowed (buildx: ignored).
    #[arg(long = "cpuset-cpus", hide = true)]
    pub cpuset_cpus: Option<String>,
    /// Classic builder: memory nodes allowed (buildx: ignored).
    #[arg(long = "cpuset-mems", hide = true)]
    pub cpuset_mems: Option<String>,
    /// buildx: the builder instance; builder is its own single instance.
    #[arg(long, hide = true)]
    pub builder: Option<String>,
    /// buildx: the parent cgroup of RUN steps (refused, see the module docs).
    #[arg(long = "cgroup-parent", hide = true)]
    pub cgroup_parent: Option<String>,
}

impl CompatArgs {
    /// The warnings buildx prints for the flags given (its words), or an
    /// error for a flag builder cannot honour.
    pub fn warnings(&self) -> Result<Vec<&'static str>> {
        if let Some(p) = &self.cgroup_parent {
            bail!(
                "--cgroup-parent {p}: not supported: builder runs each RUN in a cgroup of its \
                 own (limit it with --memory, --cpus, --pids-limit)"
            );
        }
        let mut out = Vec::new();
        if self.squash == Some(true) {
            out.push(
                "experimental flag squash is removed with BuildKit. You should squash inside \
                 build using a multi-stage Dockerfile for efficiency.",
            );
        }
        if !self.security_opt.is_empty() {
            out.push(
                "security-opt flag is deprecated. \"RUN --security=insecure\" should be used \
                 with BuildKit.",
            );
        }
        Ok(out)
    }
}
