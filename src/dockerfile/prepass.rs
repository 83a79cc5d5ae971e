//! The line-level pass that runs before the grammar: parser directives (which choose the
//! escape character), comments, blank lines, line continuations and heredoc bodies.
//!
//! This is the state pest cannot carry. It follows BuildKit's scanner loop: a logical line
//! starts at a non-empty, non-comment physical line and extends while lines end in the escape
//! character; comment lines and white-space-only lines inside a continuation are skipped
//! (the latter with a warning). Heredoc bodies are read on request, after the grammar has
//! decided that the logical line owns heredocs.

use super::ast::Directives;
use crate::diag::Diagnostic;

/// Where a piece of a logical line came from: byte `offset` in the joined text maps to byte
/// `column` of physical line `line` (1-based).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// One instruction's text with continuations joined.
#[derive(Debug)]
pub(crate) struct LogicalLine {
    /// The joined text (BuildKit's `Original`): first line left-trimmed, escape characters
    /// at line ends removed.
    pub text: String,
    /// First physical line (1-based).
    pub start_line: usize,
    /// Last physical line consumed so far (1-based).
    pub end_line: usize,
    /// Offset map back into the source, in increasing `offset` order.
    pub segments: Vec<Segment>,
}

impl LogicalLine {
    /// The physical line and byte column of byte `offset` of the joined text.
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        let idx = self.segments.partition_point(|s| s.offset <= offset);
        match self.segments.get(idx.saturating_sub(1)) {
            Some(seg) => (seg.line, seg.column + offset.saturating_sub(seg.offset)),
            None => (self.start_line, 0),
        }
    }
}

/// A heredoc body read by [`Lines::heredoc_body`].
pub(crate) struct HeredocBody {
    /// The text (tabs removed for `<<-`).
    pub text: String,
    /// The bytes of the file when they differ from `text` (a file that is not UTF-8).
    pub raw: Option<Vec<u8>>,
    /// Whether the body as written (before `<<-` removes tabs) starts with `#!`.
    pub shebang: bool,
}

/// A cursor over the physical lines of a Dockerfile.
pub(crate) struct Lines<'a> {
    source: &'a str,
    /// Physical lines, each with its line ending (if any).
    lines: Vec<&'a str>,
    /// The same lines as bytes of the file, when the file was not UTF-8 (`lines` then hold
    /// the decoded text, see `source.rs`).
    raw: Option<Vec<&'a [u8]>>,
    /// Index of the next unread line (= number of lines read so far).
    next: usize,
    directives: DirectiveScanner,
    /// The parser directives seen.
    pub directives_found: Directives,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
}

impl<'a> Lines<'a> {
    /// Splits `source` into physical lines (keeping line endings).
    pub fn new(source: &'a str) -> Self {
        Lines {
            source,
            lines: source.split_inclusive('\n').collect(),
            raw: None,
            next: 0,
            directives: DirectiveScanner::default(),
            directives_found: Directives::default(),
            warnings: Vec::new(),
        }
    }

    /// Like [`Self::new`] for `source` decoded from the bytes `raw`: line lengths are checked
    /// on the bytes, and heredoc bodies keep them.
    pub fn with_raw(source: &'a str, raw: &'a [u8]) -> Self {
        let mut lines = Self::new(source);
        let raw: Vec<&[u8]> = raw.split_inclusive(|b| *b == b'\n').collect();
        debug_assert_eq!(raw.len(), lines.lines.len());
        lines.raw = Some(raw);
        lines
    }

    /// Fails when physical line `index` (0-based) is longer than BuildKit reads.
    fn check_length(&self, index: usize) -> Result<(), Diagnostic> {
        let len = match &self.raw {
            Some(raw) => raw
                .get(index)
                .map_or(0, |l| l.strip_suffix(b"\n").unwrap_or(l).len()),
            None => self
                .lines
                .get(index)
                .map_or(0, |l| l.strip_suffix('\n').unwrap_or(l).len()),
        };
        if len > super::source::MAX_LINE {
            return Err(super::source::line_too_long(self.source, index + 1, len));
        }
        Ok(())
    }

    /// The escape character in effect.
    pub fn escape(&self) -> char {
        self.directives_found.escape
    }

    /// Number of physical lines read so far (the current 1-based line number).
    pub fn line_number(&self) -> usize {
        self.next
    }

