//! Heredoc detection on an instruction line, following BuildKit: the line is split into
//! words the way its shell lexer splits them (quotes and escapes kept, unset variables left
//! as written, `<<` glued to the word after it even across spaces), and every word of the
//! form `[fd]<<[-]NAME` declares a heredoc. A quoted NAME disables expansion of the body.
//!
//! This is deliberately a small lexer of its own, not the `$VAR` expansion lexer in
//! `shell.rs`: it only has to find word boundaries and quoting, with no environment.

use super::shell::MAX_NESTING;

/// The lexer's escape character: always `\` for heredoc detection, whatever `# escape=` says.
const ESC: char = '\\';

/// A heredoc declared on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeredocMark {
    /// The delimiter word with quotes removed.
    pub name: String,
    /// False when any part of the delimiter was quoted.
    pub expand: bool,
    /// True for `<<-`.
    pub chomp: bool,
    /// Byte range of the declaring word in the line.
    pub start: usize,
    /// End of that range.
    pub end: usize,
}

/// The heredocs declared on `line`, in order. A line the lexer cannot split (an unterminated
/// quote, a bad `${`) declares none, as in BuildKit; an error is returned only when a heredoc
/// word itself cannot be read.
pub(crate) fn heredocs_in_line(line: &str) -> Result<Vec<HeredocMark>, String> {
    let words = match Lexer::new(line, true, true).words() {
        Ok(words) => words,
        // Too deep to read is an error of its own, not "no heredoc".
        Err(e) if e == too_deep() => return Err(e),
        Err(_) => return Ok(Vec::new()),
    };
    let mut marks = Vec::new();
    for word in words {
        if let Some((name, expand, chomp)) = heredoc_from_word(&word.text)? {
            marks.push(HeredocMark {
                name,
                expand,
                chomp,
                start: word.start,
                end: word.end,
            });
        }
    }
    Ok(marks)
}

/// Matches `^(\d*)<<(-?)\s*([^<]*)$` and reads the delimiter. Returns the name, whether the
/// body expands, and whether tabs are chomped.
fn heredoc_from_word(word: &str) -> Result<Option<(String, bool, bool)>, String> {
    let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(after) = after_fd.strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(['\t', '\n', '\x0c', '\r', ' ']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let words = Lexer::new(rest, false, false).words()?;
    let [word] = words.as_slice() else {
        return Ok(None);
    };
    let raw = Lexer::new(rest, true, false).words()?;
    let [raw_word] = raw.as_slice() else {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    };
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    let expand = quotes(&word.text) == quotes(&raw_word.text);
    Ok(Some((word.text.clone(), expand, chomp)))
}

/// A word and its byte range in the lexed text.
#[derive(Debug)]
struct Word {
    text: String,
    start: usize,
    end: usize,
}

/// Word accumulator with the shell lexer's splitting rules.
#[derive(Default)]
struct Words {
    list: Vec<Word>,
    buf: String,
    start: usize,
    in_word: bool,
}

impl Words {
    fn add(&mut self, ch: char, pos: usize) {
        if ch.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.flush(pos);
            }
        } else {
            self.add_raw(ch, pos);
        }
    }

    fn add_raw(&mut self, ch: char, pos: usize) {
        if self.buf.is_empty() {
            self.start = pos;
        }
        self.buf.push(ch);
        self.in_word = true;
    }

    fn add_str(&mut self, s: &str, pos: usize) {
        for ch in s.chars() {
            self.add(ch, pos);
        }
    }

    fn add_raw_str(&mut self, s: &str, pos: usize) {
        if self.buf.is_empty() {
            self.start = pos;
        }
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn flush(&mut self, end: usize) {
        let text = std::mem::take(&mut self.buf);
        self.list.push(Word {
            text,
            start: self.start,
            end,
        });
        self.in_word = false;
    }
}

/// The error for a line nesting `${…}` deeper than [`MAX_NESTING`].
fn too_deep() -> String {
    format!(
        "nesting too deep: more than {MAX_NESTING} levels of ${{…}} in one word (builder's limit)"
    )
}

