//! What an SBOM scans besides the target image, as BuildKit's dockerfile
//! frontend decides it (`dockerfile2llb/convert.go`, `sbomScanContext`,
//! `sbomScanStage`, `isEnabledForStage`; docs/attestations/sbom.md):
//!
//! - `BUILDKIT_SBOM_SCAN_STAGE` set in a stage (an `ARG` in it, its value a
//!   `--build-arg` or the default) or as a global meta `ARG` marks the stage
//!   for scanning; `BUILDKIT_SBOM_SCAN_CONTEXT` likewise marks the build
//!   context, which is scanned when the *target* stage is marked.
//! - The value is a Go boolean (`true`, `1`, `false`, …) or a comma list of
//!   stage names the setting enables.
//! - A `--build-arg` alone enables nothing: it only overrides an `ARG` the
//!   Dockerfile declares. Stages that are not built are never scanned, nor
//!   is the target stage as an extra (it is the core SBOM).
//!
//! Each extra is an SPDX statement of its own in the attestation manifest,
//! after the core SBOM, ordered by name, as BuildKit's scanner bundle
//! (`sbom-NAME.spdx.json`, read in directory order) lists them.

use crate::plan::{Command, Plan};

/// The global/stage ARG that marks a stage for scanning.
pub const SCAN_STAGE: &str = "BUILDKIT_SBOM_SCAN_STAGE";
/// The global/stage ARG that marks the build context for scanning.
pub const SCAN_CONTEXT: &str = "BUILDKIT_SBOM_SCAN_CONTEXT";

/// What to scan besides the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanTargets {
    /// Scan the build context (the target stage has `SCAN_CONTEXT` on).
    pub context: bool,
    /// Built stages other than the target with `SCAN_STAGE` on, by index.
    pub stages: Vec<usize>,
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// BuildKit's `isEnabledForStage`: a boolean, or a comma list of stage names.
fn enabled_for(stage: &str, value: &str) -> bool {
    parse_bool(value).unwrap_or_else(|| value.split(',').any(|s| s == stage))
}

/// Whether `arg` is on for stage `i` of `plan`: the global meta ARG's value,
/// overridden by each `ARG arg` of the stage (its `--build-arg`, else its
/// default, else the global value it inherits).
fn is_on(plan: &Plan, i: usize, arg: &str) -> bool {
    let stage = &plan.stages[i];
    // BuildKit compares against the `AS` name (empty for an unnamed stage).
    let name = stage.name.as_deref().unwrap_or("");
    let global = plan.global_args.get(arg);
    let mut on = global.is_some_and(|v| enabled_for(name, v));
    for step in &stage.steps {
        if let Command::Arg(decls) = &step.command {
            for d in decls.iter().filter(|d| d.name == arg) {
                let value = plan
                    .build_args
                    .get(arg)
                    .map(String::as_str)
                    .or(d.default.as_deref())
                    .or(global);
                if let Some(v) = value {
                    on = enabled_for(name, v);
                }
            }
        }
    }
    on
}

/// The scan targets of `plan` (see the module docs).
pub fn scan_targets(plan: &Plan) -> ScanTargets {
    ScanTargets {
        context: is_on(plan, plan.target, SCAN_CONTEXT),
        stages: (0..plan.stages.len())
            .filter(|&i| i != plan.target && plan.stages[i].needed && is_on(plan, i, SCAN_STAGE))
            .collect(),
    }
}

/// The name of a scanned stage in its statement's file name and document
/// (`sbom-NAME.spdx.json`): its `AS` name, else `stage-N`.
pub fn stage_name(plan: &Plan, i: usize) -> String {
    plan.stages[i].display_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_buildkit_reads_them() {
        assert!(enabled_for("build", "true") && enabled_for("x", "1"));
        assert!(!enabled_for("build", "False"));
        assert!(enabled_for("build", "x,build") && !enabled_for("build", "x,y"));
        assert!(!enabled_for("", "x"));
    }
}
