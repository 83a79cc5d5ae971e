//! The planner: a parsed Dockerfile and the user's options checked and
//! turned into a [`Plan`] (global ARGs, FROM bases, typed steps, stage
//! references, the target and the stage DAG in parallel waves).

use super::instructions::{self, Command};
use super::source::SourceText;
use super::{
    args, named, stages, Base, Budget, Plan, PlanOptions, Platform, SourceRef, Stage, Step, VarList,
};
use crate::diag::Diagnostic;
use crate::dockerfile::shell::Lexer;
use crate::dockerfile::{Dockerfile, Instruction};
use std::collections::BTreeSet;

/// Checks a parsed Dockerfile and turns it into a [`Plan`].
pub fn plan(df: &Dockerfile, opts: &PlanOptions) -> Result<Plan, Diagnostic> {
    let file = if opts.file.is_empty() {
        "Dockerfile"
    } else {
        opts.file.as_str()
    };
    let labs = df
        .directives
        .syntax
        .as_deref()
        .is_some_and(|s| s.contains("labs"));
    let src = SourceText::new(&opts.source, file)
        .with_labs(labs)
        .with_frontend(df.directives.syntax.is_some());
    let lexer = Lexer::new(df.directives.escape);
    let host = Platform::host();
    let platform = opts.platform.clone().unwrap_or_else(|| host.clone());
    let build_platform = opts.build_platform.clone().unwrap_or(host);
    // Every expansion result counts against the build's budget (issue 17).
    let budget = Budget::new(0);
    let expand = |word: &str, vars: &VarList| -> Result<String, String> {
        let value = lexer.process_word(word, vars).map_err(|e| e.to_string())?;
        budget.charge(value.len())?;
        Ok(value)
    };

    // Split the file into global ARGs and stages.
    let mut meta: Vec<&Instruction> = Vec::new();
    let mut groups: Vec<(&Instruction, Vec<&Instruction>)> = Vec::new();
    for inst in &df.instructions {
        let kw = inst.keyword.to_ascii_lowercase();
        if kw == "from" {
            groups.push((inst, Vec::new()));
        } else if let Some((_, body)) = groups.last_mut() {
            body.push(inst);
        } else if kw == "arg" {
            meta.push(inst);
        } else {
            return Err(src
                .at_keyword(inst, "no build stage in current context")
                .help("only ARG may come before the first FROM"));
        }
    }
    if groups.is_empty() {
        return Err(
            Diagnostic::whole_file("the Dockerfile contains no stages to build")
                .in_file(file)
                .help("add a FROM instruction"),
        );
    }

    // Stage headers first: names are needed for --target (TARGETSTAGE).
    let mut froms = Vec::new();
    for (inst, _) in &groups {
        froms.push(instructions::parse_from(&src, inst)?);
    }
    let names: Vec<Option<String>> = froms.iter().map(|f| f.name.clone()).collect();
    let stage_names = stages::StageNames::new(&names);
    let from_insts: Vec<&Instruction> = groups.iter().map(|(inst, _)| *inst).collect();
    let name_warnings = stage_names.duplicate_warnings(&from_insts);
    let target = match &opts.target {
        None => groups.len() - 1,
        Some(t) => match stage_names.find(t) {
            Some(i) => i,
            None => {
                let list: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
                let help = if list.is_empty() {
                    "the Dockerfile has no named stages (name one with FROM image AS name)"
                        .to_string()
                } else {
                    format!("available stages: {}", list.join(", "))
                };
                return Err(Diagnostic::whole_file(format!(
                    "target stage {t:?} could not be found"
                ))
                .in_file(file)
                .help(help));
            }
        },
    };
    let target_stage = names[target].clone().unwrap_or_else(|| "default".into());

    // Global ARGs: predefined, then each global ARG (build arg over default).
    let mut global_args = VarList::from_pairs(&args::predefined_args(
        &build_platform,
        &platform,
        &target_stage,
        &opts.build_args,
    ));
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for inst in &meta {
        let Command::Arg(decls) = instructions::parse_command(&src, inst)? else {
            return Err(src.at_keyword(inst, "only ARG may come before the first FROM"));
        };
        for d in decls {
            declared.insert(d.name.clone());
            let value = match (opts.build_args.get(&d.name), &d.default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(def)) => {
                    Some(expand(def, &global_args).map_err(|e| src.at_text(inst, def, 0, e))?)
                }
                (None, None) => None,
            };
            if let Some(v) = value {
                global_args.set(&d.name, &v);
            }
        }
    }

    // Stages: base, platform, typed steps and their sources.
    let mut stages: Vec<Stage> = Vec::new();
    for (i, ((inst, body), from)) in groups.iter().zip(&froms).enumerate() {
        let image =
            expand(&from.image, &global_args).map_err(|e| src.at_text(inst, &from.image, 0, e))?;
        if image.is_empty() {
            return Err(src
                .at_text(
                    inst,
                    &from.image,
                    0,
                    format!("base name ({}) should not be blank", from.image),
                )
                .help("declare the ARG before the first FROM, or give it a default"));
        }
        // A named context with the stage's name replaces the stage (its
        // instructions are not run), as BuildKit's dispatch does.
        let replaced = from
            .name
            .as_deref()
            .and_then(|n| named::lookup(&opts.named_contexts, n));
        let base = if let Some(r) = &replaced {
            Base::Image(r.clone())
        } else if image == "scratch" {
            Base::Scratch
        } else {
            match stage_names.base_of(i, &image) {
                Some(j) => Base::Stage(j),
                None => {
                    stages::check_base_reference(&src, inst, &from.image, &image, &stage_names, i)?;
                    Base::Image(named::resolve(&opts.named_contexts, &image))
                }
            }
        };
        let (stage_platform, explicit) = match &from.platform {
            Some(raw) => {
                let index = inst
                    .flags
                    .iter()
                    .position(|f| f.starts_with("--platform"))
                    .unwrap_or(0);
                let value =
                    expand(raw, &global_args).map_err(|e| src.at_flag(inst, index, None, e))?;
                if value.is_empty() {
                    return Err(src.at_flag(
                        inst,
                        index,
                        None,
                        format!("empty platform value from expression {raw}"),
                    ));
                }
                // Caret under the value, after `--platform=`.
                let part = Some((11, raw.chars().count()));
                let p = Platform::parse(&value).map_err(|e| {
                    src.at_flag(inst, index, part, e.to_string())
                        .help("platforms look like linux/amd64, linux/arm64 or linux/arm/v7")
                })?;
                (p, true)
            }
            None => match &base {
                Base::Stage(j) => (stages[*j].platform.clone(), false),
                _ => (platform.clone(), false),
            },
        };
        let mut steps = Vec::new();
        for inst in body {
            let command = instructions::parse_command(&src, inst)?;
            let sources = stages::step_sources(&src, inst, &command, &stage_names, names.len())?
                .into_iter()
                .map(|s| match s {
                    SourceRef::Image(r) => {
                        SourceRef::Image(named::resolve(&opts.named_contexts, &r))
                    }
                    other => other,
                })
                .collect();
            if replaced.is_some() {
                continue;
            }
            steps.push(Step {
                ast: (*inst).clone(),
                command,
                sources,
            });
        }
        let mut deps: BTreeSet<usize> = BTreeSet::new();
        if let Base::Stage(j) = base {
            deps.insert(j);
        }
        for s in steps.iter().flat_map(|s| &s.sources) {
            if let SourceRef::Stage(j) = s {
                deps.insert(*j);
            }
        }
        stages.push(Stage {
            index: i,
            name: from.name.clone(),
            from: (*inst).clone(),
            base,
            platform: stage_platform,
            platform_explicit: explicit,
            steps,
            deps: deps.into_iter().collect(),
            needed: false,
        });
    }

    check_cycles(&src, &stages)?;

    // Mark what the target needs; later-stage references are errors there.
    let mut stack = vec![target];
    while let Some(i) = stack.pop() {
        if stages[i].needed {
            continue;
        }
        stages[i].needed = true;
        stack.extend(stages[i].deps.iter().copied());
    }
    for st in stages.iter().filter(|s| s.needed) {
        for step in &st.steps {
            for s in &step.sources {
                if let SourceRef::Stage(j) = *s {
                    if j > st.index {
                        let what = if matches!(step.command, Command::Run(_)) {
                            "mount from"
                        } else {
                            "copy from"
                        };
                        let needle = stages[j].name.clone().unwrap_or_else(|| j.to_string());
                        return Err(src
                            .at_text(
                                &step.ast,
                                &needle,
                                0,
                                format!(
                                    "cannot {what} stage {:?}, it needs to be defined before current stage {:?}",
                                    needle,
                                    st.display_name()
                                ),
                            )
                            .help("move the stage above this one"));
                    }
                }
            }
        }
    }

    let waves = waves(&stages);

    let mut warnings = df.warnings.clone();
    warnings.extend(name_warnings);
    for st in stages.iter().filter(|s| s.needed) {
        for step in &st.steps {
            if let Command::Arg(decls) = &step.command {
                declared.extend(decls.iter().map(|d| d.name.clone()));
            }
        }
    }
    let unused: Vec<&str> = opts
        .build_args
        .keys()
        .filter(|k| {
            !declared.contains(*k)
                && !args::is_predefined_arg(k)
                && !args::is_proxy_arg(k)
                && !args::is_frontend_arg(k)
        })
        .map(String::as_str)
        .collect();
    if !unused.is_empty() {
        // Docker's words, without its "[Warning]" (the caller prints "warning: ").
        warnings.push(format!(
            "One or more build-args [{}] were not consumed",
            unused.join(" ")
        ));
        // A typo of a declared ARG is the usual cause: name the closest one.
        for u in &unused {
            let best = declared
                .iter()
                .filter_map(|d| Some((crate::dockerfile::edit_distance_within(u, d, 2)?, d)))
                .filter(|&(n, d)| n < d.chars().count().max(2))
                .min_by_key(|&(n, _)| n);
            if let Some((_, d)) = best {
                warnings.push(format!("build-arg {u} is not declared (did you mean {d}?)"));
            }
        }
    }

    Ok(Plan {
        stages,
        target,
        waves,
        global_args,
        build_args: opts.build_args.clone(),
        platform,
        named_contexts: opts.named_contexts.clone(),
        escape: df.directives.escape,
        warnings,
        source: src,
        planning_bytes: budget.used(),
        budget,
    })
}

