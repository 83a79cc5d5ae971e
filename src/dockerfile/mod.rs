//! The Dockerfile front end: directives, the pest grammar, heredocs, the AST
//! with spans, BuildKit's Dump format and the shell-word lexer.
//!
//! [`parse`] runs the line pre-pass (`prepass`: directives, escape character,
//! continuations, heredoc bodies), the grammar in `grammar/dockerfile.pest` on each
//! logical line (`parser`), heredoc detection (`heredoc`) and BuildKit's shape checks
//! (`validate`). [`dump`] prints the AST in BuildKit's `Node.Dump()` format.

pub mod ast;
mod dump;
mod fast;
mod heredoc;
pub mod limits;
pub mod lint;
mod parser;
mod prepass;
pub mod shell;
mod source;
mod validate;
pub use validate::{edit_distance, edit_distance_within, suggest};

pub use ast::{Directives, Dockerfile, Heredoc, Instruction, Span};
pub use dump::{dump, go_quote};
pub use parser::parse;
pub use source::{decode, parse_bytes, MAX_LINE};

#[cfg(test)]
mod tests;
