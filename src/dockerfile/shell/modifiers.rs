//! The `${name<op>word}` operators (`-`, `+`, `?`, `#`, `%`, with or without `:`) and
//! `${name/pattern/replacement}`.

use super::pattern::{pattern_regex, trim_prefix, trim_suffix};
use super::walker::Walker;
use super::{too_long, MAX_WORD_BYTES};

impl Walker<'_> {
    /// `${name<op>word}` for the `-`, `+`, `?`, `#` and `%` families.
    pub(super) fn modifier(&mut self, name: String, first: char) -> Result<String, String> {
        let mut op = first;
        let mut spelled = first.to_string();
        let null_is_unset = first == ':';
        if null_is_unset {
            match self.next() {
                Some(c) => {
                    op = c;
                    spelled.push(c);
                }
                None => return Err("syntax error: missing '}'".into()),
            }
        }
        let pattern_op = op == '#' || op == '%';
        if null_is_unset && pattern_op {
            return Err(format!("unsupported modifier ({spelled}) in substitution"));
        }
        let word = self.until_closed('}', pattern_op, "syntax error: missing '}'")?;
        let value = self.lookup(&name);
        if value.is_none() && self.lex.skip_unset {
            return Ok(format!("${{{name}{spelled}{word}}}"));
        }
        let empty = value
            .as_deref()
            .is_none_or(|v| null_is_unset && v.is_empty());
        match op {
            '-' => Ok(if empty {
                word
            } else {
                value.unwrap_or_default()
            }),
            '+' => Ok(if empty { String::new() } else { word }),
            '?' => match value {
                None => Err(format!(
                    "{name}: {}",
                    if word.is_empty() {
                        "is not allowed to be unset"
                    } else {
                        &word
                    }
                )),
                Some(v) if null_is_unset && v.is_empty() => Err(format!(
                    "{name}: {}",
                    if word.is_empty() {
                        "is not allowed to be empty"
                    } else {
                        &word
                    }
                )),
                Some(v) => Ok(v),
            },
            '#' | '%' => {
                let value = value.unwrap_or_default();
                let (pattern, longest) = match word.strip_prefix(op) {
                    Some(rest) => (rest.to_string(), true),
                    None => (word, false),
                };
                if op == '#' {
                    trim_prefix(&pattern, &value, longest)
                } else {
                    trim_suffix(&pattern, &value, longest)
                }
            }
            _ => Err(format!("unsupported modifier ({spelled}) in substitution")),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`.
    pub(super) fn replace(&mut self, name: String) -> Result<String, String> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let pattern = self.until_closed('/', true, "syntax error: missing '/' in ${}")?;
        let replacement = self.until_closed('}', true, "syntax error: missing '}'")?;
        let value = self.lookup(&name);
        if value.is_none() && self.lex.skip_unset {
            let slashes = if all { "//" } else { "/" };
            return Ok(format!("${{{name}{slashes}{pattern}/{replacement}}}"));
        }
        let value = value.unwrap_or_default();
        let re = pattern_regex(&pattern, true, false)
            .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
        // Each match may grow the value by the replacement: bound the result before building it.
        let matches = if all {
            re.find_iter(&value).count()
        } else {
            usize::from(re.is_match(&value))
        };
        if value
            .len()
            .saturating_add(matches.saturating_mul(replacement.len()))
            > MAX_WORD_BYTES
        {
            return Err(too_long());
        }
        let rep = regex::NoExpand(&replacement);
        Ok(if all {
            re.replace_all(&value, rep).into_owned()
        } else {
            re.replace(&value, rep).into_owned()
        })
    }
}
