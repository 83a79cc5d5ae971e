//! The command line: one file per subcommand.

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    0
}
