//! The exec (JSON array) form of CMD, ENTRYPOINT, RUN, SHELL, ADD, COPY, VOLUME and
//! HEALTHCHECK: a fast path for plain arrays, the grammar for the rest, bounded in depth.

use pest::iterators::Pair;
use pest::Parser as _;

use super::{fast, Grammar, LineError, Rule};

// `[`/`{` nesting deeper than MAX_GRAMMAR_JSON_DEPTH is refused before pest sees it (pest
// recurses once per level, a few KiB of stack each). Between that and MAX_JSON_DEPTH Docker
// answers "arrays must be comprised of strings only" (or shell form for invalid JSON);
// builder says the nesting is too deep.
use crate::dockerfile::limits::{MAX_GRAMMAR_JSON_DEPTH, MAX_JSON_DEPTH};

/// Exec form if `rest` is a JSON array of strings, shell form (one argument) otherwise.
pub(super) fn maybe_json(rest: &str, offset: usize) -> Result<(Vec<String>, bool), LineError> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match try_json(rest, offset)? {
        Some(list) => (list, true),
        None => (vec![rest.to_string()], false),
    })
}

/// `Some(elements)` for a JSON array of strings, `None` when `rest` is not valid JSON (or not
/// an array), an error for valid JSON with other elements.
///
/// Only the first JSON value counts: BuildKit's `parseJSON` reads it with a `json.Decoder`,
/// which never looks past its end, so `RUN ["echo", "x"] > /f` is the exec form `echo x`
/// and `CMD ["a"] words` is `["a"]` (the rest is dropped).
pub(super) fn try_json(rest: &str, offset: usize) -> Result<Option<Vec<String>>, LineError> {
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Some(end) = first_value_end(rest) else {
        return Ok(None);
    };
    let rest = &rest[..end];
    match fast::json_strings(rest) {
        Some(strings) => Ok(Some(strings)),
        None => grammar_json(rest, offset),
    }
}

/// [`try_json`] by the grammar alone.
pub(super) fn grammar_json(rest: &str, offset: usize) -> Result<Option<Vec<String>>, LineError> {
    let depth = json_depth(rest);
    if depth > MAX_JSON_DEPTH {
        return Ok(None);
    }
    if depth > MAX_GRAMMAR_JSON_DEPTH {
        return Err(LineError::new(
            offset,
            "[",
            format!(
                "nesting too deep: brackets nested {depth} levels, more than \
                 {MAX_GRAMMAR_JSON_DEPTH} (builder's limit)"
            ),
        )
        .help("an exec form is a flat JSON array of strings, e.g. [\"echo\", \"hello\"]"));
    }
    // A grammar failure (including pest's stack guard on absurd nesting) means "not JSON".
    let Some(array) = Grammar::parse(Rule::exec_form, rest)
        .ok()
        .and_then(|mut p| p.next())
    else {
        return Ok(None);
    };
    let mut elements = Vec::new();
    let mut first_other: Option<Pair<Rule>> = None;
    for pair in array.into_inner() {
        match pair.as_rule() {
            Rule::json_string => match decode_json_string(pair) {
                Some(s) => elements.push(s),
                // A raw control character: encoding/json rejects the text, so shell form.
                None => return Ok(None),
            },
            Rule::non_string => {
                // encoding/json fails on numbers a float64 cannot hold: not JSON then.
                let overflow = pair.clone().into_inner().flatten().any(|p| {
                    p.as_rule() == Rule::json_number
                        && !p.as_str().parse::<f64>().is_ok_and(f64::is_finite)
                });
                if overflow {
                    return Ok(None);
                }
                first_other.get_or_insert(pair);
            }
            _ => {}
        }
    }
    if let Some(other) = first_other {
        return Err(LineError::new(
            offset + other.as_span().start(),
            other.as_str(),
            "when using JSON array syntax, arrays must be comprised of strings only",
        )
        .help("quote every element, e.g. [\"echo\", \"hello\"]"));
    }
    Ok(Some(elements))
}

/// The bytes of `text` outside JSON strings (the quotes included), with their offsets.
fn outside_strings(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let (mut in_string, mut escaped) = (false, false);
    text.bytes().enumerate().filter(move |&(_, b)| {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            return false;
        }
        if b == b'"' {
            in_string = true;
        }
        true
    })
}

/// The byte length of the bracketed value `text` starts with: up to the `]` or `}` that
/// closes its first bracket, strings skipped; `None` when it is never closed.
fn first_value_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in outside_strings(text) {
        match b {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Deepest `[`/`{` nesting outside strings (cheap guard before the recursive grammar).
fn json_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for (_, b) in outside_strings(text) {
        match b {
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Decodes a JSON string literal as Go does (lone surrogates become U+FFFD); `None` if it
/// holds a raw control character, which makes it invalid JSON.
fn decode_json_string(pair: Pair<Rule>) -> Option<String> {
    let pieces: Vec<Pair<Rule>> = pair.into_inner().collect();
    let mut out = String::new();
    let mut i = 0;
    while let Some(piece) = pieces.get(i) {
        i += 1;
        let s = piece.as_str();
        if piece.as_rule() != Rule::json_escape {
            if s.bytes().any(|b| b < 0x20) {
                return None;
            }
            out.push_str(s);
            continue;
        }
        let unit = |s: &str| {
            s.strip_prefix("\\u")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
        };
        match s {
            "\\\"" => out.push('"'),
            "\\\\" => out.push('\\'),
            "\\/" => out.push('/'),
            "\\b" => out.push('\u{8}'),
            "\\f" => out.push('\u{c}'),
            "\\n" => out.push('\n'),
            "\\r" => out.push('\r'),
            "\\t" => out.push('\t'),
            _ => {
                let Some(code) = unit(s) else { continue };
                if (0xD800..0xDC00).contains(&code) {
                    let low = pieces.get(i).and_then(|p| unit(p.as_str()));
                    if let Some(low @ 0xDC00..=0xDFFF) = low {
                        let c = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        i += 1;
                        continue;
                    }
                }
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
        }
    }
    Some(out)
}
