//! Typed instructions: each AST instruction's flags and arguments checked
//! and sorted into fields. Values that Docker expands later stay raw here
//! (the stage evaluator expands them); everything that can be checked
//! without knowing variable values is checked now.

use super::duration::parse_go_duration;
use super::flags::{FlagError, Flags, Kind};
use super::mount::parse_mount;
use super::source::SourceText;
use crate::diag::Diagnostic;
use crate::dockerfile::{Heredoc, Instruction};

/// A command line of RUN, CMD, ENTRYPOINT or HEALTHCHECK CMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// Exec form: the argv. Shell form: one element, the text for the shell.
    pub args: Vec<String>,
    /// True for exec (JSON) form, where no shell is prepended.
    pub exec_form: bool,
    /// Heredocs the command line refers to (RUN only), unexpanded.
    pub heredocs: Vec<Heredoc>,
}

/// RUN network mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// The builder's default: a network namespace of the RUN's own with
    /// outbound access (BuildKit's `sandbox` mode).
    Default,
    /// No network: loopback only.
    None,
    /// The host network.
    Host,
}

/// RUN security mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// The default capability set.
    Sandbox,
    /// All capabilities (needs the builder to allow it).
    Insecure,
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// `--mount` specs as written (expanded by the evaluator).
    pub mounts: Vec<String>,
    /// `--network`.
    pub network: Network,
    /// `--security`.
    pub security: Security,
    /// The command (never expanded by the builder: the shell does that).
    pub command: CommandLine,
}

/// A file given inline with a heredoc (`COPY <<EOF /dst`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    /// The heredoc name, used as the file name.
    pub name: String,
    /// The content (chomped for `<<-`).
    pub data: String,
    /// What is written instead of `data` for a quoted delimiter in a file that is not UTF-8:
    /// the body's bytes as in the file (BuildKit writes them untouched).
    pub raw: Option<Vec<u8>>,
    /// Whether `$VAR`s in the content are expanded (unquoted delimiter).
    pub expand: bool,
}

/// `COPY` and `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// True for ADD.
    pub add: bool,
    /// `--from` (COPY only): stage name, stage index or image reference.
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod` (octal).
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents` (COPY only).
    pub parents: bool,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
    /// Source paths or URLs.
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub inline: Vec<InlineFile>,
    /// Destination.
    pub dest: String,
    /// `--checksum` (ADD only).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD only; `None` when not given).
    pub keep_git_dir: Option<bool>,
    /// `--unpack` (ADD only; `None` when not given).
    pub unpack: Option<bool>,
}

/// One `key=value` of ENV or LABEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// One name of ARG with its optional default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The variable name.
    pub name: String,
    /// The default value, unexpanded.
    pub default: Option<String>,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable the base image's check.
    None,
    /// `HEALTHCHECK [flags] CMD …`.
    Check {
        /// `["CMD", argv…]` for exec form, `["CMD-SHELL", text]` for shell form.
        test: Vec<String>,
        /// `--interval` in nanoseconds (0 = default).
        interval: i64,
        /// `--timeout` in nanoseconds.
        timeout: i64,
        /// `--start-period` in nanoseconds.
        start_period: i64,
        /// `--start-interval` in nanoseconds.
        start_interval: i64,
        /// `--retries`.
        retries: u32,
    },
}

/// `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The base as written (image reference, stage name or `scratch`).
    pub image: String,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
}

/// A typed instruction inside a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// RUN.
    Run(Run),
    /// CMD.
    Cmd(CommandLine),
    /// ENTRYPOINT.
    Entrypoint(CommandLine),
    /// HEALTHCHECK.
    Healthcheck(Healthcheck),
    /// COPY or ADD.
    Copy(Copy),
    /// ENV.
    Env(Vec<KeyValue>),
    /// LABEL.
    Label(Vec<KeyValue>),
    /// ARG.
    Arg(Vec<ArgDecl>),
    /// WORKDIR.
    Workdir(String),
    /// USER.
    User(String),
    /// EXPOSE.
    Expose(Vec<String>),
    /// VOLUME.
    Volume(Vec<String>),
    /// STOPSIGNAL.
    StopSignal(String),
    /// SHELL (JSON form only).
    Shell(Vec<String>),
    /// ONBUILD: the trigger's source text, stored raw in the image config.
    Onbuild(String),
    /// MAINTAINER (deprecated; becomes the image's author).
    Maintainer(String),
}

