//! The shell-word lexer: `$VAR` expansion, quote removal and word splitting
//! with the semantics of BuildKit's `shell.Lex` (a small, deliberate subset
//! of POSIX sh parameter expansion).
//!
//! Supported forms: `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`,
//! `${V:?msg}`, `${V?msg}`, `${V#p}`, `${V##p}`, `${V%s}`, `${V%%s}`,
//! `${V/p/r}` and `${V//p/r}`; single and double quotes; a configurable
//! escape character (`\` or `` ` ``). Positional (`$1`) and special (`$@`,
//! `$#`, …) parameters are recognised but never set, as in a Dockerfile.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

pub use super::limits::{MAX_NESTING, MAX_WORD_BYTES};

/// The reason given when a word nests deeper than [`MAX_NESTING`].
fn too_deep() -> String {
    format!(
        "nesting too deep: more than {MAX_NESTING} levels of ${{…}} in one word (builder's limit)"
    )
}

/// The reason given when a word expands past [`MAX_WORD_BYTES`].
fn too_long() -> String {
    format!(
        "expansion too large: the word expands to more than {MAX_WORD_BYTES} bytes (1 MiB, \
         builder's limit)"
    )
}

/// Fails before `add` more bytes are appended to a result of `len` bytes if that would pass
/// [`MAX_WORD_BYTES`]: a chain that quadruples a value stops before copying it again.
fn fits(len: usize, add: usize) -> Result<(), String> {
    if len.saturating_add(add) > MAX_WORD_BYTES {
        return Err(too_long());
    }
    Ok(())
}

/// Where variable values come from during expansion.
pub trait Lookup {
    /// The value of `name`, or `None` when it is not set (set-but-empty is `Some("")`).
    fn get(&self, name: &str) -> Option<&str>;
}

impl Lookup for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Lookup for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// An ordered list of `(name, value)`; the last entry for a name wins, like
/// an environment built up by successive `ENV` instructions.
impl Lookup for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Lookup for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Lookup::get(self.as_slice(), name)
    }
}

/// Why a word could not be expanded. The word is shown cut to 200 characters: a hostile one
/// may be megabytes long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {:?}: {reason}", shorten(word))]
pub struct ExpandError {
    /// The word as given to the lexer.
    pub word: String,
    /// What went wrong (BuildKit's wording).
    pub reason: String,
}

/// `word` cut to its first 200 characters (with `…` when cut).
fn shorten(word: &str) -> std::borrow::Cow<'_, str> {
    match word.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &word[..cut]).into(),
        None => word.into(),
    }
}

/// The full result of expanding one word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// The word after expansion (and quote removal unless quotes are kept).
    pub result: String,
    /// The same text split into words at unquoted whitespace.
    pub words: Vec<String>,
    /// Variable names referenced that were set.
    pub matched: BTreeSet<String>,
    /// Variable names referenced that were not set.
    pub unmatched: BTreeSet<String>,
}

/// Expands variables in Dockerfile words. Cheap to build; holds no state
/// between calls, so one lexer may be shared freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_quotes: bool,
    skip_unset: bool,
}

impl Lexer {
    /// A lexer using `escape` (`\` or `` ` ``) as the escape character.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_quotes: false,
            skip_unset: false,
        }
    }

    /// Keep quote characters in the result (BuildKit's `RawQuotes`).
    pub fn keep_quotes(mut self, on: bool) -> Self {
        self.raw_quotes = on;
        self
    }

    /// Keep escape characters in the result (BuildKit's `RawEscapes`).
    pub fn keep_escapes(mut self, on: bool) -> Self {
        self.raw_escapes = on;
        self
    }

    /// Treat quotes as ordinary characters (BuildKit's `SkipProcessQuotes`),
    /// as used for the bodies of expanding heredocs.
    pub fn skip_quotes(mut self, on: bool) -> Self {
        self.skip_quotes = on;
        self
    }

    /// Leave references to unset variables as written (BuildKit's `SkipUnsetEnv`).
    pub fn skip_unset(mut self, on: bool) -> Self {
        self.skip_unset = on;
        self
    }

    /// The escape character in use.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// Expands `word` into one string (whitespace kept).
    pub fn process_word(&self, word: &str, env: &dyn Lookup) -> Result<String, ExpandError> {
        self.process_unsplit(word, env).map(|e| e.result)
    }

    /// Expands `word` and splits the result into words at unquoted whitespace.
    pub fn process_words(&self, word: &str, env: &dyn Lookup) -> Result<Vec<String>, ExpandError> {
        self.process(word, env).map(|e| e.words)
    }

    /// Expands `word`, reporting the result, its words and which variables it used.
    pub fn process(&self, word: &str, env: &dyn Lookup) -> Result<Expansion, ExpandError> {
        self.expand(word, env, true)
    }

    /// [`Lexer::process`] without splitting into words (`words` is empty): for callers
    /// that use only the result, which spares a second pass over a large expanded value.
    pub fn process_unsplit(&self, word: &str, env: &dyn Lookup) -> Result<Expansion, ExpandError> {
        self.expand(word, env, false)
    }

    fn expand(&self, word: &str, env: &dyn Lookup, split: bool) -> Result<Expansion, ExpandError> {
        let mut w = Walker {
            split,
            lex: self,
            chars: word.chars().collect(),
            pos: 0,
            env,
            raw_escapes: self.raw_escapes,
            depth: 0,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        };
        match w.until(None, self.raw_escapes) {
            Ok((result, words)) => Ok(Expansion {
                result,
                words,
                matched: w.matched,
                unmatched: w.unmatched,
            }),
            Err(reason) => Err(ExpandError {
                word: word.to_string(),
                reason,
            }),
        }
    }
}