/// The subset of BuildKit's shell lexer that decides word boundaries and quoting.
struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    raw_quotes: bool,
    raw_escapes: bool,
    /// `${…}` levels entered (bounded by [`MAX_NESTING`]).
    depth: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str, raw_quotes: bool, raw_escapes: bool) -> Self {
        Lexer {
            s,
            pos: 0,
            raw_quotes,
            raw_escapes,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.pos..).and_then(|r| r.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let ch = self.peek()?;
        self.pos += ch.len_utf8();
        Some(ch)
    }

    /// Splits the whole input into words.
    fn words(mut self) -> Result<Vec<Word>, String> {
        let mut words = Words::default();
        let raw = self.raw_escapes;
        self.process(None, raw, &mut words)?;
        if !words.buf.is_empty() {
            words.flush(self.s.len());
        }
        Ok(words.list)
    }

    /// Processes up to `stop` (or the end), returning the processed text and adding words.
    fn process(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
        words: &mut Words,
    ) -> Result<String, String> {
        if self.depth >= MAX_NESTING {
            return Err(too_deep());
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.process_inner(stop, words);
        self.raw_escapes = saved;
        self.depth -= 1;
        result
    }

    fn process_inner(&mut self, stop: Option<char>, words: &mut Words) -> Result<String, String> {
        let mut result = String::new();
        while let Some(ch) = self.peek() {
            let pos = self.pos;
            if Some(ch) == stop {
                self.bump();
                return Ok(result);
            }
            match ch {
                '$' => {
                    let text = self.dollar()?;
                    words.add_str(&text, pos);
                    result.push_str(&text);
                }
                '<' => {
                    let text = self.possible_heredoc();
                    words.add_raw_str(&text, pos);
                    result.push_str(&text);
                }
                '\'' => {
                    let text = self.single_quote()?;
                    words.add_raw_str(&text, pos);
                    result.push_str(&text);
                }
                '"' => {
                    let text = self.double_quote()?;
                    words.add_raw_str(&text, pos);
                    result.push_str(&text);
                }
                _ => {
                    self.bump();
                    if ch == ESC {
                        if self.raw_escapes {
                            words.add_raw(ch, pos);
                            result.push(ch);
                        }
                        let Some(next) = self.bump() else { break };
                        words.add_raw(next, pos);
                        result.push(next);
                    } else {
                        words.add(ch, pos);
                        result.push(ch);
                    }
                }
            }
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok(result),
        }
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        if let Some(open) = self.bump() {
            if self.raw_quotes {
                out.push(open);
            }
        }
        loop {
            match self.bump() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        if let Some(open) = self.bump() {
            if self.raw_quotes {
                out.push(open);
            }
        }
        loop {
            match self.peek() {
                end @ (None | Some('"')) => {
                    self.bump();
                    return super::shell::end_double_quote(end, out, self.raw_quotes);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(_) => {
                    let Some(mut ch) = self.bump() else { continue };
                    if ch == ESC {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some('"' | '$' | ESC) => {
                                if let Some(next) = self.bump() {
                                    ch = next;
                                }
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    /// `$name`, `${name}` and `${name<op>word}` with no variable set: kept as written.
    fn dollar(&mut self) -> Result<String, String> {
        self.bump();
        if self.peek() != Some('{') {
            let name = self.name();
            return Ok(format!("${name}"));
        }
        self.bump();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        match self.bump() {
            Some('}') => Ok(format!("${{{name}}}")),
            Some(op @ (':' | '+' | '-' | '?' | '#' | '%')) => {
                let mut ops = op.to_string();
                let mut modifier = op;
                if op == ':' {
                    if let Some(next) = self.bump() {
                        ops.push(next);
                        modifier = next;
                    }
                }
                let raw = modifier == '#' || modifier == '%';
                if op == ':' && raw {
                    return Err(format!("unsupported modifier ({ops}) in substitution"));
                }
                let word = self.nested(Some('}'), raw, "syntax error: missing '}'")?;
                Ok(format!("${{{name}{ops}{word}}}"))
            }
            Some('/') => {
                if self.peek() == Some('/') {
                    self.bump();
                }
                let pattern = self.nested(Some('/'), true, "syntax error: missing '/' in ${}")?;
                let replacement = self.nested(Some('}'), true, "syntax error: missing '}'")?;
                Ok(format!("${{{name}/{pattern}/{replacement}}}"))
            }
            other => Err(format!(
                "unsupported modifier ({}) in substitution",
                other.map(String::from).unwrap_or_default()
            )),
        }
    }

    /// A nested word inside `${...}`; at the end of input the error is `at_end`.
    fn nested(&mut self, stop: Option<char>, raw: bool, at_end: &str) -> Result<String, String> {
        let mut scratch = Words::default();
        self.process(stop, raw, &mut scratch).map_err(|e| {
            if self.peek().is_none() && e != too_deep() {
                at_end.to_string()
            } else {
                e
            }
        })
    }

    /// A variable name: digits, one special parameter, or letters/digits/underscores.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && pest::unicode::DECIMAL_NUMBER(ch) {
                while let Some(d) = self.peek().filter(|&d| pest::unicode::DECIMAL_NUMBER(d)) {
                    self.bump();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.bump();
                name.push(ch);
                return name;
            }
            if !(pest::unicode::LETTER(ch) || pest::unicode::DECIMAL_NUMBER(ch) || ch == '_') {
                break;
            }
            self.bump();
            name.push(ch);
        }
        name
    }

    /// `<<` plus any spaces/tabs after it, glued into one token; a lone `<` is itself.
    fn possible_heredoc(&mut self) -> String {
        self.bump();
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.bump();
        let mut out = String::from("<<");
        while let Some(ch) = self.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            self.bump();
            out.push(ch);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<(String, bool, bool)> {
        heredocs_in_line(line)
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.expand, m.chomp))
            .collect()
    }

    #[test]
    fn finds_plain_chomped_and_quoted() {
        assert_eq!(
            names("RUN cat <<EOF <<-'TWO' 3<<\"THREE\""),
            vec![
                ("EOF".into(), true, false),
                ("TWO".into(), false, true),
                ("THREE".into(), false, false)
            ]
        );
    }

    #[test]
    fn space_after_arrows_still_declares() {
        assert_eq!(names("RUN cat << EOF"), vec![("EOF".into(), true, false)]);
    }

    #[test]
    fn glued_or_quoted_arrows_do_not_declare() {
        assert!(names("RUN cat<<EOF").is_empty());
        assert!(names("RUN echo \"<<EOF\"").is_empty());
        assert!(names("RUN echo <<<EOF").is_empty());
    }

    #[test]
    fn unlexable_line_declares_nothing() {
        assert!(names("RUN cat <<EOF 'unterminated").is_empty());
        assert!(names("RUN cat <<EOF ${").is_empty());
    }

    #[test]
    fn partially_quoted_name_disables_expansion() {
        assert_eq!(
            names("COPY <<E\"O\"F /x"),
            vec![("EOF".into(), false, false)]
        );
    }

    #[test]
    fn reports_word_range() {
        let marks = heredocs_in_line("RUN cat <<EOF").unwrap();
        assert_eq!((marks[0].start, marks[0].end), (8, 13));
    }
}
