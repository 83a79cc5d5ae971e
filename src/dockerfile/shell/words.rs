//! Word splitting while an expansion is built: unquoted whitespace ends a word.

/// Accumulates words while text is appended: unquoted whitespace ends a word,
/// quoted or escaped characters never do.
pub(super) struct Words {
    /// Off when the caller does not want words (and inside `${…}`, whose words are
    /// never used): every push is then a no-op.
    on: bool,
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    pub(super) fn new(on: bool) -> Self {
        Words {
            on,
            buf: String::new(),
            words: Vec::new(),
            in_word: false,
        }
    }

    pub(super) fn push_char(&mut self, c: char) {
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

    pub(super) fn push_raw_char(&mut self, c: char) {
        if !self.on {
            return;
        }
        self.buf.push(c);
        self.in_word = true;
    }

    /// Appends `s` as unquoted text: whitespace-free runs are copied whole (an expanded
    /// value can be a mebibyte), each whitespace character may end a word.
    pub(super) fn push_str(&mut self, s: &str) {
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

    pub(super) fn push_raw_str(&mut self, s: &str) {
        if !self.on {
            return;
        }
        self.buf.push_str(s);
        self.in_word = true;
    }

    pub(super) fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(self.buf);
        }
        self.words
    }
}
