//! RUN: `--mount`, `--network` and `--security` checked as far as they can
//! be before variables are known.

use super::command::command_line;
use super::{flag_diag, flags, Command, Network, Run, Security};
use crate::diag::Diagnostic;
use crate::dockerfile::Instruction;
use crate::plan::flags::{FlagError, Kind};
use crate::plan::mount::{parse_mount, MountError};
use crate::plan::source::SourceText;

pub(super) fn parse_run(src: &SourceText, inst: &Instruction) -> Result<Command, Diagnostic> {
    let f = flags(
        src,
        inst,
        &[
            ("mount", Kind::Strs),
            ("network", Kind::Str),
            ("security", Kind::Str),
        ],
    )?;
    // A value outside a flag's set: the error under that flag, with the set.
    let invalid = |index: usize, message: String, help: &str| {
        flag_diag(
            src,
            inst,
            FlagError {
                index,
                message,
                help: Some(help.into()),
            },
        )
    };
    let network = match f.get("network") {
        None | Some(("default", _)) => Network::Default,
        Some(("none", _)) => Network::None,
        Some(("host", _)) => Network::Host,
        Some((v, i)) => {
            return Err(invalid(
                i,
                format!("invalid network mode {v:?}"),
                "--network takes default, none or host",
            ))
        }
    };
    let security = match f.get("security") {
        None | Some(("sandbox", _)) => Security::Sandbox,
        Some(("insecure", _)) => Security::Insecure,
        Some((v, i)) => {
            return Err(invalid(
                i,
                format!("security {v:?} is not valid"),
                "--security takes sandbox or insecure",
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
    e: MountError,
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
