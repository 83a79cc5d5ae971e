//! Resource limits of a run: `--memory`, `--cpus`, `--pids-limit` (a
//! cgroup per run, see [`cgroup`](super::cgroup)) and `--ulimit`
//! (`setrlimit` in the init before exec). Values are spelled and checked as
//! the Docker CLI checks them (`docker build`/`docker run` flags, go-units'
//! `RAMInBytes` and `ParseUlimit`), before any work.

use std::fmt;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Docker's smallest `--memory` ("Minimum memory limit allowed is 6MB").
pub const MIN_MEMORY: u64 = 6 << 20;

/// The CFS period Docker uses for `--cpus` (100 ms, in microseconds).
pub const CPU_PERIOD_US: u64 = 100_000;

/// What a run may use; the default limits nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory limit in bytes (`--memory`); swap is limited to the same
    /// total (memory+swap = memory) so swapping cannot evade it.
    pub memory: Option<u64>,
    /// CPU quota in microseconds per [`CPU_PERIOD_US`] (`--cpus N` is
    /// `N * 100000`, as Docker's NanoCPUs).
    pub cpu_quota_us: Option<u64>,
    /// Most tasks (processes and threads) at once (`--pids-limit`).
    pub pids: Option<u64>,
    /// `--ulimit` entries, applied with `setrlimit` before exec.
    pub ulimits: Vec<Ulimit>,
}

impl Limits {
    /// Whether a cgroup is needed (every limit but `--ulimit`).
    pub fn needs_cgroup(&self) -> bool {
        self.memory.is_some() || self.cpu_quota_us.is_some() || self.pids.is_some()
    }

    /// Parses the flags' values (`None` = flag not given).
    pub fn parse(
        memory: Option<&str>,
        cpus: Option<&str>,
        pids_limit: Option<i64>,
        ulimits: &[String],
    ) -> Result<Limits> {
        let memory = memory.map(parse_memory).transpose()?;
        let cpu_quota_us = cpus.map(parse_cpus).transpose()?;
        // Docker: 0 and -1 mean unlimited.
        let pids = match pids_limit {
            None | Some(0) | Some(-1) => None,
            Some(n) if n > 0 => Some(n as u64),
            Some(n) => bail!("--pids-limit {n}: use a positive number (or -1 for unlimited)"),
        };
        let ulimits = parse_ulimits(ulimits)?;
        Ok(Limits {
            memory,
            cpu_quota_us,
            pids,
            ulimits,
        })
    }
}

/// A size as Docker's `--memory` reads it (go-units `RAMInBytes`): a
/// decimal number with an optional binary unit `b`, `k`, `m`, `g`, `t`,
/// `p` (any case, optionally followed by `i`/`b`: `64m`, `1g`, `512MiB`).
pub fn parse_size(text: &str) -> Result<u64> {
    let re = regex::Regex::new(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$").expect("valid");
    let Some(c) = re.captures(text) else {
        bail!("invalid size: '{text}' (expected a number with an optional unit b, k, m, g, t)")
    };
    let number: f64 = c[1]
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size: '{text}'"))?;
    let shift = match c.get(2).map(|m| m.as_str().to_ascii_lowercase()) {
        None => 0,
        Some(u) => match u.as_str() {
            "k" => 10,
            "m" => 20,
            "g" => 30,
            "t" => 40,
            _ => 50,
        },
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        bail!("invalid size: '{text}' (too large)");
    }
    Ok(bytes as u64)
}

fn parse_memory(text: &str) -> Result<u64> {
    let bytes = parse_size(text).map_err(|e| anyhow::anyhow!("--memory {text}: {e}"))?;
    if bytes < MIN_MEMORY {
        bail!("--memory {text}: minimum memory limit allowed is 6MB (as in Docker)");
    }
    Ok(bytes)
}

/// `--cpus`: a decimal number of CPUs from 0.01 to the number of CPUs here
/// (Docker's range), as a CFS quota per [`CPU_PERIOD_US`].
fn parse_cpus(text: &str) -> Result<u64> {
    let n: f64 = text
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| anyhow::anyhow!("--cpus {text}: not a decimal number"))?;
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Docker: "Range of CPUs is from 0.01 to N.00, as there are only N CPUs available".
    if n < 0.01 || n > online as f64 {
        bail!(
            "--cpus {text}: range of CPUs is from 0.01 to {online}.00, as there are only \
             {online} CPUs available"
        );
    }
    Ok((n * CPU_PERIOD_US as f64).round() as u64)
}

/// One `--ulimit name=soft[:hard]`; `-1` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// Docker's name (`nofile`, `nproc`, …).
    pub name: String,
    /// Soft limit (`None` = unlimited).
    pub soft: Option<u64>,
    /// Hard limit (`None` = unlimited).
    pub hard: Option<u64>,
}

impl fmt::Display for Ulimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = |x: Option<u64>| x.map_or("-1".to_string(), |x| x.to_string());
        write!(f, "{}={}:{}", self.name, v(self.soft), v(self.hard))
    }
}

/// Docker's ulimit names and their resources (go-units `ulimitNameMapping`).
const ULIMITS: [(&str, libc::__rlimit_resource_t); 15] = [
    ("core", libc::RLIMIT_CORE),
    ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA),
    ("fsize", libc::RLIMIT_FSIZE),
    ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("stack", libc::RLIMIT_STACK),
];