impl Command {
    /// The Dockerfile keyword in upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::Run(_) => "RUN",
            Command::Cmd(_) => "CMD",
            Command::Entrypoint(_) => "ENTRYPOINT",
            Command::Healthcheck(_) => "HEALTHCHECK",
            Command::Copy(c) if c.add => "ADD",
            Command::Copy(_) => "COPY",
            Command::Env(_) => "ENV",
            Command::Label(_) => "LABEL",
            Command::Arg(_) => "ARG",
            Command::Workdir(_) => "WORKDIR",
            Command::User(_) => "USER",
            Command::Expose(_) => "EXPOSE",
            Command::Volume(_) => "VOLUME",
            Command::StopSignal(_) => "STOPSIGNAL",
            Command::Shell(_) => "SHELL",
            Command::Onbuild(_) => "ONBUILD",
            Command::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// Turns a flag error into a diagnostic under that flag.
pub(crate) fn flag_diag(src: &SourceText, inst: &Instruction, e: FlagError) -> Diagnostic {
    let d = src.at_flag(inst, e.index, None, e.message);
    match e.help {
        Some(h) => d.help(h),
        None => d,
    }
}

fn flags(
    src: &SourceText,
    inst: &Instruction,
    spec: &[(&'static str, Kind)],
) -> Result<Flags, Diagnostic> {
    Flags::parse(&inst.flags, spec).map_err(|e| flag_diag(src, inst, e))
}

/// Parses a FROM instruction.
pub fn parse_from(src: &SourceText, inst: &Instruction) -> Result<From, Diagnostic> {
    let f = flags(src, inst, &[("platform", Kind::Str)])?;
    let name = match inst.args.as_slice() {
        [_] => None,
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(src
                    .at_text(
                        inst,
                        name,
                        0,
                        format!("invalid name for build stage: {name:?}, name can't start with a number or contain symbols"),
                    )
                    .help("stage names start with a letter and contain only letters, digits, '-', '_' and '.'"));
            }
            Some(lower)
        }
        _ => {
            return Err(src
                .at_keyword(inst, "FROM requires either one or three arguments")
                .help("write FROM image or FROM image AS name"))
        }
    };
    Ok(From {
        image: inst.args[0].clone(),
        name,
        platform: f.string("platform"),
    })
}

fn valid_stage_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_' | '.'))
}

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

fn command_line(inst: &Instruction, args: &[String]) -> CommandLine {
    CommandLine {
        args: args.to_vec(),
        exec_form: inst.json,
        heredocs: inst.heredocs.clone(),
    }
}

fn parse_run(src: &SourceText, inst: &Instruction) -> Result<Command, Diagnostic> {
    let f = flags(
        src,
        inst,
        &[
            ("mount", Kind::Strs),
            ("network", Kind::Str),
            ("security", Kind::Str),
        ],
    )?;
    let network = match f.get("network") {
        None | Some(("default", _)) => Network::Default,
        Some(("none", _)) => Network::None,
        Some(("host", _)) => Network::Host,
        Some((v, i)) => {
            return Err(flag_diag(
                src,
                inst,
                FlagError {
                    index: i,
                    message: format!("invalid network mode {v:?}"),
                    help: Some("--network takes default, none or host".into()),
                },
            ))
        }
    };
    let security = match f.get("security") {
        None | Some(("sandbox", _)) => Security::Sandbox,
        Some(("insecure", _)) => Security::Insecure,
        Some((v, i)) => {
            return Err(flag_diag(
                src,
                inst,
                FlagError {
                    index: i,
                    message: format!("security {v:?} is not valid"),
                    help: Some("--security takes sandbox or insecure".into()),
                },
            ))
        }
    };
    let mut mounts = Vec::new();
    for (spec, index) in f.all("mount") {
        check_mount_now(src, inst, index, &spec)?;
        mounts.push(spec);
    }
    Ok(Command::Run(Run {
        mounts,
        network,
        security,
        command: command_line(inst, &inst.args),
    }))
}

/// Checks a mount spec as far as it can be without variable values.
fn check_mount_now(
    src: &SourceText,
    inst: &Instruction,
    index: usize,
    spec: &str,
) -> Result<(), Diagnostic> {
    let mut defer = |v: &str| {
        Ok(if v.contains('$') {
            None
        } else {
            Some(v.to_string())
        })
    };
    parse_mount(spec, &mut defer)
        .map(|_| ())
        .map_err(|e| mount_diag(src, inst, index, spec, e))
}

