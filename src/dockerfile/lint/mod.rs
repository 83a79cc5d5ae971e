//! BuildKit's Dockerfile lint rules (`frontend/dockerfile/linter`, BuildKit
//! 0.13–0.16): the same rule names, descriptions, URLs and messages, run on
//! the parsed file. `docker build --check` prints them as the result; a
//! normal build prints them as warnings.
//!
//! * [`ruleset`]: the rules' names, descriptions and URLs.
//! * [`rules`]: the checks on the file.
//! * [`print`]: BuildKit's text output (`WARNING: Rule - URL`, the message,
//!   the source snippet).
//! * [`Config`]: the `# check=skip=…;error=true` directive.
//!
//! * [`stages`]: the rules that need the build's state (`UndefinedVar`,
//!   `CopyIgnoredFile`, `InvalidBaseImagePlatform`), run on the plan.

pub mod print;
mod rules;
pub mod ruleset;
pub mod stages;

use std::collections::BTreeMap;

use super::Dockerfile;

/// One rule's fixed text (BuildKit's `LinterRule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// `StageNameCasing`, …
    pub name: &'static str,
    /// The rule's description.
    pub description: &'static str,
    /// Its documentation page (empty for rules that have none).
    pub url: &'static str,
    /// Reported only when the `# check=experimental=…` directive names it
    /// (or says `all`), as BuildKit's `LinterRule.Experimental`.
    pub experimental: bool,
}

/// One finding: the rule, the message, and the lines it covers (1-based,
/// inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// The message (BuildKit's `Format`).
    pub message: String,
    /// First line of the instruction.
    pub start_line: usize,
    /// Last line of the instruction.
    pub end_line: usize,
}

/// The `# check=` directive (BuildKit's `linter.ParseLintOptions`):
/// `skip=Rule1,Rule2|all`, `error=true|false`, `experimental=…`, `;`-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Rules not to report.
    pub skip: Vec<String>,
    /// `skip=all`.
    pub skip_all: bool,
    /// `error=true`: findings fail the build / the check.
    pub error: bool,
    /// `experimental=Rule1,Rule2`: experimental rules turned on.
    pub experimental: Vec<String>,
    /// `experimental=all`.
    pub experimental_all: bool,
}

impl Config {
    /// Parses the directive's value. Errors: BuildKit's `invalid check option`.
    pub fn parse(value: &str) -> Result<Config, String> {
        let mut c = Config::default();
        let value = value.trim();
        if value.is_empty() {
            return Ok(c);
        }
        for part in value.splitn(3, ';') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("invalid check option {part:?}"))?;
            match k.trim() {
                "skip" if v.trim() == "all" => c.skip_all = true,
                "skip" => c.skip = v.split(',').map(|r| r.trim().to_string()).collect(),
                "experimental" if v.trim() == "all" => c.experimental_all = true,
                "experimental" => {
                    c.experimental = v.split(',').map(|r| r.trim().to_string()).collect()
                }
                "error" => {
                    c.error = parse_go_bool(v.trim())
                        .ok_or_else(|| format!("failed to parse check option {part:?}"))?
                }
                other => return Err(format!("invalid check option {other:?}")),
            }
        }
        Ok(c)
    }
}

impl Config {
    /// Whether findings of `rule` are reported (BuildKit's `LintConfig`
    /// check in `Linter.Run`): not skipped, and an experimental rule only
    /// when turned on.
    pub fn enabled(&self, rule: &Rule) -> bool {
        if self.skip_all || self.skip.iter().any(|s| s == rule.name) {
            return false;
        }
        !rule.experimental
            || self.experimental_all
            || self.experimental.iter().any(|e| e == rule.name)
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Runs every rule on `df` (its `text` for the raw lines); findings in
/// BuildKit's order (by line, then rule), minus those `config` skips.
/// `build_args` are the `--build-arg` names (declared for `UndefinedArgInFrom`).
pub fn lint(
    df: &Dockerfile,
    text: &str,
    config: &Config,
    build_args: &BTreeMap<String, String>,
) -> Vec<Finding> {
    if config.skip_all {
        return Vec::new();
    }
    let mut out = rules::all(df, text, build_args);
    out.retain(|f| config.enabled(&f.rule));
    out.sort_by(|a, b| {
        a.start_line
            .cmp(&b.start_line)
            .then(a.rule.name.cmp(b.rule.name))
    });
    out
}
