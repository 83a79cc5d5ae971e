//! Whether a RUN (or `builder run`) for a platform can execute on this
//! machine. Today only the host's own platform can: there is no emulation
//! yet. The one place that decides, so that QEMU user emulation through
//! binfmt_misc can replace the check without touching its callers.

use anyhow::{bail, Result};

use crate::plan::Platform;

/// `Ok` when a process built for `platform` runs here; else an error saying
/// which platform this machine is and what would make it work. Compares OS
/// and architecture (the variant is a minimum CPU level, e.g. `amd64/v2`,
/// which the host's CPU is taken to meet, as runc does).
pub fn can_run(platform: &Platform) -> Result<()> {
    let host = Platform::host();
    if platform.os == host.os && platform.architecture == host.architecture {
        return Ok(());
    }
    bail!(
        "cannot run a {platform} program on this {host} machine: builder does not emulate other \
         architectures yet; build this stage with FROM --platform=$BUILDPLATFORM (and \
         cross-compile), or build {platform} on a {platform} machine"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_runs_foreign_does_not() {
        let host = Platform::host();
        assert!(can_run(&host).is_ok());
        let other = if host.architecture == "arm64" {
            Platform::new("linux", "amd64", "")
        } else {
            Platform::new("linux", "arm64", "")
        };
        let e = can_run(&other).unwrap_err().to_string();
        assert!(
            e.contains(&other.to_string()) && e.contains(&host.to_string()),
            "{e}"
        );
    }
}
