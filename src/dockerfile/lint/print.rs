//! Findings as `docker build --check` prints them (BuildKit's
//! `lint.Warning.PrintTo` and `errdefs.Source.Print`; buildx's summary
//! lines in `commands/build.go printResult`).

use std::fmt::Write as _;

use super::Finding;

/// One finding: a blank line, `WARNING: Rule - URL`, the message, then
/// `FILE:LINE` and the lines around it with `>>>` on the finding's lines.
pub fn finding(f: &Finding, file: &str, text: &str) -> String {
    let mut s = format!("\nWARNING: {}", f.rule.name);
    if !f.rule.url.is_empty() {
        let _ = write!(s, " - {}", f.rule.url);
    }
    let _ = writeln!(s, "\n{}", f.message);
    s.push_str(&snippet(f.start_line, f.end_line, file, text));
    s
}

/// `errdefs.Source.Print`: up to 4 lines of context around a one-line range
/// (2 around a longer one), shared out before and after.
pub fn snippet(start: usize, end: usize, file: &str, text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    if start < 1 || start > lines.len() {
        return String::new();
    }
    let (mut a, mut b) = (start, end.min(lines.len()));
    let pad = if a == b { 4 } else { 2 };
    let mut p = 0;
    while p < pad {
        if a > 1 {
            a -= 1;
            p += 1;
        }
        if b != lines.len() {
            b += 1;
            p += 1;
        }
        p += 1;
    }
    let mut s = format!("{file}:{start}\n--------------------\n");
    for i in a..=b {
        let pfx = if i >= start && i <= end { ">>>" } else { "   " };
        let _ = writeln!(s, " {i:>3} | {pfx} {}", lines[i - 1]);
    }
    s.push_str("--------------------\n");
    s
}

/// buildx's summary line before the findings.
pub fn summary(count: usize) -> String {
    match count {
        0 => "Check complete, no warnings found.\n".to_string(),
        1 => "Check complete, 1 warning has been found!\n".to_string(),
        n => format!("Check complete, {n} warnings have been found!\n"),
    }
}

/// BuildKit's error for findings under `check=error=true`.
pub fn error_message(findings: &[Finding]) -> String {
    let mut rules: Vec<&str> = Vec::new();
    for f in findings {
        if !rules.contains(&f.rule.name) {
            rules.push(f.rule.name);
        }
    }
    format!("lint violation found for rules: {}", rules.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_as_buildkit() {
        let text = "FROM a\nRUN b\nCMD c\nENV d e\nLABEL f g\nUSER h\n";
        let s = snippet(3, 3, "Dockerfile", text);
        assert_eq!(
            s,
            "Dockerfile:3\n--------------------\n   1 |     FROM a\n   2 |     RUN b\n   3 | >>> CMD c\n   4 |     ENV d e\n   5 |     LABEL f g\n--------------------\n"
        );
    }
}
