//! Shape checks BuildKit makes when it turns parser nodes into instructions: the keyword must
//! be known and instructions that cannot mean anything without arguments must have them.
//! Messages are BuildKit's. Flag values and argument meaning are `plan/`'s business.

use super::parser::{LineError, Parsed};

/// The instructions BuildKit knows, upper case.
pub(crate) const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Checks one parsed instruction (and its ONBUILD trigger).
pub(crate) fn check(parsed: &Parsed) -> Result<(), LineError> {
    let inst = &parsed.inst;
    let upper = inst.keyword.to_ascii_uppercase();
    let at_keyword =
        |message: String| LineError::new(parsed.keyword_offset, &parsed.keyword_raw, message);
    if !KEYWORDS.contains(&upper.as_str()) {
        let mut err = at_keyword(format!("unknown instruction: {}", parsed.keyword_raw));
        if let Some(best) = suggestion(&upper) {
            err = err.help(format!("did you mean {best}?"));
        }
        return Err(err);
    }
    let n = inst.args.len();
    let missing = match &inst.keyword[..] {
        "from" => {
            let ok = n == 1 || (n == 3 && inst.args[1].eq_ignore_ascii_case("as"));
            (!ok).then(|| {
                at_keyword("FROM requires either one or three arguments".into())
                    .help("use `FROM <image>` or `FROM <image> AS <name>`")
            })
        }
        "maintainer" | "workdir" | "user" | "stopsignal" => {
            (n != 1).then(|| at_keyword(format!("{upper} requires exactly one argument")))
        }
        "add" | "copy" => (n < 2).then(|| {
            at_keyword(format!(
                "{upper} requires at least two arguments, but only one was provided. \
                 Destination could not be determined"
            ))
            .help(format!("use `{upper} <source>... <destination>`"))
        }),
        "env" | "label" | "arg" | "expose" | "volume" | "onbuild" => (n == 0
            && inst.child.is_none())
        .then(|| at_keyword(format!("{upper} requires at least one argument"))),
        _ => None,
    };
    if let Some(err) = missing {
        return Err(err);
    }
    if matches!(&inst.keyword[..], "env" | "label")
        && inst.args.chunks(3).any(|kv| kv[0].is_empty())
    {
        return Err(LineError::new(
            parsed.args_offset,
            "=",
            format!("{upper} names can not be blank"),
        )
        .help("write `NAME=value`"));
    }
    if let Some(child) = &parsed.child {
        match &child.inst.keyword[..] {
            "onbuild" => {
                return Err(LineError::new(
                    child.keyword_offset,
                    &child.keyword_raw,
                    "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                ))
            }
            "from" | "maintainer" => {
                return Err(LineError::new(
                    child.keyword_offset,
                    &child.keyword_raw,
                    format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        child.inst.keyword.to_ascii_uppercase()
                    ),
                ))
            }
            _ => check(child)?,
        }
    }
    Ok(())
}

/// The known keyword closest to `word` (edit distance at most 2), if any.
fn suggestion(word: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .filter_map(|k| Some((edit_distance_within(word, k, 2)?, *k)))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// BuildKit's `suggest.Search`, case-sensitive: the first of `options` at the smallest
/// Levenshtein distance below 3 from `word`; none when one equals `word`.
pub fn suggest<'a>(word: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best = None;
    let mut min = 3;
    for o in options {
        if o == word {
            return None;
        }
        let Some(d) = edit_distance_within(word, o, min - 1) else {
            continue;
        };
        if d < min {
            min = d;
            best = Some(o);
        }
    }
    best
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    edit_distance_within(a, b, usize::MAX).unwrap_or(usize::MAX)
}

/// The Levenshtein distance over characters when it is at most `max`, else `None`. Every
/// "did you mean" asks only for distances up to 2, so a pair whose lengths differ by more
/// is rejected without the quadratic table (a hostile Dockerfile's 50 KB keyword or
/// variable name against every option), and the table stops once a whole row exceeds `max`.
pub fn edit_distance_within(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        if cur.iter().all(|&d| d > max) {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Some(prev[b.len()]).filter(|&d| d <= max)
}

#[cfg(test)]
mod edit_distance_tests {
    use super::*;

    #[test]
    fn bounded_distance_agrees_with_the_full_table() {
        let words = [
            "", "a", "ab", "abc", "RUN", "RUNN", "CMD", "COPY", "cpoy", "élan", "elan",
        ];
        for a in words {
            for b in words {
                let full = edit_distance(a, b);
                for max in 0..5 {
                    let want = (full <= max).then_some(full);
                    assert_eq!(edit_distance_within(a, b, max), want, "{a:?} {b:?} {max}");
                }
            }
        }
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let long = "C".repeat(60_000);
        assert_eq!(suggestion(&long), None);
    }
}
