//! The checks, each as BuildKit's `dockerfile2llb` / `instructions` runs it
//! (see `frontend/dockerfile/dockerfile2llb/validations.go` and
//! `instructions/parse.go`), with `linter/ruleset.go`'s texts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use super::{Finding, Rule};
use crate::dockerfile::{Dockerfile, Instruction};

use super::ruleset::*;

/// The predefined platform ARGs (`BUILDPLATFORM`, `TARGETARCH`, …) a FROM
/// may use undeclared.
const PREDEFINED: [&str; 10] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
    "BUILDKIT_SYNTAX",
];

const RESERVED_STAGE_NAMES: [&str; 2] = ["context", "scratch"];

fn finding(rule: Rule, inst: &Instruction, message: String) -> Finding {
    Finding {
        rule,
        message,
        start_line: inst.span.line,
        end_line: inst.span.end_line.max(inst.span.line),
    }
}

/// The instruction's keyword as written (`FROM`, `from`, `From`).
fn written_keyword(inst: &Instruction) -> &str {
    let o = inst.original.trim_start();
    let end = o.find(char::is_whitespace).unwrap_or(o.len());
    &o[..end]
}

fn self_consistent(s: &str) -> bool {
    s == s.to_lowercase() || s == s.to_uppercase()
}

/// Every rule's findings, unsorted.
pub fn all(df: &Dockerfile, text: &str, build_args: &BTreeMap<String, String>) -> Vec<Finding> {
    let mut out = Vec::new();
    casing(df, &mut out);
    definition_descriptions(df, text, &mut out);
    empty_continuations(df, text, &mut out);
    invalid_default_args(df, &mut out);
    let mut global_args: BTreeSet<String> = build_args.keys().cloned().collect();
    let mut stage_names: BTreeSet<String> = BTreeSet::new();
    let mut in_stage = false;
    // Per stage: CMD/ENTRYPOINT/HEALTHCHECK seen, absolute WORKDIR set, SHELL set.
    let mut used_once: BTreeMap<String, usize> = BTreeMap::new();
    let mut workdir_set = false;
    let mut shell_set = false;
    for (i, inst) in df.instructions.iter().enumerate() {
        let kw = written_keyword(inst);
        match inst.keyword.as_str() {
            "from" => {
                in_stage = true;
                used_once.clear();
                workdir_set = false;
                shell_set = false;
                from_rules(inst, kw, &global_args, &mut stage_names, &mut out);
            }
            "arg" => {
                for a in &inst.args {
                    let name = a.split_once('=').map_or(a.as_str(), |(k, _)| k);
                    if !in_stage {
                        global_args.insert(name.to_string());
                    }
                    secret_key(inst, "ARG", name, &mut out);
                }
            }
            "env" | "label" => {
                let upper = inst.keyword.to_uppercase();
                let legacy = inst
                    .args
                    .chunks(3)
                    .any(|t| t.get(2).is_some_and(|s| s.is_empty()));
                if legacy {
                    out.push(finding(LEGACY_KEY_VALUE, inst, format!(
                        "\"{upper} key=value\" should be used instead of legacy \"{upper} key value\" format"
                    )));
                }
                if inst.keyword == "env" {
                    for t in inst.args.chunks(3) {
                        secret_key(inst, "ENV", &t[0], &mut out);
                    }
                }
            }
            "maintainer" => out.push(finding(
                MAINTAINER,
                inst,
                "Maintainer instruction is deprecated in favor of using label".to_string(),
            )),
            "workdir" => {
                let path = inst.args.first().map(String::as_str).unwrap_or_default();
                if !workdir_set && !path.starts_with('/') && !path.starts_with('$') {
                    out.push(finding(WORKDIR_RELATIVE, inst, format!(
                        "Relative workdir {path:?} can have unexpected results if the base image changes"
                    )));
                }
                workdir_set = true;
            }
            "shell" => shell_set = true,
            "cmd" | "entrypoint" | "healthcheck" => {
                // The earlier one is the one that is ignored: it is reported.
                if let Some(prev) = used_once.insert(inst.keyword.clone(), i) {
                    let p = &df.instructions[prev];
                    out.push(finding(MULTIPLE_INSTRUCTIONS, p, format!(
                        "Multiple {kw} instructions should not be used in the same stage because only the last one will be used"
                    )));
                }
                if inst.keyword != "healthcheck" && !inst.json && !shell_set {
                    out.push(finding(JSON_ARGS, inst, format!(
                        "JSON arguments recommended for {kw} to prevent unintended behavior related to OS signals"
                    )));
                }
            }
            "expose" => {
                for p in &inst.args {
                    if expose_maps_host(p) {
                        out.push(finding(EXPOSE_INVALID_FORMAT, inst, format!(
                            "EXPOSE instruction should not define an IP address or host-port mapping, found '{p}'"
                        )));
                    }
                    if let Some((_, proto)) = p.split_once('/') {
                        if proto != proto.to_lowercase() {
                            out.push(finding(
                                EXPOSE_PROTO_CASING,
                                inst,
                                format!(
                                "Defined protocol '{p}' in EXPOSE instruction should be lowercase"
                            ),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn from_rules(
    inst: &Instruction,
    kw: &str,
    global_args: &BTreeSet<String>,
    stage_names: &mut BTreeSet<String>,
    out: &mut Vec<Finding>,
) {
    let args = &inst.args;
    let name = (args.len() >= 3).then(|| args[2].as_str());
    if let Some(name) = name {
        let as_word = args[1].as_str();
        let from_lower = kw == kw.to_lowercase();
        let from_upper = kw == kw.to_uppercase();
        let mismatch = (from_lower && as_word != as_word.to_lowercase())
            || (!from_lower && from_upper && as_word != as_word.to_uppercase());
        if mismatch {
            out.push(finding(
                FROM_AS_CASING,
                inst,
                format!("'{as_word}' and '{kw}' keywords' casing do not match"),
            ));
        }
        if name != name.to_lowercase() {
            out.push(finding(
                STAGE_NAME_CASING,
                inst,
                format!("Stage name '{name}' should be lowercase"),
            ));
        }
        let lower = name.to_lowercase();
        if RESERVED_STAGE_NAMES.contains(&lower.as_str()) {
            out.push(finding(
                RESERVED_STAGE_NAME,
                inst,
                format!("Stage name should not use the same name as reserved stage {lower:?}"),
            ));
        }
        if !stage_names.insert(lower.clone()) {
            out.push(finding(
                DUPLICATE_STAGE_NAME,
                inst,
                format!("Duplicate stage name {lower:?}, stage names should be unique"),
            ));
        }
    }
    let platform = inst
        .flags
        .iter()
        .find_map(|f| f.strip_prefix("--platform="));
    let mut words: Vec<&str> = args.first().map(String::as_str).into_iter().collect();
    words.extend(platform);
    for w in words {
        for var in variables(w) {
            if !global_args.contains(&var) && !PREDEFINED.contains(&var.as_str()) {
                let suggest = global_args
                    .iter()
                    .chain(
                        PREDEFINED
                            .iter()
                            .map(|s| s.to_string())
                            .collect::<Vec<_>>()
                            .iter(),
                    )
                    .filter_map(|k| Some((crate::dockerfile::edit_distance_within(k, &var, 2)?, k)))
                    .min_by_key(|&(d, _)| d)
                    .map(|(_, k)| k)
                    .cloned();
                let mut msg = format!("FROM argument '{var}' is not declared");
                if let Some(s) = suggest {
                    msg.push_str(&format!(" (did you mean {s}?)"));
                }
                out.push(finding(UNDEFINED_ARG_IN_FROM, inst, msg));
            }
        }
    }
    if let Some(p) = platform {
        if p == "$TARGETPLATFORM" || p == "${TARGETPLATFORM}" {
            out.push(finding(REDUNDANT_TARGET_PLATFORM, inst, format!(
                "Setting platform to predefined {p} in FROM is redundant as this is the default behavior"
            )));
        } else if !p.contains('$') {
            if let Ok(parsed) = crate::plan::Platform::parse(p) {
                let stage = name.unwrap_or_default();
                if !stage.contains(parsed.os.as_str())
                    && !stage.contains(parsed.architecture.as_str())
                {
                    out.push(finding(
                        FROM_PLATFORM_CONST,
                        inst,
                        format!("FROM --platform flag should not use constant value {p:?}"),
                    ));
                }
            }
        }
    }
}

/// `$NAME` / `${NAME…}` names in a word.
// Compiled once: a Dockerfile may hold 100,000 instructions (issue 17's bound is 200,000),
// and compiling a regex per instruction made linting the slowest step of a build.
static VARIABLE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
        .expect("static regex")
});
static SECRET_DENY: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)",
    )
    .expect("static regex")
});
static SECRET_ALLOW: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i)(?:_|^)(?:public|file|version)(?:_|$)").expect("static regex")
});

