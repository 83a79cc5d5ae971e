//! Dispatch from an AST instruction to its typed [`Command`], and the
//! instructions simple enough to check in place (ENV, LABEL, ARG, WORKDIR,
//! USER, EXPOSE, VOLUME, SHELL, ONBUILD, ...).

use super::checks::{check_port, check_signal};
use super::copy::parse_copy;
use super::healthcheck::parse_healthcheck;
use super::run::parse_run;
use super::{flags, ArgDecl, Command, CommandLine, KeyValue};
use crate::diag::Diagnostic;
use crate::dockerfile::Instruction;
use crate::plan::source::SourceText;

/// True when `name` can be referenced as `$name`.
pub(crate) fn valid_arg_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Parses any instruction that may appear inside a stage (not FROM).
pub fn parse_command(src: &SourceText, inst: &Instruction) -> Result<Command, Diagnostic> {
    let kw = inst.keyword.to_ascii_uppercase();
    let need = |ok: bool, msg: String| {
        if ok {
            Ok(())
        } else {
            Err(src.at_keyword(inst, msg))
        }
    };
    let no_flags = |src: &SourceText| flags(src, inst, &[]).map(|_| ());
    let args = &inst.args;
    match inst.keyword.to_ascii_lowercase().as_str() {
        "run" => parse_run(src, inst),
        "cmd" | "entrypoint" => {
            no_flags(src)?;
            let line = command_line(inst, args);
            Ok(if kw == "CMD" {
                Command::Cmd(line)
            } else {
                Command::Entrypoint(line)
            })
        }
        "healthcheck" => parse_healthcheck(src, inst),
        "copy" | "add" => parse_copy(src, inst, kw == "ADD"),
        "env" | "label" => {
            no_flags(src)?;
            need(
                !args.is_empty(),
                format!("{kw} requires at least one argument"),
            )?;
            need(
                args.len() % 3 == 0,
                format!("Bad input to {kw}, too many arguments"),
            )?;
            let mut pairs = Vec::new();
            for t in args.chunks(3) {
                need(!t[0].is_empty(), format!("{kw} names can not be blank"))?;
                pairs.push(KeyValue {
                    key: t[0].clone(),
                    value: t[1].clone(),
                });
            }
            Ok(if kw == "ENV" {
                Command::Env(pairs)
            } else {
                Command::Label(pairs)
            })
        }
        "arg" => {
            no_flags(src)?;
            parse_arg(src, inst).map(Command::Arg)
        }
        "workdir" | "user" | "stopsignal" | "maintainer" => {
            no_flags(src)?;
            need(
                args.len() == 1,
                format!("{kw} requires exactly one argument"),
            )?;
            let v = args[0].clone();
            Ok(match kw.as_str() {
                "WORKDIR" => Command::Workdir(v),
                "USER" => Command::User(v),
                "MAINTAINER" => Command::Maintainer(v),
                _ => {
                    if !v.contains('$') {
                        check_signal(&v).map_err(|e| src.at_text(inst, &v, 0, e))?;
                    }
                    Command::StopSignal(v)
                }
            })
        }
        "expose" => {
            no_flags(src)?;
            need(
                !args.is_empty(),
                "EXPOSE requires at least one argument".into(),
            )?;
            for p in args.iter().filter(|p| !p.contains('$')) {
                check_port(p).map_err(|e| src.at_text(inst, p, 0, e))?;
            }
            Ok(Command::Expose(args.clone()))
        }
        "volume" => {
            no_flags(src)?;
            need(
                !args.is_empty(),
                "VOLUME requires at least one argument".into(),
            )?;
            let vols: Vec<String> = args.iter().map(|v| v.trim().to_string()).collect();
            need(
                vols.iter().all(|v| !v.is_empty()),
                "VOLUME specified can not be an empty string".into(),
            )?;
            Ok(Command::Volume(vols))
        }
        "shell" => {
            no_flags(src)?;
            need(
                !args.is_empty(),
                "SHELL requires at least one argument".into(),
            )?;
            if !inst.json {
                return Err(src
                    .at_keyword(inst, "SHELL requires the arguments to be in JSON form")
                    .help(r#"write it as a JSON array, e.g. SHELL ["/bin/bash", "-c"]"#));
            }
            Ok(Command::Shell(args.clone()))
        }
        "onbuild" => {
            no_flags(src)?;
            let trigger = match &inst.child {
                Some(c) => c.keyword.to_ascii_uppercase(),
                None => args
                    .first()
                    .map(|a| a.to_ascii_uppercase())
                    .unwrap_or_default(),
            };
            need(
                !trigger.is_empty(),
                "ONBUILD requires at least one argument".into(),
            )?;
            match trigger.as_str() {
                "ONBUILD" => {
                    return Err(src
                        .at_keyword(inst, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"));
                }
                "FROM" | "MAINTAINER" => {
                    return Err(src.at_keyword(
                        inst,
                        format!("{trigger} isn't allowed as an ONBUILD trigger"),
                    ));
                }
                _ => {}
            }
            Ok(Command::Onbuild(onbuild_expression(inst)))
        }
        "from" => Err(src.at_keyword(inst, "FROM is not allowed here")),
        other => Err(src.at_keyword(
            inst,
            format!("unknown instruction: {}", other.to_ascii_uppercase()),
        )),
    }
}

/// The trigger text: the original instruction without `ONBUILD`, with any
/// heredoc bodies appended so the trigger can be re-parsed later.
fn onbuild_expression(inst: &Instruction) -> String {
    let orig = inst.original.trim_start();
    let rest = if orig.len() >= 7 && orig[..7].eq_ignore_ascii_case("onbuild") {
        &orig[7..]
    } else {
        orig
    };
    let mut out = rest.trim_start().to_string();
    let heredocs = inst.child.as_ref().map_or(&inst.heredocs, |c| {
        if c.heredocs.is_empty() {
            &inst.heredocs
        } else {
            &c.heredocs
        }
    });
    for h in heredocs {
        out.push('\n');
        out.push_str(&h.content);
        out.push_str(&h.name);
    }
    out
}

pub(super) fn command_line(inst: &Instruction, args: &[String]) -> CommandLine {
    CommandLine {
        args: args.to_vec(),
        exec_form: inst.json,
        heredocs: inst.heredocs.clone(),
    }
}

fn parse_arg(src: &SourceText, inst: &Instruction) -> Result<Vec<ArgDecl>, Diagnostic> {
    if inst.args.is_empty() {
        return Err(src.at_keyword(inst, "ARG requires at least one argument"));
    }
    let mut out = Vec::new();
    for (i, a) in inst.args.iter().enumerate() {
        let (name, default) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        if name.is_empty() {
            return Err(src.at_text(inst, a, 0, "ARG names can not be blank"));
        }
        if !valid_arg_name(&name) {
            let skip = inst.args[..i]
                .iter()
                .filter(|x| x.contains(name.as_str()))
                .count();
            return Err(src
                .at_text(inst, &name, skip, format!("invalid ARG name {name:?}"))
                .help(
                    "ARG names start with a letter or '_' and contain only letters, digits and '_'",
                ));
        }
        out.push(ArgDecl { name, default });
    }
    Ok(out)
}
