//! Stage names as BuildKit 0.13 resolves them (`dockerfile2llb`'s `dispatchStates`).
//!
//! * `FROM image AS Name` stores the name lower-cased (`name` is validated after lowering).
//! * A `FROM` base is looked up *as written* (after ARG expansion) among the names of the
//!   stages before it, so `FROM Builder` never names the stage `AS Builder`: it is an image
//!   reference, and an invalid one (`repository name (library/Builder) must be lowercase`).
//!   `scratch` is recognised only in lower case too.
//! * `COPY --from`, `RUN --mount=from=` and `--target` are looked up lower-cased among all
//!   stages of the file.
//! * Names may repeat; every lookup finds the last stage with the name (for `FROM`, the last
//!   one before it). A `--from` naming a later stage is an error where it is used.

use std::collections::{HashMap, HashSet};

use crate::diag::Diagnostic;
use crate::dockerfile::Instruction;
use crate::registry::Reference;

use super::source::SourceText;
use super::{mount, Command, SourceRef};

/// The stage names of a Dockerfile, lower-cased, in file order, indexed by name: every
/// lookup is a hash lookup (plus a binary search for `FROM`), so 10,000 stages referring to
/// each other plan in linear time.
pub(crate) struct StageNames<'a> {
    names: &'a [Option<String>],
    /// The stages bearing each name, ascending.
    by_name: HashMap<&'a str, Vec<usize>>,
}

impl<'a> StageNames<'a> {
    pub fn new(names: &'a [Option<String>]) -> Self {
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            if let Some(name) = name {
                by_name.entry(name.as_str()).or_default().push(i);
            }
        }
        StageNames { names, by_name }
    }

    /// The stage a `FROM` of stage `index` starts from: an earlier stage whose name equals
    /// `base` exactly (the last such stage).
    pub fn base_of(&self, index: usize, base: &str) -> Option<usize> {
        let stages = self.by_name.get(base)?;
        let before = stages.partition_point(|&i| i < index);
        before.checked_sub(1).map(|k| stages[k])
    }

    /// The stage `--from`, `--mount=from=` or `--target` names: case-insensitive, the last
    /// stage of the file with that name.
    pub fn find(&self, name: &str) -> Option<usize> {
        let lower = name.to_lowercase();
        self.by_name
            .get(lower.as_str())
            .and_then(|s| s.last().copied())
    }

    /// Warnings for names given to more than one stage (BuildKit accepts them silently).
    pub fn duplicate_warnings(&self, froms: &[&Instruction]) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (i, name) in self.names.iter().enumerate() {
            let Some(name) = name else { continue };
            if !seen.insert(name.as_str()) {
                out.push(format!(
                    "line {}: stage name {name:?} is used again; references to it mean the last \
                     stage with that name",
                    froms[i].span.line
                ));
            }
        }
        out
    }
}

/// Checks a `FROM` base that is not a stage as BuildKit does before resolving it (for every
/// stage, needed or not): `failed to parse stage name "X": <reference error>`.
pub(crate) fn check_base_reference(
    src: &SourceText,
    inst: &Instruction,
    written: &str,
    image: &str,
    names: &StageNames<'_>,
    index: usize,
) -> Result<(), Diagnostic> {
    let Err(e) = Reference::parse(image) else {
        return Ok(());
    };
    let mut diag = src.at_text(
        inst,
        written,
        0,
        format!("failed to parse stage name {image:?}: {e}"),
    );
    let lower = image.to_lowercase();
    if lower == "scratch" {
        diag = diag.help("the empty base image is `scratch`, in lower case");
    } else if names.base_of(index, &lower).is_some() {
        diag = diag.help(format!(
            "stage names are lower-case: write `FROM {lower}` to start from the stage named {image:?}"
        ));
    }
    Err(diag)
}

/// Resolves `COPY --from` and `RUN --mount=from=` references.
pub(crate) fn step_sources(
    src: &SourceText,
    inst: &Instruction,
    command: &Command,
    names: &StageNames<'_>,
    count: usize,
) -> Result<Vec<SourceRef>, Diagnostic> {
    let by_name = |r: &str| {
        names
            .find(r)
            .map_or_else(|| SourceRef::Image(r.to_string()), SourceRef::Stage)
    };
    match command {
        Command::Copy(c) => {
            let Some(from) = &c.from else {
                return Ok(Vec::new());
            };
            if let Ok(n) = from.parse::<i64>() {
                if n < 0 || n as usize >= count {
                    let index = inst
                        .flags
                        .iter()
                        .position(|f| f.starts_with("--from"))
                        .unwrap_or(0);
                    return Err(src
                        .at_flag(
                            inst,
                            index,
                            Some((0, format!("--from={from}").chars().count())),
                            format!("invalid stage index {n}"),
                        )
                        .help(format!("stage indexes run from 0 to {}", count - 1)));
                }
                return Ok(vec![SourceRef::Stage(n as usize)]);
            }
            let source = by_name(from);
            // Not a stage: an image reference, checked as BuildKit checks every base before
            // resolving one (`--from` is never expanded: `$NAME` fails here).
            if let SourceRef::Image(image) = &source {
                if let Err(e) = Reference::parse(image) {
                    let index = inst
                        .flags
                        .iter()
                        .position(|f| f.starts_with("--from"))
                        .unwrap_or(0);
                    return Err(src.at_flag(
                        inst,
                        index,
                        None,
                        format!("failed to parse stage name {image:?}: {e}"),
                    ));
                }
            }
            Ok(vec![source])
        }
        Command::Run(r) => {
            let mut out = Vec::new();
            for spec in &r.mounts {
                let mut defer = |v: &str| {
                    Ok(if v.contains('$') {
                        None
                    } else {
                        Some(v.to_string())
                    })
                };
                if let Ok(m) = mount::parse_mount(spec, &mut defer) {
                    if let Some(f) = m.from.filter(|f| !f.is_empty()) {
                        out.push(by_name(&f));
                    }
                }
            }
            Ok(out)
        }
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[Option<&str>]) -> Vec<Option<String>> {
        list.iter().map(|n| n.map(str::to_string)).collect()
    }

    #[test]
    fn base_is_exact_and_earlier_only() {
        let n = names(&[Some("builder"), None, Some("a"), Some("a")]);
        let s = StageNames::new(&n);
        assert_eq!(s.base_of(1, "builder"), Some(0));
        assert_eq!(s.base_of(1, "Builder"), None);
        assert_eq!(s.base_of(2, "a"), None);
        assert_eq!(s.base_of(3, "a"), Some(2));
        assert_eq!(s.base_of(4, "a"), Some(3));
    }

    #[test]
    fn find_ignores_case_and_takes_the_last() {
        let n = names(&[Some("builder"), Some("a"), None, Some("a")]);
        let s = StageNames::new(&n);
        assert_eq!(s.find("BUILDER"), Some(0));
        assert_eq!(s.find("Builder"), Some(0));
        assert_eq!(s.find("A"), Some(3));
        assert_eq!(s.find("stage-2"), None);
        assert_eq!(s.find("nope"), None);
    }
}