/// A mount error under the offending field of the `--mount` flag.
pub(crate) fn mount_diag(
    src: &SourceText,
    inst: &Instruction,
    index: usize,
    spec: &str,
    e: super::mount::MountError,
) -> Diagnostic {
    let prefix = "--mount=".chars().count();
    let part = match e
        .field
        .as_deref()
        .and_then(|f| spec.find(f).map(|b| (b, f)))
    {
        Some((b, f)) => (prefix + spec[..b].chars().count(), f.chars().count()),
        None => (0, prefix + spec.chars().count()),
    };
    src.at_flag(inst, index, Some(part), e.message)
        .help("see https://docs.docker.com/reference/dockerfile/#run---mount")
}

fn parse_copy(src: &SourceText, inst: &Instruction, add: bool) -> Result<Command, Diagnostic> {
    let spec: &[(&str, Kind)] = if add {
        &[
            ("chown", Kind::Str),
            ("chmod", Kind::Str),
            ("link", Kind::Bool),
            ("keep-git-dir", Kind::Bool),
            ("checksum", Kind::Str),
            ("unpack", Kind::Bool),
            ("exclude", Kind::Strs),
        ]
    } else {
        &[
            ("chown", Kind::Str),
            ("from", Kind::Str),
            ("chmod", Kind::Str),
            ("link", Kind::Bool),
            ("exclude", Kind::Strs),
            ("parents", Kind::Bool),
        ]
    };
    let f = flags(src, inst, spec)?;
    let kw = if add { "ADD" } else { "COPY" };
    if inst.args.len() < 2 {
        return Err(src.at_keyword(
            inst,
            format!("{kw} requires at least two arguments, but only one was provided. Destination could not be determined"),
        ));
    }
    let (srcs, dest) = inst.args.split_at(inst.args.len() - 1);
    let dest = dest[0].clone();
    if heredoc_name(&dest).is_some_and(|n| inst.heredocs.iter().any(|h| h.name == n)) {
        return Err(src.at_text(
            inst,
            &dest,
            0,
            format!("{kw} cannot accept a heredoc as a destination"),
        ));
    }
    let mut sources = Vec::new();
    let mut inline = Vec::new();
    for s in srcs {
        match heredoc_name(s).and_then(|n| inst.heredocs.iter().find(|h| h.name == n)) {
            Some(h) => inline.push(InlineFile {
                name: h.name.clone(),
                data: h.content.clone(),
                raw: if h.expand { None } else { h.raw.clone() },
                expand: h.expand,
            }),
            None => sources.push(s.clone()),
        }
    }
    if let Some((v, i)) = f.get("chmod") {
        if !v.contains('$') {
            check_chmod(v).map_err(|m| {
                flag_diag(
                    src,
                    inst,
                    FlagError {
                        index: i,
                        message: m,
                        help: None,
                    },
                )
            })?;
        }
    }
    if let Some((v, i)) = f.get("from") {
        if v.contains('$') {
            return Err(flag_diag(
                src,
                inst,
                FlagError {
                    index: i,
                    message: "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".into(),
                    help: None,
                },
            ));
        }
    }
    Ok(Command::Copy(Copy {
        add,
        from: f.string("from"),
        chown: f.string("chown"),
        chmod: f.string("chmod"),
        link: f.bool("link").unwrap_or(false),
        parents: f.bool("parents").unwrap_or(false),
        excludes: f.all("exclude").into_iter().map(|(v, _)| v).collect(),
        sources,
        inline,
        dest,
        checksum: f.string("checksum"),
        keep_git_dir: f.bool("keep-git-dir"),
        unpack: f.bool("unpack"),
    }))
}

/// The name in `<<EOF`, `<<-EOF`, `<<"EOF"` or `<<'EOF'`.
fn heredoc_name(word: &str) -> Option<String> {
    let rest = word.strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let name = rest.trim_matches(|c| c == '"' || c == '\'');
    (!name.is_empty()).then(|| name.to_string())
}

