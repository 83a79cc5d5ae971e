//! Dockerfile bytes as BuildKit reads them.
//!
//! BuildKit's parser works on Go strings, which hold any bytes: a Dockerfile need not be UTF-8
//! (Latin-1 files exist). What a byte that is not UTF-8 becomes depends on where it goes, and
//! everywhere Docker 26.1 shows a value it is U+FFFD, one per byte: the shell lexer decodes
//! words rune by rune (LABEL, ENV, WORKDIR, USER, EXPOSE, unquoted heredocs), and what is not
//! lexed reaches the image config or the OCI runtime spec through JSON, which does the same
//! (RUN, CMD, ENTRYPOINT, HEALTHCHECK). So [`decode`] does it once, on reading. The one place
//! the bytes survive is the file a quoted heredoc of COPY/ADD writes (`COPY <<'EOF' /f`): the
//! heredoc keeps its raw body ([`super::Heredoc::raw`]).
//!
//! BuildKit reads lines with a `bufio.Scanner` of 64 KiB: a physical line longer than
//! [`MAX_LINE`] bytes (without its `\n`) fails the parse.

use super::ast::Dockerfile;
use super::prepass::Lines;
use crate::diag::Diagnostic;

pub use super::limits::MAX_LINE;

/// Decodes bytes as Go converts a string to runes: valid UTF-8 is kept, every byte that does
/// not start a valid sequence becomes one U+FFFD (`"\xe2\x82"` gives two).
pub fn decode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // Safe by construction: `valid_up_to` bytes are valid UTF-8.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{fffd}');
                rest = &after[1..];
            }
        }
    }
}

/// Parses a Dockerfile given as bytes (see the module docs).
pub fn parse_bytes(bytes: &[u8]) -> Result<Dockerfile, Diagnostic> {
    super::parser::check_size(bytes.len())?;
    match std::str::from_utf8(bytes) {
        Ok(text) => super::parser::parse_lines(Lines::new(text)),
        Err(_) => {
            let text = decode(bytes);
            super::parser::parse_lines(Lines::with_raw(&text, bytes))
        }
    }
}