fn variables(w: &str) -> Vec<String> {
    VARIABLE
        .captures_iter(w)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_string())
        .collect()
}

/// BuildKit's `validateNoSecretKey`.
fn secret_key(inst: &Instruction, what: &str, key: &str, out: &mut Vec<Finding>) {
    if SECRET_DENY.is_match(key) && !SECRET_ALLOW.is_match(key) {
        out.push(finding(
            SECRETS_IN_ARG_OR_ENV,
            inst,
            format!("Do not use ARG or ENV instructions for sensitive data ({what} {key:?})"),
        ));
    }
}

/// `validateCommandCasing`: the majority casing of keywords, and every
/// keyword not in it.
fn casing(df: &Dockerfile, out: &mut Vec<Finding>) {
    let (mut lower, mut upper) = (0, 0);
    for inst in &df.instructions {
        let kw = written_keyword(inst);
        if self_consistent(kw) {
            if kw == kw.to_lowercase() {
                lower += 1;
            } else {
                upper += 1;
            }
        }
    }
    let majority_lower = lower > upper;
    for inst in &df.instructions {
        let kw = written_keyword(inst);
        let want = if majority_lower && kw != kw.to_lowercase() {
            "lowercase"
        } else if !majority_lower && kw != kw.to_uppercase() {
            "uppercase"
        } else {
            continue;
        };
        out.push(finding(
            CONSISTENT_CASING,
            inst,
            format!("Command '{kw}' should match the case of the command majority ({want})"),
        ));
    }
}

