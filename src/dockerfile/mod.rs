//! The Dockerfile front end: directives, the pest grammar, heredocs, the AST
//! with spans, BuildKit's Dump format and the shell-word lexer.

pub mod ast;
pub mod shell;

pub use ast::{Directives, Dockerfile, Heredoc, Instruction, Span};