fn parse_ulimits(values: &[String]) -> Result<Vec<Ulimit>> {
    let mut out: Vec<Ulimit> = Vec::new();
    for v in values {
        let u = parse_ulimit(v).map_err(|e| anyhow::anyhow!("--ulimit {v}: {e}"))?;
        // A later flag for the same name wins, as Docker's option map.
        out.retain(|o| o.name != u.name);
        out.push(u);
    }
    Ok(out)
}

fn parse_ulimit(text: &str) -> Result<Ulimit> {
    let Some((name, value)) = text.split_once('=') else {
        bail!("invalid ulimit argument (expected name=soft[:hard], e.g. nofile=1024:2048)")
    };
    if !ULIMITS.iter().any(|(n, _)| *n == name) {
        let names: Vec<&str> = ULIMITS.iter().map(|(n, _)| *n).collect();
        bail!("invalid ulimit type: {name} (one of {})", names.join(", "));
    }
    let number = |s: &str| -> Result<Option<u64>> {
        match s.parse::<i64>() {
            Ok(-1) => Ok(None),
            Ok(n) if n >= 0 => Ok(Some(n as u64)),
            _ => bail!("invalid ulimit value {s:?} (a number >= 0, or -1 for unlimited)"),
        }
    };
    let (soft, hard) = match value.split_once(':') {
        Some((s, h)) => (number(s)?, number(h)?),
        None => {
            let s = number(value)?;
            (s, s)
        }
    };
    let n = |x: Option<u64>| x.unwrap_or(u64::MAX);
    if n(soft) > n(hard) {
        bail!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            n(soft),
            n(hard)
        );
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// Sets every ulimit on this process (the init, before exec; root there,
/// so hard limits may also be raised, as runc does).
pub(super) fn apply_ulimits(ulimits: &[Ulimit]) -> Result<()> {
    for u in ulimits {
        let Some((_, resource)) = ULIMITS.iter().find(|(n, _)| *n == u.name) else {
            bail!("unknown ulimit {}", u.name);
        };
        let lim = libc::rlimit {
            rlim_cur: u.soft.unwrap_or(libc::RLIM_INFINITY),
            rlim_max: u.hard.unwrap_or(libc::RLIM_INFINITY),
        };
        // SAFETY: setrlimit reads the struct it is given.
        if unsafe { libc::setrlimit(*resource, &lim) } != 0 {
            return Err(anyhow::Error::new(std::io::Error::last_os_error())
                .context(format!("setting ulimit {u}")));
        }
    }
    Ok(())
}

/// Why a run that ended with exit code `code` failed, when its cgroup says
/// a limit did it: the OOM killer killed a process under `--memory`, or a
/// fork was refused under `--pids-limit`. `None` for a success or a failure
/// of the command's own.
pub fn explain(limits: &Limits, events: &super::cgroup::Events, code: i32) -> Option<String> {
    if code == 0 {
        return None;
    }
    match (limits.memory, limits.pids) {
        (Some(m), _) if events.oom_kills > 0 => Some(format!(
            "was killed: out of memory (--memory {})",
            human_size(m)
        )),
        (_, Some(p)) if events.pids_max > 0 => Some(format!(
            "failed: the pids limit was reached ({} forks refused; --pids-limit {p})",
            events.pids_max
        )),
        _ => None,
    }
}

/// `n` bytes as `--memory` messages show them ("64 MiB").
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if v.fract() == 0.0 {
        format!("{v} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("7000000").unwrap(), 7_000_000);
        for bad in ["", "m", "-1m", "64x", "1e9", "64 mm"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_memory("4m").unwrap_err().to_string().contains("6MB"));
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size(1536 << 20), "1.5 GiB");
    }

    #[test]
    fn cpus_as_docker() {
        assert_eq!(parse_cpus("0.5").unwrap(), 50_000);
        assert_eq!(parse_cpus("1").unwrap(), 100_000);
        for bad in ["0", "0.001", "abc", "-1", "1000000", "NaN", "inf"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ulimits_as_docker() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (Some(1024), Some(2048)));
        let u = parse_ulimit("core=-1").unwrap();
        assert_eq!((u.soft, u.hard), (None, None));
        assert!(parse_ulimit("nofile=2048:1024")
            .unwrap_err()
            .to_string()
            .contains("soft limit must be less than or equal to hard limit"));
        assert!(parse_ulimit("bogus=1")
            .unwrap_err()
            .to_string()
            .contains("invalid ulimit type"));
        assert!(parse_ulimit("nofile").is_err());
        assert!(parse_ulimit("nofile=x").is_err());
        let all = parse_ulimits(&["nofile=1".into(), "nofile=2".into()]).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].soft, Some(2));
    }

    #[test]
    fn pids_limit_as_docker() {
        assert_eq!(Limits::parse(None, None, Some(-1), &[]).unwrap().pids, None);
        assert_eq!(
            Limits::parse(None, None, Some(64), &[]).unwrap().pids,
            Some(64)
        );
        assert!(Limits::parse(None, None, Some(-5), &[]).is_err());
    }
}
