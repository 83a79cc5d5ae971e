//! The Dockerfile syntax tree, shaped like BuildKit's `parser.Node` so that its
//! `Dump()` format and its later stages of meaning map onto it one to one.

/// Where an instruction sits in the Dockerfile (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Line of the instruction keyword.
    pub line: usize,
    /// Column of the instruction keyword.
    pub column: usize,
    /// Last line the instruction covers (continuations and heredoc bodies included).
    pub end_line: usize,
}

/// The parser directives found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=` value, if any.
    pub syntax: Option<String>,
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// `# check=` value, if any.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// A heredoc attached to an instruction (`<<EOF` … `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, without quotes or the `-` of `<<-`.
    pub name: String,
    /// The body, every line ending in `\n` (tabs stripped for `<<-`).
    pub content: String,
    /// The body as bytes of the file, when it is not UTF-8 (`content` then has U+FFFD for each
    /// invalid byte). BuildKit writes these bytes for a quoted heredoc of COPY/ADD.
    pub raw: Option<Vec<u8>>,
    /// False when the delimiter was quoted, which disables variable expansion.
    pub expand: bool,
    /// True for `<<-`.
    pub chomp: bool,
    /// The body as written (before `<<-` removes tabs) starts with `#!`: BuildKit runs a RUN
    /// whose command is only this heredoc as a file (`/dev/pipes/NAME`), not as `sh -c` text.
    pub shebang: bool,
}

/// One instruction, with its arguments as BuildKit keeps them: raw, unexpanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword in lower case (`from`, `run`, …).
    pub keyword: String,
    /// The `--flag[=value]` words before the arguments, as written.
    pub flags: Vec<String>,
    /// The arguments: words for most instructions, the rest of the line for
    /// shell forms, the elements for exec (JSON) form, and key, value, `=`/``
    /// triples for ENV and LABEL (as BuildKit's Dump prints them).
    pub args: Vec<String>,
    /// True when the arguments came from a JSON array (exec form).
    pub json: bool,
    /// Heredocs attached to this instruction, in declaration order.
    pub heredocs: Vec<Heredoc>,
    /// The instruction wrapped by `ONBUILD`.
    pub child: Option<Box<Instruction>>,
    /// The source text of the instruction with continuations joined.
    pub original: String,
    /// Where the instruction is.
    pub span: Span,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Parser directives.
    pub directives: Directives,
    /// The instructions in file order.
    pub instructions: Vec<Instruction>,
    /// Non-fatal findings (e.g. empty continuation lines), like BuildKit's warnings.
    pub warnings: Vec<String>,
}
