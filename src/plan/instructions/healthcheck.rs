//! HEALTHCHECK: `NONE` or `CMD` with its durations (Go syntax, in
//! nanoseconds as Docker stores them) and retry count.

use super::{flag_diag, flags, Command, Healthcheck};
use crate::diag::Diagnostic;
use crate::dockerfile::Instruction;
use crate::plan::duration::parse_go_duration;
use crate::plan::flags::{FlagError, Kind};
use crate::plan::source::SourceText;

pub(super) fn parse_healthcheck(
    src: &SourceText,
    inst: &Instruction,
) -> Result<Command, Diagnostic> {
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
            // Go's `strconv.ParseInt(v, 10, 32)` error, as Docker 26.1 prints it.
            parsed => {
                let why = match parsed {
                    Err(e)
                        if !matches!(
                            e.kind(),
                            std::num::IntErrorKind::PosOverflow
                                | std::num::IntErrorKind::NegOverflow
                        ) =>
                    {
                        "invalid syntax"
                    }
                    _ => "value out of range",
                };
                return Err(flag_diag(
                    src,
                    inst,
                    FlagError {
                        index,
                        message: format!(
                            "strconv.ParseInt: parsing {}: {why}",
                            crate::dockerfile::go_quote(v)
                        ),
                        help: None,
                    },
                ));
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
