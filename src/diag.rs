//! Diagnostics that point at a place in a source file: `file:line:col`, the
//! line itself, a caret under the problem, the reason, and what to do.

use std::fmt;

/// An error located in a source text (a Dockerfile, usually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name shown to the user (`Dockerfile`, `-` for stdin).
    pub file: String,
    /// 1-based line; 0 when the error has no position (e.g. an empty file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// How many characters the caret covers (at least 1).
    pub width: usize,
    /// The text of the offending line (without its newline).
    pub source_line: String,
    /// One-line reason.
    pub message: String,
    /// Optional advice on what to do.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `line`/`column` of `source` (the whole file text).
    pub fn at(source: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        let source_line = if line == 0 {
            String::new()
        } else {
            source.lines().nth(line - 1).unwrap_or("").to_string()
        };
        Diagnostic {
            file: "Dockerfile".to_string(),
            line,
            column: column.max(1),
            width: 1,
            source_line,
            message: message.into(),
            help: None,
        }
    }

    /// A diagnostic with no position (about the file as a whole).
    pub fn whole_file(message: impl Into<String>) -> Self {
        Diagnostic::at("", 0, 1, message)
    }

    /// Sets the caret width.
    pub fn width(mut self, width: usize) -> Self {
        self.width = width.max(1);
        self
    }

    /// Adds advice.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the file name shown.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = file.into();
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            writeln!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
            let gutter = self.line.to_string();
            writeln!(f, "{} | {}", gutter, self.source_line)?;
            // Tabs in the line keep their width under the caret.
            let pad: String = self
                .source_line
                .chars()
                .take(self.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(
                f,
                "{} | {}{}",
                " ".repeat(gutter.len()),
                pad,
                "^".repeat(self.width)
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// An OS error as Go (and so Docker) words it: `lstat /x: no such file or
/// directory`, not Rust's `No such file or directory (os error 2)`. Errors
/// without an errno keep their own text.
pub fn go_error(op: &str, path: &std::path::Path, err: &std::io::Error) -> std::io::Error {
    let text = match err.raw_os_error() {
        Some(n) => {
            let s = std::io::Error::from_raw_os_error(n).to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => s,
            }
        }
        None => err.to_string(),
    };
    std::io::Error::new(err.kind(), format!("{op} {}: {text}", path.display()))
}

#[cfg(test)]
mod go_error_tests {
    #[test]
    fn words_errors_like_go() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        let g = super::go_error("lstat", std::path::Path::new("/missing"), &e);
        assert_eq!(g.to_string(), "lstat /missing: no such file or directory");
        assert_eq!(g.kind(), std::io::ErrorKind::NotFound);
        let e = std::io::Error::from_raw_os_error(libc::ENOTDIR);
        let g = super::go_error("mkdir", std::path::Path::new("/etc/f"), &e);
        assert_eq!(g.to_string(), "mkdir /etc/f: not a directory");
    }
}