/// Checks a `--chmod` value: an octal mode up to 7777.
pub(crate) fn check_chmod(v: &str) -> Result<u32, String> {
    match u32::from_str_radix(v, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err(format!(
            "invalid chmod parameter: {v:?} is not an octal mode (e.g. 755)"
        )),
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

fn parse_healthcheck(src: &SourceText, inst: &Instruction) -> Result<Command, Diagnostic> {
    let Some(kind) = inst.args.first() else {
        return Err(src.at_keyword(inst, "HEALTHCHECK requires at least one argument"));
    };
    let kind = kind.to_ascii_uppercase();
    if kind == "NONE" {
        if inst.args.len() != 1 {
            return Err(src.at_keyword(inst, "HEALTHCHECK NONE takes no arguments"));
        }
        flags(src, inst, &[])?;
        return Ok(Command::Healthcheck(Healthcheck::None));
    }
    let f = flags(
        src,
        inst,
        &[
            ("interval", Kind::Str),
            ("timeout", Kind::Str),
            ("start-period", Kind::Str),
            ("start-interval", Kind::Str),
            ("retries", Kind::Str),
        ],
    )?;
    if kind != "CMD" {
        return Err(src
            .at_text(
                inst,
                &inst.args[0],
                0,
                format!("Unknown type \"{kind}\" in HEALTHCHECK (try CMD)"),
            )
            .help("write HEALTHCHECK [options] CMD command, or HEALTHCHECK NONE"));
    }
    let rest = &inst.args[1..];
    if rest.is_empty() || (!inst.json && rest.iter().all(|a| a.trim().is_empty())) {
        return Err(src.at_keyword(inst, "Missing command after HEALTHCHECK CMD"));
    }
    let test = if inst.json {
        std::iter::once("CMD".to_string())
            .chain(rest.iter().cloned())
            .collect()
    } else {
        vec!["CMD-SHELL".to_string(), rest.join(" ")]
    };
    let duration = |name: &str| -> Result<i64, Diagnostic> {
        let Some((v, index)) = f.get(name) else {
            return Ok(0);
        };
        let d = parse_go_duration(v).map_err(|m| {
            flag_diag(
                src,
                inst,
                FlagError {
                    index,
                    message: m,
                    help: None,
                },
            )
        })?;
        if d != 0 && d < 1_000_000 {
            return Err(flag_diag(
                src,
                inst,
                FlagError {
                    index,
                    message: format!("Interval \"{name}\" cannot be less than 1ms"),
                    help: None,
                },
            ));
        }
        Ok(d)
    };
    let retries = match f.get("retries") {
        None => 0,
        Some((v, index)) => match v.parse::<i64>() {
            Ok(n) if n < 0 => {
                return Err(flag_diag(
                    src,
                    inst,
                    FlagError {
                        index,
                        message: format!("--retries cannot be negative ({n})"),
                        help: None,
                    },
                ))
            }
            Ok(n) if n <= i64::from(i32::MAX) => n as u32,
            _ => {
                return Err(flag_diag(
                    src,
                    inst,
                    FlagError {
                        index,
                        message: format!("invalid --retries value {v:?}: not a number"),
                        help: None,
                    },
                ))
            }
        },
    };
    Ok(Command::Healthcheck(Healthcheck::Check {
        test,
        interval: duration("interval")?,
        timeout: duration("timeout")?,
        start_period: duration("start-period")?,
        start_interval: duration("start-interval")?,
        retries,
    }))
}

/// Checks an EXPOSE entry: `port[-port][/tcp|udp|sctp]`.
pub(crate) fn check_port(p: &str) -> Result<(), String> {
    let (range, proto) = match p.split_once('/') {
        Some((r, proto)) => (r, proto.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    // `[ip:]hostPort:containerPort` is accepted, only the container port
    // exposed (BuildKit's `portSpecs.parsePort`; the ExposeInvalidFormat lint
    // rule warns about it).
    let parts: Vec<&str> = range.split(':').collect();
    let range = parts[parts.len() - 1];
    if parts.len() > 2 {
        let ip = parts[..parts.len() - 2].join(":");
        let bare = ip.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("invalid IP address: {ip}"));
        }
    }
    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
    let port = |s: &str| s.parse::<u16>().ok();
    match (port(lo), port(hi)) {
        (Some(l), Some(h)) if l <= h => Ok(()),
        _ => Err(format!("invalid containerPort: {range}")),
    }
}

const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "UNUSED",
];

/// Checks a STOPSIGNAL value: a number, a name with or without `SIG`, or `RTMIN+n`.
pub(crate) fn check_signal(s: &str) -> Result<(), String> {
    if let Ok(n) = s.parse::<u32>() {
        return if (1..=64).contains(&n) {
            Ok(())
        } else {
            Err(format!("Invalid signal: {s}"))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: &str| {
        name.strip_prefix(base).is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(['+', '-'])
                    .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n <= 15))
        })
    };
    if SIGNALS.contains(&name) || rt("RTMIN") || rt("RTMAX") {
        Ok(())
    } else {
        Err(format!("Invalid signal: {s}"))
    }
}
