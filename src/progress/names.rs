//! Step names as BuildKit's Dockerfile frontend prints them (dockerfile2llb
//! `prefixCommand`, recorded from Docker 26.1 in tests/progress_plain.rs):
//! `[build 2/4] RUN make`. Only instructions that make a vertex are
//! numbered steps: FROM an image, RUN, COPY, ADD and WORKDIR; ENV, LABEL,
//! ARG, USER, EXPOSE, CMD, … only change the config and print nothing, and
//! FROM a stage or `scratch` is no step either. The stage part is the
//! `AS` name, `stage-N` for an unnamed stage of a multi-stage file, and
//! nothing in a single-stage file; the index is right-aligned to the width
//! of the total (`[stage-2  2/11]`).

use crate::plan::{Base, Plan, Stage};

/// True for the instruction keywords (any case) that are steps.
pub fn is_step(keyword: &str) -> bool {
    ["run", "copy", "add", "workdir"]
        .iter()
        .any(|k| keyword.eq_ignore_ascii_case(k))
}

/// Numbers one stage's steps: `next` gives `[build 2/4] RUN make`.
#[derive(Debug, Clone)]
pub struct StepNames {
    prefix: String,
    index: usize,
    total: usize,
}

impl StepNames {
    /// The names for `stage` of `plan`, with `extra` more steps (ONBUILD
    /// triggers of its base); `platform` prefixes the stage when several
    /// platforms are built (`[linux/arm64 build 2/4]`).
    pub fn new(plan: &Plan, stage: &Stage, extra: usize, platform: Option<&str>) -> Self {
        let from = usize::from(matches!(stage.base, Base::Image(_)));
        let total = from
            + extra
            + stage
                .steps
                .iter()
                .filter(|s| is_step(&s.ast.keyword))
                .count();
        let name = match &stage.name {
            Some(n) => Some(n.clone()),
            None if plan.stages.len() > 1 => Some(format!("stage-{}", stage.index)),
            None => None,
        };
        let prefix = platform
            .into_iter()
            .map(str::to_string)
            .chain(name)
            .map(|p| format!("{p} "))
            .collect();
        StepNames {
            prefix,
            index: 0,
            total,
        }
    }

    /// Skips the FROM step (its number is taken even when another call
    /// printed it).
    pub fn skip_from(&mut self, stage: &Stage) {
        if matches!(stage.base, Base::Image(_)) {
            self.index = 1;
        }
    }

    /// The next step's name, for the instruction text `text`.
    pub fn next(&mut self, text: &str) -> String {
        self.index += 1;
        label(&self.prefix, self.index, self.total, text)
    }
}

fn label(prefix: &str, index: usize, total: usize, text: &str) -> String {
    let width = total.max(1).to_string().len();
    format!("[{prefix}{index:>width$}/{total}] {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_pad_like_buildkit() {
        assert_eq!(
            label("stage-2 ", 2, 11, "RUN true"),
            "[stage-2  2/11] RUN true"
        );
        assert_eq!(label("", 1, 2, "FROM x"), "[1/2] FROM x");
        assert!(is_step("WORKDIR") && is_step("add") && !is_step("ENV"));
    }
}
