//! The translation of one cleaned pattern into how it is tested: exact,
//! prefix, suffix or a regular expression, chosen and built as
//! moby/patternmatcher's `Pattern.compile` does.

use std::sync::Arc;

use regex::bytes::Regex;

/// How a single pattern is tested, chosen exactly as Docker chooses it.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// No wildcard: the path must equal the pattern.
    Exact,
    /// `literal**`: any path starting with the literal.
    Prefix(String),
    /// `**literal`: any path ending with the literal (or equal to it minus a leading `/`).
    Suffix(String),
    /// Everything else, via a translated regular expression.
    Regex(Arc<Regex>),
}

/// Chooses the match kind and builds the regex the way Docker translates a pattern.
pub(super) fn compile(pattern: &str) -> Result<Kind, regex::Error> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    let mut detected = Detected::Exact;
    let mut in_class = false;
    let mut class_start = 0usize;
    let mut i = 0;
    let mut token = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' && !in_class {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        re.push_str("(?-u:[^\\n])*");
                        detected = Detected::Regex;
                    }
                } else {
                    re.push_str("(?:(?-u:[^\\n])*/)?");
                    detected = Detected::Regex;
                }
                if token == 0 {
                    detected = Detected::Suffix;
                }
            } else {
                re.push_str("(?-u:[^/])*");
                detected = Detected::Regex;
            }
        } else if ch == '?' && !in_class {
            re.push_str("(?:[^/]|(?-u:[\\x80-\\xff]))");
            detected = Detected::Regex;
        } else if ch == '\\' {
            match chars.get(i) {
                Some(&next) => {
                    i += 1;
                    re.push('\\');
                    re.push(next);
                    detected = Detected::Regex;
                }
                None => re.push_str("\\\\"),
            }
        } else if ch == '[' && !in_class {
            in_class = true;
            re.push('[');
            class_start = re.len();
            detected = Detected::Regex;
            // Go regex: a `^` then a `]` right after `[` are literal members.
            if chars.get(i) == Some(&'^') {
                re.push('^');
                i += 1;
                class_start = re.len();
            }
            if chars.get(i) == Some(&']') {
                re.push_str("\\]");
                i += 1;
            }
        } else if ch == ']' {
            if in_class && re.len() > class_start {
                re.push(']');
                in_class = false;
            } else {
                re.push_str("\\]");
            }
            detected = Detected::Regex;
        } else if in_class {
            // Inside a class `*` and `?` are plain members (Go's translation would
            // splice `[^/]*` into the class, which no real pattern relies on).
            // Rust's class syntax gives `[`, `&&`, `--`, `~~` meaning Go's lacks.
            match ch {
                '[' if chars.get(i) == Some(&':') => re.push('['),
                '[' | '&' | '~' => {
                    re.push('\\');
                    re.push(ch);
                }
                '-' if re.ends_with('-') => re.push_str("\\-"),
                _ => re.push(ch),
            }
        } else if ".+()|{}$".contains(ch) {
            re.push('\\');
            re.push(ch);
        } else {
            re.push(ch);
        }
        token += 1;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => Kind::Suffix(pattern[2..].to_string()),
        Detected::Regex => {
            re.push('$');
            Kind::Regex(Arc::new(Regex::new(&re)?))
        }
    })
}
