//! From source text to the AST: the pre-pass hands over logical lines, the pest grammar
//! (`grammar/dockerfile.pest`) splits each into keyword, flags and arguments, and the
//! per-instruction argument rules below mirror BuildKit's line parsers.

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::{Dockerfile, Heredoc, Instruction, Span};
use super::dump::go_quote;
use super::fast;
use super::heredoc::heredocs_in_line;
use super::limits;
use super::prepass::{char_column, Lines, LogicalLine};
use super::validate;
use crate::diag::Diagnostic;
use exec_form::{maybe_json, try_json};

mod exec_form;
#[cfg(test)]
mod tests;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/dockerfile.pest"]
pub(super) struct Grammar;

/// An error inside one logical line, located by byte offsets into its joined text.
#[derive(Debug)]
pub(crate) struct LineError {
    /// Byte offset of the offending token in the logical line.
    pub offset: usize,
    /// Characters the caret should cover.
    pub width: usize,
    /// One-line reason.
    pub message: String,
    /// Advice, if any.
    pub help: Option<String>,
}

impl LineError {
    pub(crate) fn new(offset: usize, token: &str, message: impl Into<String>) -> Self {
        LineError {
            offset,
            width: token.chars().count().max(1),
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// An instruction plus what validation needs beyond the AST.
pub(crate) struct Parsed {
    pub inst: Instruction,
    /// The keyword as written.
    pub keyword_raw: String,
    /// Byte offset of the keyword in the logical line.
    pub keyword_offset: usize,
    /// Byte offset of the first argument (after flags) in the logical line.
    pub args_offset: usize,
    /// The same for the ONBUILD trigger.
    pub child: Option<Box<Parsed>>,
}

/// Parses a Dockerfile into its AST.
///
/// Accepts what BuildKit's parser accepts and, like BuildKit's next stage, rejects unknown
/// instructions and instructions missing required arguments. Errors point at the offending
/// token.
pub fn parse(source: &str) -> Result<Dockerfile, Diagnostic> {
    check_size(source.len())?;
    parse_lines(Lines::new(source))
}

/// Fails when the Dockerfile's `len` bytes pass [`limits::MAX_DOCKERFILE_BYTES`].
pub(crate) fn check_size(len: usize) -> Result<(), Diagnostic> {
    if len > limits::MAX_DOCKERFILE_BYTES {
        return Err(Diagnostic::whole_file(limits::file_too_large(len))
            .help("a Dockerfile this large is not hand-written; split the build"));
    }
    Ok(())
}

/// [`parse`] over prepared lines (see `source.rs` for files that are not UTF-8).
pub(crate) fn parse_lines(mut lines: Lines<'_>) -> Result<Dockerfile, Diagnostic> {
    let mut instructions = Vec::new();
    // Shape errors are reported only if the whole file parses, as BuildKit reports parser
    // errors for the whole file before it looks at any instruction.
    let mut first_shape_error: Option<Diagnostic> = None;
    let mut counts = limits::Counts::default();

    while let Some(mut logical) = lines.next_logical()? {
        let esc = lines.escape();
        let mut parsed = parse_instruction(&logical.text, 0, esc)
            .map_err(|e| to_diagnostic(&lines, &logical, e))?;

        if can_contain_heredoc(&parsed.inst) && logical.text.contains("<<") {
            let marks = heredocs_in_line(&logical.text).map_err(|message| {
                to_diagnostic(&lines, &logical, LineError::new(0, &logical.text, message))
            })?;
            if marks.len() > limits::MAX_HEREDOCS {
                let mark = &marks[limits::MAX_HEREDOCS];
                let token = logical.text.get(mark.start..mark.end).unwrap_or("<<");
                let message = format!(
                    "too many heredocs: more than {} on one instruction (builder's limit)",
                    limits::MAX_HEREDOCS
                );
                let err = LineError::new(mark.start, token, message);
                return Err(to_diagnostic(&lines, &logical, err));
            }
            let mut heredocs = Vec::with_capacity(marks.len());
            for mark in marks {
                let Some(body) = lines.heredoc_body(&mark.name, mark.chomp)? else {
                    let token = logical.text.get(mark.start..mark.end).unwrap_or("<<");
                    let err = LineError::new(
                        mark.start,
                        token,
                        format!("unterminated heredoc: no line `{}` ends it", mark.name),
                    )
                    .help(format!(
                        "end the heredoc with a line containing only `{}`{}",
                        mark.name,
                        if mark.chomp {
                            " (leading tabs allowed)"
                        } else {
                            ""
                        }
                    ));
                    return Err(to_diagnostic(&lines, &logical, err));
                };
                heredocs.push(Heredoc {
                    name: mark.name,
                    content: body.text,
                    raw: body.raw,
                    expand: mark.expand,
                    chomp: mark.chomp,
                    shebang: body.shebang,
                });
            }
            if let Some(child) = parsed.inst.child.as_mut() {
                child.heredocs = heredocs.clone();
            }
            parsed.inst.heredocs = heredocs;
        }

        logical.end_line = lines.line_number();
        if let Err(message) = counts.add(&parsed.inst) {
            let err = LineError::new(parsed.keyword_offset, &parsed.keyword_raw, message);
            return Err(to_diagnostic(&lines, &logical, err));
        }
        set_spans(&lines, &logical, &mut parsed);
        if first_shape_error.is_none() {
            if let Err(e) = validate::check(&parsed) {
                first_shape_error = Some(to_diagnostic(&lines, &logical, e));
            }
        }
        instructions.push(parsed.inst);
    }

    if let Some(err) = first_shape_error {
        return Err(err);
    }
    if instructions.is_empty() {
        return Err(Diagnostic::whole_file("file with no instructions")
            .help("a Dockerfile needs at least one instruction, usually `FROM <image>`"));
    }
    Ok(Dockerfile {
        directives: lines.directives_found.clone(),
        instructions,
        warnings: std::mem::take(&mut lines.warnings),
    })
}

/// RUN, COPY and ADD in shell form (also as an ONBUILD trigger) may own heredocs.
fn can_contain_heredoc(inst: &Instruction) -> bool {
    let inst = match (&inst.keyword[..], &inst.child) {
        ("onbuild", Some(child)) => child,
        _ => inst,
    };
    matches!(&inst.keyword[..], "run" | "copy" | "add") && !inst.json
}

/// Fills in line/column spans from the logical line's offset map.
fn set_spans(lines: &Lines, logical: &LogicalLine, parsed: &mut Parsed) {
    let (line, byte) = logical.locate(parsed.keyword_offset);
    parsed.inst.span = Span {
        line,
        column: char_column(lines.physical(line), byte),
        end_line: logical.end_line,
    };
    if let (Some(child), Some(child_inst)) = (parsed.child.as_mut(), parsed.inst.child.as_mut()) {
        let (line, byte) = logical.locate(child.keyword_offset);
        child_inst.span = Span {
            line,
            column: char_column(lines.physical(line), byte),
            end_line: logical.end_line,
        };
        child.inst.span = child_inst.span;
    }
}

/// Turns a line-relative error into a located diagnostic.
pub(crate) fn to_diagnostic(lines: &Lines, logical: &LogicalLine, err: LineError) -> Diagnostic {
    let (line, byte) = logical.locate(err.offset);
    let physical = lines.physical(line);
    let column = char_column(physical, byte);
    // The caret stays on the line even when the token continues on the next one.
    let remaining = physical.get(byte..).map_or(0, |r| r.chars().count());
    let mut diag = Diagnostic::at(lines.source(), line, column, err.message)
        .width(err.width.min(remaining.max(1)));
    if let Some(help) = err.help {
        diag = diag.help(help);
    }
    diag
}

/// Parses one instruction; `text` starts at byte `base` of the logical line.
pub(crate) fn parse_instruction(text: &str, base: usize, esc: char) -> Result<Parsed, LineError> {
    // A trigger's text starts after `ONBUILD `, never at byte 0.
    let top_level = base == 0;
    let start_trimmed = text.trim_start();
    let base = base + (text.len() - start_trimmed.len());
    let trimmed = start_trimmed.trim_end();
    if trimmed.is_empty() {
        return Err(
            LineError::new(base, " ", "missing instruction after line continuation")
                .help("remove the escape character at the end of the previous line"),
        );
    }
    // The keyword ends at the first `[\t\v\f\r ]` (Go's reWhitespace), not at any Unicode space.
    let keyword_raw = &trimmed[..trimmed.find(is_sep).unwrap_or(trimmed.len())];
    let after = rest_from(trimmed, keyword_raw.len());
    let (flags, rest) = if after.1.starts_with("--") {
        parse_flags(trimmed, after.0, esc)
    } else {
        (Vec::new(), after)
    };
    let (rest_at, rest) = rest;
    let args_offset = base + rest_at;
    let keyword = keyword_raw.to_ascii_lowercase();

    let mut args = Vec::new();
    let mut json = false;
    let mut child = None;
    match &keyword[..] {
        "add" | "copy" | "volume" => match try_json(rest, args_offset)? {
            Some(list) => (args, json) = (list, true),
            None => args = split_list(rest),
        },
        "cmd" | "entrypoint" | "run" | "shell" => (args, json) = maybe_json(rest, args_offset)?,
        "env" | "label" => args = name_values(rest, args_offset, &keyword, esc)?,
        "arg" => {
            args = words(rest, esc)
                .into_iter()
                .map(|(_, w)| w.to_string())
                .collect()
        }
        "expose" | "from" => args = split_list(rest),
        "maintainer" | "stopsignal" | "user" | "workdir" if !rest.is_empty() => {
            args.push(rest.to_string());
        }
        "healthcheck" => (args, json) = healthcheck(rest, args_offset)?,
        // Only a top-level instruction gets a parsed trigger: a
        // trigger's own trigger is an error anyway (`ONBUILD ONBUILD`, see validation), and
        // `ONBUILD ONBUILD …` repeated must not recurse once per word.
        "onbuild" if !rest.is_empty() && top_level => {
            child = Some(Box::new(parse_instruction(rest, args_offset, esc)?));
        }
        // Empty forms, and unknown keywords (validation rejects them), keep no arguments.
        _ => {}
    }

    let inst = Instruction {
        keyword,
        flags,
        args,
        json,
        heredocs: Vec::new(),
        child: child.as_ref().map(|c| Box::new(c.inst.clone())),
        original: text.to_string(),
        span: Span::default(),
    };
    Ok(Parsed {
        inst,
        keyword_raw: keyword_raw.to_string(),
        keyword_offset: base,
        args_offset,
        child,
    })
}

/// Go's `[\t\v\f\r ]`.
fn is_sep(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{0B}' | '\u{0C}' | '\r')
}

/// Builder flags of `text[from..]` (which starts with `--`) and the arguments after them.
fn parse_flags(text: &str, from: usize, esc: char) -> (Vec<String>, (usize, &str)) {
    match text.get(from..).and_then(fast::flags) {
        Some((flags, at)) => (flags, rest_from(text, from + at)),
        None => grammar_flags(text, from, esc),
    }
}

/// [`parse_flags`] by the grammar alone.
fn grammar_flags(text: &str, from: usize, esc: char) -> (Vec<String>, (usize, &str)) {
    let rule = if esc == '`' {
        Rule::flags_bt
    } else {
        Rule::flags_bs
    };
    let input = text.get(from..).unwrap_or("");
    let Some(top) = Grammar::parse(rule, input).ok().and_then(|mut p| p.next()) else {
        return (Vec::new(), rest_from(text, from));
    };
    let mut flags = Vec::new();
    let mut end = top.as_span().end();
    for flag in top.into_inner().flat_map(|p| p.into_inner()) {
        let value = flag_value(flag.clone());
        if value == "--" {
            end = flag.as_span().end();
            break;
        }
        flags.push(value);
    }
    (flags, rest_from(text, from + end))
}

/// The arguments: what follows byte `from`, without leading white space, and its offset.
fn rest_from(text: &str, from: usize) -> (usize, &str) {
    let after = text.get(from..).unwrap_or("");
    let args = after.trim_start();
    (from + (after.len() - args.len()), args)
}

/// The value of a `--flag` word: quotes removed, escapes resolved.
fn flag_value(flag: Pair<Rule>) -> String {
    let mut value = String::from("--");
    for part in flag.into_inner() {
        match part.as_rule() {
            Rule::flag_escaped => value.push_str(part.into_inner().as_str()),
            _ => value.push_str(part.as_str()),
        }
    }
    value
}

/// Words split on Go's `[\t\v\f\r ]+`.
fn split_list(rest: &str) -> Vec<String> {
    rest.split(is_sep)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// BuildKit's parseWords: words with quotes and escapes kept, with their byte offsets.
fn words(rest: &str, esc: char) -> Vec<(usize, &str)> {
    fast::words(rest, esc)
}

/// [`words`] by the grammar alone: the reference the fast scan is tested against.
#[cfg(test)]
fn grammar_words(rest: &str, esc: char) -> Vec<(usize, &str)> {
    let rule = if esc == '`' {
        Rule::words_bt
    } else {
        Rule::words_bs
    };
    match Grammar::parse(rule, rest) {
        Ok(pairs) => pairs
            .flatten()
            .filter(|p| p.as_rule() == Rule::word)
            .filter_map(|w| {
                let text = w.into_inner().find(|p| p.as_rule() == Rule::word_text)?;
                Some((text.as_span().start(), text.as_str()))
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// ENV and LABEL: `key value` (legacy) or `key=value ...`, as key, value, separator triples.
fn name_values(
    rest: &str,
    offset: usize,
    keyword: &str,
    esc: char,
) -> Result<Vec<String>, LineError> {
    let upper = keyword.to_ascii_uppercase();
    let words = words(rest, esc);
    let Some(&(first_at, first)) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let Some(split) = rest.find(is_sep) else {
            return Err(LineError::new(
                offset + first_at,
                first,
                format!("{upper} must have two arguments"),
            )
            .help(format!("give it a value: `{upper} {rest}=value`")));
        };
        let value = rest[split..].trim_start_matches(is_sep);
        return Ok(vec![
            rest[..split].to_string(),
            value.to_string(),
            String::new(),
        ]);
    }
    let mut args = Vec::with_capacity(words.len() * 3);
    for (at, word) in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(LineError::new(
                offset + at,
                word,
                format!(
                    "Syntax error - can't find = in {}. Must be of the form: name=value",
                    go_quote(word)
                ),
            )
            .help(format!(
                "once one pair uses `=`, every pair must: `{word}=value`"
            )));
        };
        args.extend([key.to_string(), value.to_string(), "=".to_string()]);
    }
    Ok(args)
}

/// HEALTHCHECK: the type word, then the command in exec or shell form.
fn healthcheck(rest: &str, offset: usize) -> Result<(Vec<String>, bool), LineError> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    let Some(top) = Grammar::parse(Rule::healthcheck, rest)
        .ok()
        .and_then(|mut p| p.next())
    else {
        return Ok((vec![rest.to_string()], false));
    };
    let mut typ = "";
    let mut cmd = ("", 0);
    for pair in top.into_inner() {
        match pair.as_rule() {
            Rule::health_type => typ = pair.as_str(),
            Rule::rest => cmd = (pair.as_str(), pair.as_span().start()),
            _ => {}
        }
    }
    let (cmd_args, json) = maybe_json(cmd.0, offset + cmd.1)?;
    let mut args = Vec::with_capacity(1 + cmd_args.len());
    args.push(typ.to_string());
    args.extend(cmd_args);
    Ok((args, json))
}