    /// The text of physical line `line` (1-based) without its line ending.
    pub fn physical(&self, line: usize) -> &'a str {
        line.checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map(|l| trim_newline(l))
            .unwrap_or("")
    }

    /// The whole source text.
    pub fn source(&self) -> &'a str {
        self.source
    }

    /// Reads the next logical line, or `None` at the end of the file.
    pub fn next_logical(&mut self) -> Result<Option<LogicalLine>, Diagnostic> {
        while let Some(&raw) = self.lines.get(self.next) {
            self.check_length(self.next)?;
            let mut raw = raw;
            if self.next == 0 {
                raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
            }
            let bom = self.lines[self.next].len() - raw.len();
            let line_no = self.next + 1;
            let body = trim_newline(raw);
            let trimmed = body.trim_start();
            let lead = bom + (body.len() - trimmed.len());
            self.directive(trimmed, line_no, lead)?;
            self.next += 1;
            // Comments (directives included) are dropped; an empty line starts nothing.
            let content = if is_comment(trimmed) { "" } else { trimmed };
            let (content, mut end) = self.trim_continuation(content);
            if end && content.is_empty() {
                continue;
            }
            let mut logical = LogicalLine {
                text: String::with_capacity(content.len()),
                start_line: line_no,
                end_line: line_no,
                segments: vec![Segment {
                    offset: 0,
                    line: line_no,
                    column: lead,
                }],
            };
            logical.text.push_str(content);
            let mut empty_continuation = false;
            while !end {
                let Some(&raw) = self.lines.get(self.next) else {
                    break;
                };
                self.check_length(self.next)?;
                self.next += 1;
                logical.end_line = self.next;
                let body = trim_newline(raw);
                if is_comment(body) {
                    continue;
                }
                if body.trim_start().is_empty() {
                    empty_continuation = true;
                    continue;
                }
                let (content, is_end) = self.trim_continuation(body);
                end = is_end;
                logical.segments.push(Segment {
                    offset: logical.text.len(),
                    line: self.next,
                    column: 0,
                });
                logical.text.push_str(content);
            }
            if empty_continuation {
                self.warnings.push(format!(
                    "line {}: empty continuation line found in: {} (empty continuation lines \
                     will become errors in a future release)",
                    logical.start_line, logical.text
                ));
            }
            return Ok(Some(logical));
        }
        Ok(None)
    }

    /// Reads a heredoc body up to the line `name` (after leading tabs when `chomp`).
    /// Returns `None` when the file ends first. Body lines keep their line endings; with
    /// `chomp` their leading tabs are removed (see [`HeredocBody`]).
    pub fn heredoc_body(
        &mut self,
        name: &str,
        chomp: bool,
    ) -> Result<Option<HeredocBody>, Diagnostic> {
        let mut content = String::new();
        let mut raw_content: Vec<u8> = Vec::new();
        let shebang = self
            .lines
            .get(self.next)
            .is_some_and(|first| first.starts_with("#!"));
        while let Some(&raw) = self.lines.get(self.next) {
            self.check_length(self.next)?;
            let bytes = self.raw.as_ref().map(|r| r[self.next]);
            self.next += 1;
            let candidate = trim_newline(raw);
            let candidate = if chomp {
                candidate.trim_start_matches('\t')
            } else {
                candidate
            };
            if candidate == name {
                let raw_body = (self.raw.is_some() && raw_content != content.as_bytes())
                    .then_some(raw_content);
                return Ok(Some(HeredocBody {
                    text: content,
                    raw: raw_body,
                    shebang,
                }));
            }
            content.push_str(if chomp {
                raw.trim_start_matches('\t')
            } else {
                raw
            });
            if content.len() > super::limits::MAX_HEREDOC_BYTES {
                let message = format!(
                    "heredoc too large: the body of `{name}` passes {} bytes (16 MiB, \
                     builder's limit)",
                    super::limits::MAX_HEREDOC_BYTES
                );
                return Err(Diagnostic::at(self.source, self.next, 1, message));
            }
            if let Some(mut b) = bytes {
                while chomp && b.first() == Some(&b'\t') {
                    b = &b[1..];
                }
                raw_content.extend_from_slice(b);
            }
        }
        Ok(None)
    }

    /// Removes a line-continuation escape character at the end of `line`: the escape
    /// character followed only by spaces/tabs, not itself preceded by the escape character.
    /// Returns the remaining text and whether the logical line ends here.
    fn trim_continuation<'s>(&self, line: &'s str) -> (&'s str, bool) {
        let esc = self.escape();
        let body = line.trim_end_matches([' ', '\t']);
        match body.strip_suffix(esc) {
            Some(before) if !before.ends_with(esc) => (before, false),
            _ => (line, true),
        }
    }

    /// Feeds a left-trimmed physical line to the directive scanner.
    fn directive(&mut self, trimmed: &str, line_no: usize, lead: usize) -> Result<(), Diagnostic> {
        let Some(found) = self.directives.scan(trimmed) else {
            return Ok(());
        };
        let source_line = self.physical(line_no);
        let at = |offset: usize, width: usize, msg: String| {
            let column = char_column(source_line, lead + offset);
            Diagnostic::at(self.source, line_no, column, msg).width(width)
        };
        let value_width = found.value.chars().count();
        if found.duplicate {
            return Err(at(
                0,
                trimmed.chars().count(),
                format!("only one {} parser directive can be used", found.name),
            )
            .help("remove the repeated directive"));
        }
        match found.name {
            "escape" => match found.value {
                "\\" => self.directives_found.escape = '\\',
                "`" => self.directives_found.escape = '`',
                other => {
                    return Err(at(
                        found.value_offset,
                        value_width,
                        format!("invalid escape token '{other}' does not match ` or \\"),
                    )
                    .help("use `# escape=\\` (the default) or `# escape=``"))
                }
            },
            "syntax" => self.directives_found.syntax = Some(found.value.to_string()),
            _ => self.directives_found.check = Some(found.value.to_string()),
        }
        Ok(())
    }
}

