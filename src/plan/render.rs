//! The `--dry-run` view of a plan, in the spirit of BuildKit's plain output.

use super::{Base, Plan};
use std::fmt::Write;

pub(super) fn dry_run(plan: &Plan) -> String {
    let mut out = String::new();
    let target = &plan.stages[plan.target];
    let _ = writeln!(
        out,
        "#0 build plan: target {:?}, platform {}, {} of {} stages needed",
        target.display_name(),
        plan.platform,
        plan.stages.iter().filter(|s| s.needed).count(),
        plan.stages.len()
    );
    for st in &plan.stages {
        let base = match &st.base {
            Base::Image(r) => r.clone(),
            Base::Stage(i) => format!("stage {}", plan.stages[*i].display_name()),
            Base::Scratch => "scratch".to_string(),
        };
        let deps: Vec<String> = st
            .deps
            .iter()
            .map(|&d| plan.stages[d].display_name())
            .collect();
        let _ = writeln!(
            out,
            "#{} [{}] FROM {} ({}){}",
            st.index + 1,
            st.display_name(),
            base,
            st.platform,
            if st.needed {
                ""
            } else {
                " SKIPPED: not needed by the target"
            }
        );
        if !deps.is_empty() {
            let _ = writeln!(out, "#{}   needs: {}", st.index + 1, deps.join(", "));
        }
        for step in &st.steps {
            let text = step.ast.original.lines().next().unwrap_or("").trim();
            let _ = writeln!(out, "#{}   {}", st.index + 1, text);
        }
    }
    for (n, wave) in plan.waves.iter().enumerate() {
        let names: Vec<String> = wave
            .iter()
            .map(|&i| plan.stages[i].display_name())
            .collect();
        let _ = writeln!(out, "#0 wave {}: {}", n + 1, names.join(", "));
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "{w}");
    }
    out
}