/// Accumulates words while text is appended: unquoted whitespace ends a word,
/// quoted or escaped characters never do.
struct Words {
    /// Off when the caller does not want words (and inside `${…}`, whose words are
    /// never used): every push is then a no-op.
    on: bool,
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn new(on: bool) -> Self {
        Words {
            on,
            buf: String::new(),
            words: Vec::new(),
            in_word: false,
        }
    }

    fn push_char(&mut self, c: char) {
        if !self.on {
            return;
        }
        if c.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.push_raw_char(c);
        }
    }

    fn push_raw_char(&mut self, c: char) {
        if !self.on {
            return;
        }
        self.buf.push(c);
        self.in_word = true;
    }

    /// Appends `s` as unquoted text: whitespace-free runs are copied whole (an expanded
    /// value can be a mebibyte), each whitespace character may end a word.
    fn push_str(&mut self, s: &str) {
        if !self.on {
            return;
        }
        let mut rest = s;
        while let Some(at) = rest.find(char::is_whitespace) {
            if at > 0 {
                self.push_raw_str(&rest[..at]);
            }
            let ws = rest[at..].chars().next().unwrap_or(' ');
            self.push_char(ws);
            rest = &rest[at + ws.len_utf8()..];
        }
        if !rest.is_empty() {
            self.push_raw_str(rest);
        }
    }

    fn push_raw_str(&mut self, s: &str) {
        if !self.on {
            return;
        }
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(self.buf);
        }
        self.words
    }
}

/// One pass over one word.
struct Walker<'a> {
    lex: &'a Lexer,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn Lookup,
    /// Whether the top level splits its result into words.
    split: bool,
    raw_escapes: bool,
    /// How many `${…}` the walker is inside (bounded by [`MAX_NESTING`]).
    depth: usize,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

impl Walker<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
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
    fn until(
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
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    if self.lex.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
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

    /// `${name<op>word}` for the `-`, `+`, `?`, `#` and `%` families.
    fn modifier(&mut self, name: String, first: char) -> Result<String, String> {
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
        let word = match self.until(Some('}'), pattern_op) {
            Ok((w, _)) => w,
            Err(e) if self.peek().is_none() && e != too_deep() => {
                return Err("syntax error: missing '}'".into())
            }
            Err(e) => return Err(e),
        };
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
    fn replace(&mut self, name: String) -> Result<String, String> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let pattern = match self.until(Some('/'), true) {
            Ok((w, _)) => w,
            Err(e) if self.peek().is_none() && e != too_deep() => {
                return Err("syntax error: missing '/' in ${}".into())
            }
            Err(e) => return Err(e),
        };
        let replacement = match self.until(Some('}'), true) {
            Ok((w, _)) => w,
            Err(e) if self.peek().is_none() && e != too_deep() => {
                return Err("syntax error: missing '}'".into())
            }
            Err(e) => return Err(e),
        };
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

/// Translates a shell pattern (`*`, `?`, `\` escapes; no bracket
/// expressions) into a regular expression. `*` is lazy unless `greedy`.
fn pattern_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<regex::Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => out.push('.'),
            '\\' => {
                // `\}` and `\/` only protect the character from ending the
                // `${…}`; they are not part of the pattern.
                if matches!(chars.peek(), Some('}' | '/')) {
                    continue;
                }
                match chars.next() {
                    Some(e @ ('*' | '?' | '\\')) => {
                        out.push('\\');
                        out.push(e);
                    }
                    Some(e) => return Err(format!("invalid escape '\\{e}'")),
                    None => return Err("invalid escape at end of pattern".into()),
                }
            }
            _ => {
                let mut buf = [0u8; 4];
                out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
            }
        }
    }
    regex::Regex::new(&out).map_err(|e| e.to_string())
}

