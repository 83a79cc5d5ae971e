//! Typed instructions: each AST instruction's flags and arguments checked
//! and sorted into fields. Values that Docker expands later stay raw here
//! (the stage evaluator expands them); everything that can be checked
//! without knowing variable values is checked now.

mod checks;
mod command;
mod copy;
mod healthcheck;
mod run;

pub(crate) use checks::{check_port, check_signal, parse_chmod};
pub use command::parse_command;
pub(crate) use run::mount_diag;

use super::flags::{FlagError, Flags, Kind};
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