/// Rejects stages that (transitively) depend on themselves.
fn check_cycles(src: &SourceText, stages: &[Stage]) -> Result<(), Diagnostic> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    // A depth-first search with its own stack (a chain of 10,000 stages must not overflow
    // the thread's): each entry is a stage and how many of its deps are visited. Returns the
    // stage with a dep on the current path.
    fn visit(root: usize, stages: &[Stage], state: &mut [u8]) -> Option<usize> {
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(top) = stack.last_mut() {
            let (i, next) = *top;
            match stages[i].deps.get(next) {
                Some(&d) => {
                    top.1 += 1;
                    match state[d] {
                        1 => return Some(i),
                        0 => {
                            state[d] = 1;
                            stack.push((d, 0));
                        }
                        _ => {}
                    }
                }
                None => {
                    state[i] = 2;
                    stack.pop();
                }
            }
        }
        None
    }
    let mut state = vec![0u8; stages.len()];
    for i in 0..stages.len() {
        if state[i] != 0 {
            continue;
        }
        if let Some(at) = visit(i, stages, &mut state) {
            let st = &stages[at];
            // Point at the instruction that closes the loop.
            let step = st.steps.iter().find(|s| {
                s.sources
                    .iter()
                    .any(|r| matches!(r, SourceRef::Stage(j) if state[*j] == 1))
            });
            let msg = format!(
                "circular dependency detected on stage: {}",
                stages[i].display_name()
            );
            return Err(match step {
                Some(s) => src.at_keyword(&s.ast, msg),
                None => src.at_keyword(&st.from, msg),
            }
            .help("a stage cannot copy or mount from itself or from a stage that depends on it"));
        }
    }
    Ok(())
}

/// Groups needed stages by depth: wave n holds stages whose deps all lie in
/// waves before n.
fn waves(stages: &[Stage]) -> Vec<Vec<usize>> {
    let mut level = vec![0usize; stages.len()];
    let mut out: Vec<Vec<usize>> = Vec::new();
    // Deps of needed stages are earlier in the file (checked above), so one
    // pass in file order sees every dep's level first.
    for st in stages.iter().filter(|s| s.needed) {
        let l = st.deps.iter().map(|&d| level[d] + 1).max().unwrap_or(0);
        level[st.index] = l;
        if out.len() <= l {
            out.resize(l + 1, Vec::new());
        }
        out[l].push(st.index);
    }
    out
}