/// Instructions with an empty line inside their continuation.
fn empty_continuations(df: &Dockerfile, text: &str, out: &mut Vec<Finding>) {
    let esc = df.directives.escape;
    let lines: Vec<&str> = text.lines().collect();
    for inst in &df.instructions {
        if !inst.heredocs.is_empty() {
            continue;
        }
        let (a, b) = (inst.span.line, inst.span.end_line.max(inst.span.line));
        let body = &lines[a.saturating_sub(1).min(lines.len())..b.min(lines.len())];
        let empty_inside = body
            .windows(2)
            .any(|w| w[0].trim_end().ends_with(esc) && w[1].trim().is_empty());
        if empty_inside {
            out.push(finding(
                NO_EMPTY_CONTINUATION,
                inst,
                "Empty continuation line".to_string(),
            ));
        }
    }
}

/// `validateBaseImagesWithDefaultArgs`: each FROM base expanded with the
/// global ARGs' defaults only (no `--build-arg`), which must give a valid
/// image name. Only bases that use a variable are checked (a constant one
/// that is invalid fails the build anyway).
fn invalid_default_args(df: &Dockerfile, out: &mut Vec<Finding>) {
    let lexer = crate::dockerfile::shell::Lexer::new(df.directives.escape);
    let host = crate::plan::Platform::host();
    let mut vars = crate::plan::VarList::from_pairs(&crate::plan::args::predefined_args(
        &host,
        &host,
        "default",
        &BTreeMap::new(),
    ));
    let mut in_stage = false;
    for inst in &df.instructions {
        match inst.keyword.as_str() {
            "arg" if !in_stage => {
                for a in &inst.args {
                    if let Some((k, raw)) = a.split_once('=') {
                        match lexer.process_word(raw, &vars) {
                            Ok(v) => vars.set(k, &v),
                            Err(_) => return,
                        }
                    }
                }
            }
            "from" => {
                in_stage = true;
                let Some(base) = inst.args.first().filter(|b| b.contains('$')) else {
                    continue;
                };
                let Ok(v) = lexer.process_word(base, &vars) else {
                    return;
                };
                if crate::registry::Reference::parse(&v).is_err() {
                    out.push(finding(
                        INVALID_DEFAULT_ARG_IN_FROM,
                        inst,
                        format!("Default value for ARG {base} results in empty or invalid base image name"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Whether an EXPOSE port spec has an IP or a host port (`[ip:]host:container`,
/// go-connections `nat.SplitParts` as BuildKit's `portSpecs.splitParts`).
fn expose_maps_host(spec: &str) -> bool {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.len() {
        0 | 1 => false,
        2 => !parts[0].is_empty(),
        n => !parts[..n - 2].join(":").is_empty() || !parts[n - 2].is_empty(),
    }
}

/// `validateDefinitionDescription` (experimental): the last comment before a
/// named FROM or an ARG must start with the stage's / an argument's name.
/// The comments are those since the previous instruction, parser directives
/// excepted; an empty `#` starts them afresh (BuildKit's `PrevComment`).
fn definition_descriptions(df: &Dockerfile, text: &str, out: &mut Vec<Finding>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut prev_end = 0usize;
    for inst in &df.instructions {
        let keys: Vec<&str> = match inst.keyword.as_str() {
            "from" if inst.args.len() >= 3 => vec![inst.args[2].as_str()],
            "arg" => inst
                .args
                .iter()
                .map(|a| a.split_once('=').map_or(a.as_str(), |(k, _)| k))
                .collect(),
            _ => Vec::new(),
        };
        let start = inst.span.line.saturating_sub(1).min(lines.len());
        if !keys.is_empty() {
            let mut last: Option<&str> = None;
            for line in &lines[prev_end.min(start)..start] {
                let Some(c) = line.trim_start().strip_prefix('#') else {
                    continue;
                };
                let c = c.trim();
                if c.is_empty() {
                    last = None;
                } else if !DIRECTIVE.is_match(line) || prev_end > 0 {
                    last = Some(c);
                }
            }
            if let Some(c) = last {
                let first = c.split(' ').next().unwrap_or_default();
                if !keys.contains(&first) {
                    let what = if inst.keyword == "from" {
                        "FROM"
                    } else {
                        "ARG"
                    };
                    let example = if keys.len() > 1 { "<arg_key>" } else { keys[0] };
                    out.push(finding(
                        INVALID_DEFINITION_DESCRIPTION,
                        inst,
                        format!("Comment for {what} should follow the format: `# {example} <description>`"),
                    ));
                }
            }
        }
        prev_end = inst.span.end_line.max(inst.span.line);
    }
}

static DIRECTIVE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i)^\s*#\s*(syntax|escape|check)\s*=").expect("static regex")
});
