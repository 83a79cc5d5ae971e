//! The paths of the build context a build reads, as BuildKit's Dockerfile
//! frontend collects them (`ctxPaths` → `llb.FollowPaths`): every source of
//! a COPY/ADD without `--from` and every `source` of a bind or tmpfs RUN
//! mount without `from`, expanded, in the stages the target needs. Docker
//! 26.1's client sends only those paths (and their parents) of the
//! context, so a directory nothing of the build reads below is not there:
//! `COPY exists/*.nomatch /dst/` fails `lstat /exists` unless another
//! source of the build reaches into `exists`.

use super::{Base, Command, MountType, Plan, StageEvaluator, StageState};

/// The context paths the build reads (absolute, cleaned), or `None` when
/// it reads the whole context: some path is `/` (`COPY . /app`, a bind
/// mount without `source`), or a source's expansion may depend on a base
/// image's ENV, unknown before the image is pulled.
pub fn context_paths(plan: &Plan) -> Option<Vec<String>> {
    let mut states: Vec<Option<StageState>> = vec![None; plan.stages.len()];
    // A pass of its own: the build's evaluation counts its expansions afresh.
    let budget = super::Budget::new(plan.planning_bytes);
    let mut out = Vec::new();
    for stage in plan.stages.iter().filter(|s| s.needed) {
        let (base, from_image) = match &stage.base {
            Base::Stage(i) => (states.get(*i).cloned().flatten()?, false),
            Base::Image(_) => (StageState::from_image_env(&[]), true),
            Base::Scratch => (StageState::from_image_env(&[]), false),
        };
        // A stage FROM another inherits its uncertainty through `states`
        // only when that one was certain (else we returned already).
        let mut ev = StageEvaluator::with_base(plan, stage.index, base).with_budget(budget.clone());
        for step in &stage.steps {
            let Ok(e) = ev.next(step) else {
                if budget.exhausted() {
                    // Later words are unknown; the build stops at the same limit.
                    return None;
                }
                continue; // the build reports it at this step
            };
            let raw_has_var = step.ast.original.contains('$');
            match &e.command {
                Command::Copy(c) if c.from.is_none() => {
                    if from_image && raw_has_var {
                        return None;
                    }
                    out.extend(
                        c.sources
                            .iter()
                            .filter(|s| !s.starts_with("http://") && !s.starts_with("https://"))
                            .map(|s| clean(s)),
                    );
                }
                Command::Run(_) => {
                    for m in &e.mounts {
                        if m.from.is_none() && matches!(m.kind, MountType::Bind | MountType::Tmpfs)
                        {
                            if from_image && raw_has_var {
                                return None;
                            }
                            out.push(clean(m.source.as_deref().unwrap_or("/")));
                        }
                    }
                }
                _ => {}
            }
        }
        states[stage.index] = Some(ev.state().clone());
    }
    if out.iter().any(|p| p == "/") {
        return None;
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// Go's `path.Join("/", p)`.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dockerfile: &str) -> Option<Vec<String>> {
        let df = crate::dockerfile::parse(dockerfile).unwrap();
        let opts = crate::plan::PlanOptions {
            source: dockerfile.to_string(),
            ..Default::default()
        };
        context_paths(&crate::plan::plan(&df, &opts).unwrap())
    }

    #[test]
    fn collects_the_sources_of_needed_stages() {
        assert_eq!(
            paths(
                "FROM scratch AS unused\nCOPY other /o\n\
                 FROM scratch AS a\nARG D=exists\nCOPY $D/*.x ./b/../c /x/\n\
                 FROM a\nADD https://example.com/f /f\nCOPY --from=a /x /y\n\
                 RUN --mount=type=bind,source=m,target=/m --mount=type=cache,target=/c true\n"
            ),
            Some(vec!["/c".into(), "/exists/*.x".into(), "/m".into()])
        );
    }

    #[test]
    fn whole_context_cases() {
        assert_eq!(paths("FROM scratch\nCOPY . /app\n"), None);
        assert_eq!(
            paths("FROM scratch\nCOPY a /a\nRUN --mount=type=bind,target=/m true\n"),
            None
        );
        assert_eq!(
            paths("FROM scratch\nRUN --mount=type=tmpfs,target=/t true\n"),
            None
        );
        // A variable that a base image's ENV could set.
        assert_eq!(paths("FROM busybox\nCOPY $X/a /a\n"), None);
        assert_eq!(paths("FROM busybox\nCOPY a /a\n"), Some(vec!["/a".into()]));
    }
}
