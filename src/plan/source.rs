//! Turning "this flag of that instruction is wrong" into a [`Diagnostic`]
//! with the caret under the flag: the AST keeps only the instruction's first
//! and last line, so the flag text is searched for in those source lines.

use crate::diag::Diagnostic;
use crate::dockerfile::Instruction;
use std::sync::Arc;

/// The Dockerfile text (shared by the plan and its evaluators) and its name.
#[derive(Debug, Clone)]
pub struct SourceText {
    text: Arc<str>,
    file: String,
    labs: bool,
    frontend: bool,
}

impl SourceText {
    /// Wraps the Dockerfile text; `file` is the name shown in diagnostics.
    pub fn new(text: &str, file: &str) -> Self {
        SourceText {
            text: Arc::from(text),
            file: file.to_string(),
            labs: false,
            frontend: false,
        }
    }

    /// Marks the text as written for a labs frontend (its `# syntax=` names one, e.g.
    /// `docker/dockerfile:1.7-labs`): only then are labs flags (`COPY --parents`,
    /// `--exclude`) accepted. Docker 26.1's built-in frontend (BuildKit 0.13, Dockerfile
    /// 1.7) fails them `unknown flag: parents`.
    pub fn with_labs(mut self, labs: bool) -> Self {
        self.labs = labs;
        self
    }

    /// Whether labs flags are accepted (see [`SourceText::with_labs`]).
    pub fn labs(&self) -> bool {
        self.labs
    }

    /// Marks the text as naming a frontend of its own (`# syntax=`): flags newer than
    /// Docker 26.1's built-in frontend (`ADD --unpack`, Dockerfile 1.17) are accepted only
    /// then; without it they fail `unknown flag: unpack` as in Docker 26.1.
    pub fn with_frontend(mut self, named: bool) -> Self {
        self.frontend = named;
        self
    }

    /// Whether a frontend is named (see [`SourceText::with_frontend`]).
    pub fn frontend(&self) -> bool {
        self.frontend
    }

    fn line(&self, n: usize) -> Option<&str> {
        n.checked_sub(1).and_then(|i| self.text.lines().nth(i))
    }

    /// A diagnostic at `line`/`column` spanning `width` characters. When the
    /// text is unknown, the instruction's own text stands in for the line.
    fn at(
        &self,
        inst: &Instruction,
        line: usize,
        column: usize,
        width: usize,
        msg: String,
    ) -> Diagnostic {
        let d = if self.line(line).is_some() {
            Diagnostic::at(&self.text, line, column, msg)
        } else {
            let mut d = Diagnostic::at("", 0, 1, msg);
            d.line = line.max(1);
            d.column = column.max(1);
            d.source_line = inst.original.lines().next().unwrap_or("").to_string();
            d
        };
        d.width(width).in_file(self.file.clone())
    }

    /// A diagnostic under the instruction keyword.
    pub fn at_keyword(&self, inst: &Instruction, msg: impl Into<String>) -> Diagnostic {
        let width = inst.keyword.chars().count();
        self.at(inst, inst.span.line, inst.span.column, width, msg.into())
    }

    /// A diagnostic under `needle` searched from the keyword onwards (the
    /// `skip`-th occurrence), or under the keyword if it is not found.
    pub fn at_text(
        &self,
        inst: &Instruction,
        needle: &str,
        skip: usize,
        msg: impl Into<String>,
    ) -> Diagnostic {
        match self.find(inst, needle, skip) {
            Some((line, col)) => self.at(inst, line, col, needle.chars().count(), msg.into()),
            None => self.at_keyword(inst, msg),
        }
    }

    /// A diagnostic under part of flag number `index` of `inst`: `offset`
    /// characters into the flag and `width` wide (whole flag when `None`).
    pub fn at_flag(
        &self,
        inst: &Instruction,
        index: usize,
        part: Option<(usize, usize)>,
        msg: impl Into<String>,
    ) -> Diagnostic {
        let Some(flag) = inst.flags.get(index) else {
            return self.at_keyword(inst, msg);
        };
        // Identical earlier flags are found first, so skip past them.
        let skip = inst.flags[..index].iter().filter(|f| *f == flag).count();
        match self.find(inst, flag, skip) {
            Some((line, col)) => {
                let (off, width) = part.unwrap_or((0, flag_name_len(flag)));
                self.at(inst, line, col + off, width, msg.into())
            }
            None => self.at_keyword(inst, msg),
        }
    }

    /// 1-based line and column of the `skip`-th occurrence of `needle` within
    /// the instruction's lines, after the keyword.
    fn find(&self, inst: &Instruction, needle: &str, mut skip: usize) -> Option<(usize, usize)> {
        let end = inst.span.end_line.max(inst.span.line);
        // One pass over the text: looking each line up from the start made an error in a
        // long continued instruction (9,000 lines) quadratic.
        let first = inst.span.line.checked_sub(1)?;
        let lines = self.text.lines().enumerate().skip(first);
        // The needle (a whole word, up to the 1 MiB bound) is prepared once, not per line.
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        for (n, text) in lines.take(end - first).map(|(i, t)| (i + 1, t)) {
            let start_char = if n == inst.span.line {
                inst.span.column.saturating_sub(1)
            } else {
                0
            };
            let start_byte = text
                .char_indices()
                .nth(start_char)
                .map_or(text.len(), |(b, _)| b);
            let mut from = start_byte;
            while let Some(found) = text
                .get(from..)
                .filter(|rest| rest.len() >= needle.len())
                .and_then(|rest| finder.find(rest.as_bytes()))
            {
                let byte = from + found;
                if skip == 0 {
                    return Some((n, text[..byte].chars().count() + 1));
                }
                skip -= 1;
                from = byte + needle.len().max(1);
            }
        }
        None
    }
}

/// Width of `--name` in `--name=value`.
fn flag_name_len(flag: &str) -> usize {
    flag.split('=').next().unwrap_or(flag).chars().count()
}
