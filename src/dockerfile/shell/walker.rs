//! One left-to-right pass over a word: text, quotes, escapes and `$`/`${` references
//! (the `${…}` operators are in `modifiers`).

use std::collections::BTreeSet;

use super::words::Words;
use super::{fits, too_deep, too_long, Lexer, Lookup, MAX_NESTING, MAX_WORD_BYTES};

/// One pass over one word.
pub(super) struct Walker<'a> {
    pub(super) lex: &'a Lexer,
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
    pub(super) env: &'a dyn Lookup,
    /// Whether the top level splits its result into words.
    pub(super) split: bool,
    pub(super) raw_escapes: bool,
    /// How many `${…}` the walker is inside (bounded by [`MAX_NESTING`]).
    pub(super) depth: usize,
    pub(super) matched: BTreeSet<String>,
    pub(super) unmatched: BTreeSet<String>,
}

impl Walker<'_> {
    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    pub(super) fn lookup(&mut self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(v) => {
                self.matched.insert(name.to_string());
                Some(v.to_string())
            }
            None => {
                self.unmatched.insert(name.to_string());
                None
            }
        }
    }

    /// Processes characters until `stop` (consumed) or the end of input.
    /// Reaching the end while looking for `stop` is an error.
    pub(super) fn until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        if self.depth >= MAX_NESTING {
            return Err(too_deep());
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let out = self.until_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        out
    }

    /// [`Walker::until`] for the part of a `${…}` modifier that must end at
    /// `stop`: running out of input there is reported as `missing` (the
    /// shell's message for the unclosed form), any other error as it is.
    pub(super) fn until_closed(
        &mut self,
        stop: char,
        raw_escapes: bool,
        missing: &str,
    ) -> Result<String, String> {
        match self.until(Some(stop), raw_escapes) {
            Ok((w, _)) => Ok(w),
            Err(e) if self.peek().is_none() && e != too_deep() => Err(missing.into()),
            Err(e) => Err(e),
        }
    }

    fn until_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        // `until` has counted this level: depth 1 is the top.
        let mut words = Words::new(self.split && self.depth == 1);
        while let Some(c) = self.peek() {
            if result.len() > MAX_WORD_BYTES {
                return Err(too_long());
            }
            if Some(c) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match c {
                '$' => {
                    let s = self.dollar()?;
                    fits(result.len(), s.len())?;
                    result.push_str(&s);
                    words.push_str(&s);
                }
                '<' => {
                    let s = self.maybe_heredoc();
                    result.push_str(&s);
                    words.push_raw_str(&s);
                }
                '\'' if !self.lex.skip_quotes => {
                    let s = self.single_quoted()?;
                    result.push_str(&s);
                    words.push_raw_str(&s);
                }
                '"' if !self.lex.skip_quotes => {
                    let s = self.double_quoted()?;
                    result.push_str(&s);
                    words.push_raw_str(&s);
                }
                _ => {
                    self.pos += 1;
                    if c == self.lex.escape {
                        if self.raw_escapes {
                            words.push_raw_char(c);
                            result.push(c);
                        }
                        // A trailing escape character is dropped.
                        let Some(escaped) = self.next() else { break };
                        words.push_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.push_char(c);
                        result.push(c);
                    }
                }
            }
        }
        match stop {
            Some(s) => Err(format!(
                "unexpected end of statement while looking for matching {s}"
            )),
            None if result.len() > MAX_WORD_BYTES => Err(too_long()),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        self.pos += 1;
        if self.lex.raw_quotes {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        self.pos += 1;
        if self.lex.raw_quotes {
            out.push('"');
        }
        loop {
            if out.len() > MAX_WORD_BYTES {
                return Err(too_long());
            }
            match self.peek() {
                end @ (None | Some('"')) => {
                    self.pos += usize::from(end.is_some());
                    return super::end_double_quote(end, out, self.lex.raw_quotes);
                }
                Some('$') => {
                    let s = self.dollar()?;
                    fits(out.len(), s.len())?;
                    out.push_str(&s);
                }
                Some(c) => {
                    self.pos += 1;
                    if c == self.lex.escape {
                        // Inside double quotes the escape character only
                        // escapes `"`, `$` and itself; elsewhere it is literal.
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lex.escape => {
                                if self.raw_escapes {
                                    out.push(c);
                                }
                                self.pos += 1;
                                out.push(n);
                            }
                            Some(_) => out.push(c),
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    fn maybe_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.pos += 1;
        let mut out = String::from("<<");
        while let Some(c @ (' ' | '\t' | '\r')) = self.peek() {
            out.push(c);
            self.pos += 1;
        }
        out
    }

    /// Reads a parameter name: digits (positional), one special character, or
    /// letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.lookup(&name) {
                Some(v) => v,
                None if self.lex.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let Some(op) = self.next() else {
            return Err("syntax error: missing '}'".into());
        };
        match op {
            '}' => Ok(match self.lookup(&name) {
                Some(v) => v,
                None if self.lex.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => self.modifier(name, op),
            '/' => self.replace(name),
            other => Err(format!("unsupported modifier ({other}) in substitution")),
        }
    }
}
