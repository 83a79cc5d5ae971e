//! BuildKit's `Node.Dump()` format: one `(keyword ["flags"] "arg"...)` line per instruction,
//! strings quoted like Go's `strconv.Quote`.

use super::ast::{Dockerfile, Instruction};

/// Renders the AST as BuildKit's `Node.Dump()` does, one line per instruction, each ending
/// in a newline.
pub fn dump(df: &Dockerfile) -> String {
    let mut out = String::new();
    for inst in &df.instructions {
        out.push('(');
        dump_instruction(inst, &mut out);
        out.push_str(")\n");
    }
    out
}

fn dump_instruction(inst: &Instruction, out: &mut String) {
    out.push_str(&inst.keyword);
    if !inst.flags.is_empty() {
        out.push_str(" [");
        for (i, flag) in inst.flags.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            push_go_quoted(flag, out);
        }
        out.push(']');
    }
    for arg in &inst.args {
        out.push(' ');
        push_go_quoted(arg, out);
    }
    if let Some(child) = &inst.child {
        out.push_str(" (");
        dump_instruction(child, out);
        out.push(')');
    }
}

/// `s` quoted as Go's `strconv.Quote` does (`%q`): `\"`, `\\`, C escapes, `\xNN` for other
/// ASCII controls, `\uNNNN`/`\UNNNNNNNN` for non-printable runes; printable runes as is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_go_quoted(s, &mut out);
    out
}

fn push_go_quoted(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            _ if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            _ if is_go_printable(c) => out.push(c),
            _ if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            _ => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
}

/// Go's `unicode.IsPrint` for non-ASCII runes: letters, marks, numbers, punctuation and
/// symbols (spaces other than U+0020 are not printable).
fn is_go_printable(c: char) -> bool {
    use pest::unicode::{LETTER, MARK, NUMBER, PUNCTUATION, SYMBOL};
    LETTER(c) || MARK(c) || NUMBER(c) || PUNCTUATION(c) || SYMBOL(c)
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("\u{0}\u{7f}\t\n"), r#""\x00\x7f\t\n""#);
        assert_eq!(go_quote("♥☃é"), "\"♥☃é\"");
        assert_eq!(
            go_quote("\u{a0}\u{200b}\u{feff}"),
            r#""\u00a0\u200b\ufeff""#
        );
        assert_eq!(go_quote("\u{10ffff}"), r#""\U0010ffff""#);
        assert_eq!(go_quote("\u{85}"), r#""\u0085""#);
    }
}
