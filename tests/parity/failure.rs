//! Cases Docker refuses to build. The case's `expect-error` lists fragments of Docker's error
//! message (the stable parts: no temp paths or ids); the recorder checks each one against
//! Docker's output and writes `expected-error.json`:
//!
//! - `error`: Docker's last `ERROR: ...` line, exactly as printed (`ERROR: failed to solve: ...`)
//! - `source`: the Dockerfile excerpt Docker printed above it (`Dockerfile:N`, the `>>>` line and
//!   its neighbours), empty when it printed none; lines over [`MAX_SOURCE_LINE`] bytes are cut
//!   (marked `…`), so a case about a huge line does not copy it into its expectation
//! - `line`: that N, or `null`
//! - `builder_must_contain`: the fragments
//!
//! The comparison then requires builder to fail with every fragment in its stderr and, when Docker
//! pointed at a line, `Dockerfile:N` (not followed by another digit) there too.

use super::cases::Case;
use anyhow::{bail, Result};
use serde_json::{json, Value};

/// Longest excerpt line kept in full in `source`.
pub const MAX_SOURCE_LINE: usize = 300;

fn cut(line: &str) -> String {
    if line.len() <= MAX_SOURCE_LINE {
        return line.to_string();
    }
    let mut end = MAX_SOURCE_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// Docker's error (last `ERROR: ` line) and the Dockerfile excerpt before it, from a
/// `docker build --progress=plain` log.
pub fn parse_docker_log(log: &str) -> Result<(String, Vec<String>, Option<u64>)> {
    let lines: Vec<&str> = log.lines().collect();
    let Some(err_at) = lines.iter().rposition(|l| l.starts_with("ERROR: ")) else {
        bail!("no `ERROR: ` line in Docker's output");
    };
    let mut source = Vec::new();
    let mut line = None;
    // The excerpt: `Dockerfile:N`, a dashed rule, numbered lines, a dashed rule, then ERROR.
    if let Some(start) = lines[..err_at]
        .iter()
        .rposition(|l| l.strip_prefix("Dockerfile:").is_some_and(is_number))
    {
        if lines[start + 1..err_at].iter().all(|l| {
            l.starts_with("----") || l.trim_start().starts_with(|c: char| c.is_ascii_digit())
        }) {
            source = lines[start..err_at].iter().map(|s| cut(s)).collect();
            line = lines[start]["Dockerfile:".len()..].parse().ok();
        }
    }
    Ok((lines[err_at].to_string(), source, line))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The expected-error.json document of a failing case from Docker's build log.
pub fn record(case: &Case, log: &str) -> Result<Value> {
    let Some(fragments) = &case.expect_error else {
        bail!("case {} has no expect-error", case.name);
    };
    let (error, source, line) = parse_docker_log(log)?;
    let all = format!("{error}\n{}", source.join("\n"));
    for f in fragments {
        if !all.contains(f.as_str()) {
            bail!(
                "case {}: expect-error fragment {f:?} is not in Docker's error:\n{all}",
                case.name
            );
        }
    }
    Ok(json!({
        "case": case.name,
        "error": error,
        "source": source,
        "line": line,
        "builder_must_contain": fragments,
    }))
}

/// True when `text` names Dockerfile line `n` (`Dockerfile:N` with no digit after it).
pub fn names_line(text: &str, n: u64) -> bool {
    let pat = format!("Dockerfile:{n}");
    text.match_indices(&pat).any(|(i, _)| {
        !text[i + pat.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// What builder did differently from Docker's refusal (empty when it failed alike).
pub fn check(expected: &Value, succeeded: bool, stderr: &str) -> Vec<String> {
    let mut out = Vec::new();
    if succeeded {
        out.push(format!(
            "builder built it; Docker failed: {}",
            expected["error"].as_str().unwrap_or("?")
        ));
        return out;
    }
    for f in expected["builder_must_contain"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let f = f.as_str().unwrap_or_default();
        if !stderr.contains(f) {
            out.push(format!("error lacks {f:?}"));
        }
    }
    if let Some(n) = expected["line"].as_u64() {
        if !names_line(stderr, n) {
            out.push(format!("error does not name Dockerfile:{n}"));
        }
    }
    if !out.is_empty() {
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        out.push(format!(
            "Docker: {}; builder said: {}",
            expected["error"].as_str().unwrap_or("?"),
            tail.join(" / ")
        ));
    }
    out
}

/// Sanity of a failing case's expected-error.json against its `expect-error`.
pub fn well_formed(case: &Case, doc: &Value) -> Result<()> {
    let fragments = case.expect_error.clone().unwrap_or_default();
    if doc["case"] != json!(case.name) {
        bail!(
            "case {}: expected-error.json names {}",
            case.name,
            doc["case"]
        );
    }
    if doc["builder_must_contain"] != json!(fragments) {
        bail!(
            "case {}: expected-error.json fragments differ from expect-error (re-record)",
            case.name
        );
    }
    let error = doc["error"].as_str().unwrap_or_default();
    if !error.starts_with("ERROR: ") {
        bail!(
            "case {}: error {error:?} is not Docker's ERROR line",
            case.name
        );
    }
    let source: Vec<&str> = doc["source"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let all = format!("{error}\n{}", source.join("\n"));
    for f in &fragments {
        if !all.contains(f.as_str()) {
            bail!(
                "case {}: fragment {f:?} is not in Docker's error",
                case.name
            );
        }
    }
    match doc["line"].as_u64() {
        Some(n) if source.first() != Some(&format!("Dockerfile:{n}").as_str()) => {
            bail!(
                "case {}: line {n} but source starts {:?}",
                case.name,
                source.first()
            )
        }
        None if !source.is_empty() => bail!("case {}: source without line", case.name),
        _ => Ok(()),
    }
}