/// A parser directive found on a line.
struct FoundDirective<'s> {
    name: &'static str,
    value: &'s str,
    /// Byte offset of the value in the left-trimmed line.
    value_offset: usize,
    duplicate: bool,
}

/// BuildKit's directive rules: directives are `# name=value` comment lines at the very top;
/// the first line that is anything else (another comment, a blank line, an instruction, an
/// unknown directive) ends the directive section for good.
#[derive(Default)]
struct DirectiveScanner {
    done: bool,
    seen: Vec<&'static str>,
}

impl DirectiveScanner {
    fn scan<'s>(&mut self, line: &'s str) -> Option<FoundDirective<'s>> {
        if self.done {
            return None;
        }
        let found = parse_directive(line);
        let Some((name, value, value_offset)) = found else {
            self.done = true;
            return None;
        };
        let duplicate = self.seen.contains(&name);
        self.seen.push(name);
        Some(FoundDirective {
            name,
            value,
            value_offset,
            duplicate,
        })
    }
}

/// Go's `\s` class: `[\t\n\f\r ]`.
fn is_go_regex_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// Matches `#` + white space + `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` and a known name.
/// Returns the lower-case name, the value and its byte offset in `line`.
fn parse_directive(line: &str) -> Option<(&'static str, &str, usize)> {
    let after_hash = line.strip_prefix('#')?;
    let body = after_hash.trim_start();
    let name_len = body
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(body.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let name = match body[..name_len].to_ascii_lowercase().as_str() {
        "syntax" => "syntax",
        "escape" => "escape",
        "check" => "check",
        _ => return None,
    };
    let after_name = body[name_len..].trim_start_matches(is_go_regex_space);
    let after_eq = after_name.strip_prefix('=')?;
    if after_eq.is_empty() {
        return None;
    }
    // `\s*` is greedy but must leave at least one character for `.+?`.
    let eq_end = line.len() - after_eq.len();
    let lead = after_eq.len() - after_eq.trim_start_matches(is_go_regex_space).len();
    let (value, value_offset) = if lead == after_eq.len() {
        let last = after_eq.char_indices().last().map_or(0, |(i, _)| i);
        (&after_eq[last..], eq_end + last)
    } else {
        (
            after_eq[lead..].trim_end_matches(is_go_regex_space),
            eq_end + lead,
        )
    };
    Some((name, value, value_offset))
}

/// Removes trailing `\r` and `\n` characters.
pub(crate) fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// A comment line: `#` after optional white space.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// The 1-based character column of byte `offset` in `line` (clamped to the line).
pub(crate) fn char_column(line: &str, offset: usize) -> usize {
    let mut end = offset.min(line.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].chars().count() + 1
}
