//! Making a line of RUN output safe to draw inside the live view: a
//! carriage return starts the line over (what `apt`/`dpkg`/`curl` progress
//! meters mean by it), terminal control sequences (colours, cursor moves,
//! title changes) are dropped, other control characters too, and the line
//! is cut to the terminal's width so it cannot wrap (a wrapped line makes
//! the view miscount its lines and redraw over the wrong rows).

use std::sync::LazyLock;

use regex::Regex;

/// CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ST`) and two-byte escapes.
static ESCAPES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
        .expect("static regex")
});

/// What the terminal would keep of `raw`, in at most `width` characters.
pub fn clean_line(raw: &str, width: usize) -> String {
    // Text after the last carriage return replaces the line; a trailing CR
    // (CRLF output) changes nothing.
    let last = raw
        .split('\r')
        .rev()
        .find(|seg| !seg.is_empty())
        .unwrap_or("");
    let plain = ESCAPES.replace_all(last, "");
    let mut out = String::new();
    for c in plain.chars() {
        let c = if c == '\t' { ' ' } else { c };
        if c.is_control() {
            continue;
        }
        if out.chars().count() >= width {
            break;
        }
        out.push(c);
    }
    out
}

/// `text` cut to `width` characters, with `…` when it was longer.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriage_returns_and_escapes() {
        assert_eq!(clean_line("a\rb", 80), "b");
        assert_eq!(
            clean_line("Reading... 50%\rReading... 100%\r", 80),
            "Reading... 100%"
        );
        assert_eq!(
            clean_line("\x1b[1;32mok\x1b[0m \x1b]0;title\x07done\x1b[2K", 80),
            "ok done"
        );
        assert_eq!(clean_line("abcdef", 3), "abc");
        assert_eq!(clean_line("a\tb\x08c", 80), "a bc");
        assert_eq!(fit("abcdef", 4), "abc…");
    }
}