fn trim_prefix(pattern: &str, value: &str, longest: bool) -> Result<String, String> {
    let re = pattern_regex(pattern, longest, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// Regular expressions find the leftmost match, so the shortest or longest
/// suffix is found by reversing both the value and the pattern.
fn trim_suffix(pattern: &str, value: &str, longest: bool) -> Result<String, String> {
    let reversed_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed_value, longest)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern while keeping each `\x` escape pair in order.
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut units: Vec<String> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            units.push(chars[i..i + 2].iter().collect());
            i += 2;
        } else {
            units.push(chars[i].to_string());
            i += 1;
        }
    }
    units.reverse();
    units.concat()
}

impl fmt::Display for Expansion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn word(w: &str, e: &[(&str, &str)]) -> Result<String, ExpandError> {
        Lexer::new('\\').process_word(w, &env(e))
    }

    #[test]
    fn pattern_trims() {
        let e = [("P", "/usr/local/bin/tool.tar.gz")];
        assert_eq!(word("${P#*/}", &e).unwrap(), "usr/local/bin/tool.tar.gz");
        assert_eq!(word("${P##*/}", &e).unwrap(), "tool.tar.gz");
        assert_eq!(word("${P%.*}", &e).unwrap(), "/usr/local/bin/tool.tar");
        assert_eq!(word("${P%%.*}", &e).unwrap(), "/usr/local/bin/tool");
        assert_eq!(
            word("${P#nomatch}", &e).unwrap(),
            "/usr/local/bin/tool.tar.gz"
        );
        assert_eq!(word("${P%\\*}", &e).unwrap(), "/usr/local/bin/tool.tar.gz");
        assert!(word("${P:#x}", &e).is_err());
    }

    #[test]
    fn replacements() {
        let e = [("V", "a.b.c")];
        assert_eq!(word("${V/./-}", &e).unwrap(), "a-b.c");
        assert_eq!(word("${V//./-}", &e).unwrap(), "a-b-c");
        assert_eq!(word("${V//?/x}", &e).unwrap(), "xxxxx");
        assert_eq!(word("${V/\\//x}", &[("V", "a/b")]).unwrap(), "axb");
        assert_eq!(word("${V//./$$}", &e).unwrap(), "abc");
        assert!(word("${V/x", &e).is_err());
    }

    #[test]
    fn error_and_unset_reporting() {
        let err = word("${X:?must be set}", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to process \"${X:?must be set}\": X: must be set"
        );
        let r = Lexer::new('\\')
            .process("$A ${B:-x}", &env(&[("A", "1")]))
            .unwrap();
        assert_eq!(r.matched.iter().collect::<Vec<_>>(), ["A"]);
        assert_eq!(r.unmatched.iter().collect::<Vec<_>>(), ["B"]);
    }

    #[test]
    fn backtick_escape_and_raw_modes() {
        let lex = Lexer::new('`');
        assert_eq!(
            lex.process_word("a`$B c\\d", &env(&[])).unwrap(),
            "a$B c\\d"
        );
        let keep = Lexer::new('\\').keep_quotes(true);
        assert_eq!(
            keep.process_word("'$A' \"$A\"", &env(&[("A", "x")]))
                .unwrap(),
            "'$A' \"x\""
        );
        let heredoc = Lexer::new('\\').skip_quotes(true);
        assert_eq!(
            heredoc
                .process_word("echo '$A'", &env(&[("A", "x")]))
                .unwrap(),
            "echo 'x'"
        );
        let unset = Lexer::new('\\').skip_unset(true);
        assert_eq!(
            unset
                .process_word("$A ${B} ${C:-d}", &env(&[("A", "x")]))
                .unwrap(),
            "x ${B} ${C:-d}"
        );
    }

    #[test]
    fn nested_default_keeps_word_prefix() {
        let words = Lexer::new('\\')
            .process_words("ab${X:-c d} e", &env(&[]))
            .unwrap();
        assert_eq!(words, ["abc", "d", "e"]);
    }
}