/// The error for physical line `line` (1-based) of `len` bytes.
pub(crate) fn line_too_long(source: &str, line: usize, len: usize) -> Diagnostic {
    let mut diag = Diagnostic::at(
        source,
        line,
        1,
        format!("dockerfile line greater than max allowed size of {MAX_LINE}"),
    )
    .help(format!(
        "line {line} is {len} bytes long; split it with line continuations (a line ending in \
         the escape character), which may join into a longer instruction"
    ));
    // Show the start of the line only.
    if let Some((cut, _)) = diag.source_line.char_indices().nth(60) {
        diag.source_line.truncate(cut);
        diag.source_line.push('…');
    }
    diag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_replaces_each_invalid_byte() {
        assert_eq!(decode(b"caf\xe9"), "caf\u{fffd}");
        assert_eq!(decode(b"v\xe2\x82"), "v\u{fffd}\u{fffd}");
        assert_eq!(decode(b"x\xe9\xe9y"), "x\u{fffd}\u{fffd}y");
        assert_eq!(decode(b"\xed\xa0\x80"), "\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(decode("é€😀".as_bytes()), "é€😀");
        assert_eq!(decode(b"\xff\n\xfe"), "\u{fffd}\n\u{fffd}");
    }

    #[test]
    fn latin1_file_parses_with_replacement_characters() {
        let df = parse_bytes(b"# caf\xe9\nFROM busybox\nLABEL l=caf\xe9\n").unwrap();
        assert_eq!(df.instructions[1].args, vec!["l", "caf\u{fffd}", "="]);
    }

    #[test]
    fn quoted_heredoc_keeps_raw_bytes() {
        let src = b"FROM busybox\nCOPY <<'A' <<B /d/\ncaf\xe9\nA\nv\xe9\nB\nCOPY <<-\"C\" /c\n\tx\xe2\x82\n\tC\n";
        let df = parse_bytes(src).unwrap();
        let h = &df.instructions[1].heredocs;
        assert_eq!(h[0].content, "caf\u{fffd}\n");
        assert_eq!(h[0].raw.as_deref(), Some(&b"caf\xe9\n"[..]));
        assert_eq!(h[1].raw.as_deref(), Some(&b"v\xe9\n"[..]));
        let c = &df.instructions[2].heredocs[0];
        assert_eq!(c.content, "x\u{fffd}\u{fffd}\n");
        assert_eq!(c.raw.as_deref(), Some(&b"x\xe2\x82\n"[..]));
        // A valid body has no separate raw form.
        let df = parse_bytes(b"FROM busybox\nCOPY <<'A' /a\nok\nA\nLABEL x=\xe9\n").unwrap();
        assert_eq!(df.instructions[1].heredocs[0].raw, None);
    }

    #[test]
    fn line_limit_is_on_bytes_of_the_file() {
        let line = |n: usize| format!("LABEL a={}", "x".repeat(n - 8));
        // 65535 bytes (recorded: Docker 26.1 builds it), with or without a final newline.
        let ok = format!("FROM busybox\n{}\nRUN true\n", line(MAX_LINE));
        assert!(parse_bytes(ok.as_bytes()).is_ok());
        assert!(parse_bytes(format!("FROM busybox\n{}", line(MAX_LINE)).as_bytes()).is_ok());
        // 65536 bytes: Docker fails with this message.
        for text in [
            format!("FROM busybox\n{}\nRUN true\n", line(MAX_LINE + 1)),
            format!("FROM busybox\n{}", line(MAX_LINE + 1)),
        ] {
            let e = parse_bytes(text.as_bytes()).unwrap_err();
            assert_eq!(
                e.message,
                "dockerfile line greater than max allowed size of 65535"
            );
            assert_eq!(e.line, 2);
            assert!(e.source_line.chars().count() <= 61, "{}", e.source_line);
        }
        // `\r` counts; `\n` does not.
        let crlf = format!("FROM busybox\r\n{}\r\n", line(MAX_LINE - 1));
        assert!(parse_bytes(crlf.as_bytes()).is_ok());
        let crlf = format!("FROM busybox\r\n{}\r\n", line(MAX_LINE));
        assert!(parse_bytes(crlf.as_bytes()).is_err());
        // Counted in the file's bytes: 65535 invalid bytes decode to 196605 but are fine.
        let mut latin = b"FROM busybox\nLABEL a=".to_vec();
        latin.extend(std::iter::repeat_n(0xe9u8, MAX_LINE - 8));
        latin.push(b'\n');
        assert!(parse_bytes(&latin).is_ok());
        latin.insert(20, b'x');
        assert_eq!(parse_bytes(&latin).unwrap_err().line, 2);
    }

    #[test]
    fn long_lines_fail_wherever_they_are() {
        let long = "x".repeat(MAX_LINE + 1);
        for (text, line) in [
            (format!("{long}\nFROM busybox\n"), 1),
            (format!("FROM busybox\n# {long}\n"), 2),
            (format!("FROM busybox\nCOPY <<EOF /x\n{long}\nEOF\n"), 3),
            (format!("FROM busybox\nRUN echo \\\n  {long}\n"), 3),
        ] {
            let e = parse_bytes(text.as_bytes()).unwrap_err();
            assert_eq!(
                (e.message.as_str(), e.line),
                (
                    "dockerfile line greater than max allowed size of 65535",
                    line
                )
            );
        }
        // Continuations may join into a longer instruction.
        let half = "y".repeat(40_000);
        let joined = format!("FROM busybox\nRUN echo {half} \\\n {half}\n");
        let df = parse_bytes(joined.as_bytes()).unwrap();
        assert!(df.instructions[1].args[0].len() > 80_000);
    }
}
