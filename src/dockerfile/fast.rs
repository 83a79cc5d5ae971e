//! Fast paths for the common, simple shapes of flags, words and exec form. Each returns
//! `None` unless its input is in the easy subset (no quotes, no escape characters), where its
//! answer is exactly the grammar's; the grammar handles everything else. A pest call costs
//! about a microsecond, which would dominate parsing a long Dockerfile.

/// No quote and neither possible escape character.
fn plain(s: &str) -> bool {
    !s.bytes().any(|b| matches!(b, b'\'' | b'"' | b'\\' | b'`'))
}

/// Words split on Unicode white space outside quotes, quotes and escapes kept, with their byte
/// offsets: BuildKit's `parseWords` (frontend/dockerfile/parser/line_parsers.go). `esc` followed
/// by any character keeps both (outside quotes and inside double quotes; nothing is escaped
/// inside single quotes); an escape character at the very end is dropped and ends the word; an
/// unterminated quote runs to the end. One pass over the text: the grammar's `words_bs`/
/// `words_bt` rules say the same (`parser::tests` checks the two agree) but cost a pest parse,
/// which is far slower on a long ENV/LABEL line.
pub(crate) fn words(rest: &str, esc: char) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == esc && q != '\'' && chars.next().is_none() {
                // A trailing escape inside double quotes is dropped; the word ends.
                let s = start.unwrap_or(i);
                words.push((s, &rest[s..i]));
                return words;
            }
            continue;
        }
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push((s, &rest[s..i]));
            }
            continue;
        }
        if c == esc {
            if chars.peek().is_none() {
                // A trailing escape is dropped (and alone makes no word).
                if let Some(s) = start.take() {
                    words.push((s, &rest[s..i]));
                }
                return words;
            }
            start.get_or_insert(i);
            chars.next();
            continue;
        }
        start.get_or_insert(i);
        if c == '"' || c == '\'' {
            quote = Some(c);
        }
    }
    if let Some(s) = start {
        words.push((s, &rest[s..]));
    }
    words
}

/// Leading `--flag` words of `text` and the byte offset where the arguments start, if no flag
/// word holds a quote or an escape character.
pub(crate) fn flags(text: &str) -> Option<(Vec<String>, usize)> {
    let mut flags = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &text[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        if !trimmed.starts_with("--") {
            return Some((flags, pos));
        }
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let word = &trimmed[..end];
        if !plain(word) {
            return None;
        }
        pos += end;
        if word == "--" {
            return Some((flags, pos));
        }
        flags.push(word.to_string());
    }
}

/// The elements of a JSON array of strings without escapes (`["a", "b"]`); `None` for any
/// other text, valid JSON or not.
pub(crate) fn json_strings(rest: &str) -> Option<Vec<String>> {
    let bytes = rest.as_bytes();
    let ws = |i: &mut usize| {
        while matches!(bytes.get(*i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            *i += 1;
        }
    };
    let mut i = 0;
    ws(&mut i);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    ws(&mut i);
    let mut out = Vec::new();
    if bytes.get(i) == Some(&b']') {
        i += 1;
    } else {
        loop {
            if bytes.get(i) != Some(&b'"') {
                return None;
            }
            let start = i + 1;
            let len = bytes
                .get(start..)?
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
            if bytes.get(start + len) != Some(&b'"') {
                return None;
            }
            out.push(rest.get(start..start + len)?.to_string());
            i = start + len + 1;
            ws(&mut i);
            match bytes.get(i) {
                Some(b',') => {
                    i += 1;
                    ws(&mut i);
                }
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    ws(&mut i);
    (i == bytes.len()).then_some(out)
}
