//! Entitlements: what a Dockerfile may only do when the build allows it
//! (`--allow`, buildx's flag; BuildKit's `entitlements`). Checked on the
//! plan, before any work.

use crate::diag::Diagnostic;

use super::instructions::{Network, Security};
use super::{Command, Plan};

/// `security.insecure`: `RUN --security=insecure` (every capability, no
/// seccomp filter, devices openable).
pub const SECURITY_INSECURE: &str = "security.insecure";
/// `network.host`: `--network host` and `RUN --network=host` (RUN gets a
/// network namespace of its own otherwise).
pub const NETWORK_HOST: &str = "network.host";

/// Parses `--allow` values (repeatable, comma-separated as in buildx).
/// Errors: an unknown or empty entitlement.
pub fn parse_allow(values: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for v in values {
        for e in v.split(',') {
            match e.trim() {
                SECURITY_INSECURE | NETWORK_HOST => out.push(e.trim().to_string()),
                other => anyhow::bail!(
                    "--allow {other:?}: invalid entitlement (use {SECURITY_INSECURE} or \
                     {NETWORK_HOST})"
                ),
            }
        }
    }
    Ok(out)
}

/// The first step of a stage the build needs that asks for an entitlement
/// not in `allowed`, as a diagnostic at its line. BuildKit refuses such a
/// definition whole before solving ("failed to load LLB: network.host is
/// not allowed", Docker 26.1), so no step runs; the wording here keeps
/// BuildKit's first words and adds the line and the flag to pass.
pub fn check(plan: &Plan, allowed: &[String]) -> Result<(), Diagnostic> {
    let insecure_ok = allowed.iter().any(|a| a == SECURITY_INSECURE);
    let host_ok = allowed.iter().any(|a| a == NETWORK_HOST);
    for stage in plan.stages.iter().filter(|s| s.needed) {
        for step in &stage.steps {
            let Command::Run(run) = &step.command else {
                continue;
            };
            let refused = if run.security == Security::Insecure && !insecure_ok {
                Some((
                    "--security",
                    "RUN --security=insecure needs the security.insecure entitlement, which \
                     this build does not allow",
                    "build with --allow security.insecure",
                ))
            } else if run.network == Network::Host && !host_ok {
                Some((
                    "--network",
                    "network.host is not allowed: RUN --network=host needs the network.host \
                     entitlement, which this build does not allow",
                    "pass --allow network.host",
                ))
            } else {
                None
            };
            if let Some((flag, message, help)) = refused {
                return Err(plan.source.at_text(&step.ast, flag, 0, message).help(help));
            }
        }
    }
    Ok(())
}
