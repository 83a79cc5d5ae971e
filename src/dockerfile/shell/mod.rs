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

use walker::Walker;

mod modifiers;
mod pattern;
#[cfg(test)]
mod tests;
mod walker;
mod words;

pub use super::limits::{MAX_NESTING, MAX_WORD_BYTES};

/// The reason given when a word nests deeper than [`MAX_NESTING`].
fn too_deep() -> String {
    format!(
        "nesting too deep: more than {MAX_NESTING} levels of ${{…}} in one word (builder's limit)"
    )
}

/// Ends a double-quoted string at `end`, the character after its body
/// (`None`: the input ended first; else the closing `"`, already consumed),
/// as BuildKit's `processDoubleQuote` does: the error for an unclosed quote,
/// or `out` with the closing quote kept when quotes are kept raw. Shared by
/// the shell lexer and the heredoc scanner, which must agree on both.
pub(crate) fn end_double_quote(
    end: Option<char>,
    mut out: String,
    raw_quotes: bool,
) -> Result<String, String> {
    match end {
        None => Err("unexpected end of statement while looking for matching double-quote".into()),
        Some(q) => {
            if raw_quotes {
                out.push(q);
            }
            Ok(out)
        }
    }
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

impl fmt::Display for Expansion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.result)
    }
}
