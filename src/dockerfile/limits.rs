//! Every bound builder puts on a Dockerfile, in one place (issue 17: CI builds Dockerfiles
//! from pull requests, so their size and shape are chosen by whoever opens one).
//!
//! Each bound fails the build with an error that names it (and the line where it was
//! passed) before the work it guards is done: counts are checked while parsing, expansion
//! sizes while expanding. BuildKit 0.13 has only [`MAX_LINE`] (its `bufio.Scanner` token
//! size); the others are builder's, chosen far above what real Dockerfiles use (the largest
//! public ones have a few thousand instructions, a few dozen stages and labels, a handful of
//! heredocs per instruction) while keeping the worst case of parse → plan → evaluation
//! within seconds and a few hundred MB. docs/architecture.md ("Hostile input bounds") lists
//! them with the other bounds of a build.

/// The largest Dockerfile read, in bytes (`-f` file, stdin or `--build-context` file).
pub const MAX_DOCKERFILE_BYTES: usize = 32 << 20;

/// The longest physical line, in bytes without its `\n`: BuildKit's
/// (`bufio.MaxScanTokenSize - 1`; longer lines fail there with the same message).
pub const MAX_LINE: usize = 65535;

/// Instructions in one Dockerfile (ONBUILD triggers count with their ONBUILD).
pub const MAX_INSTRUCTIONS: usize = 200_000;

/// Build stages (`FROM` instructions) in one Dockerfile.
pub const MAX_STAGES: usize = 10_000;

/// `ARG` declarations and `ENV` key/value pairs in one Dockerfile, all instructions
/// together (each becomes an entry of an environment or of the ARG scope).
pub const MAX_VARIABLES: usize = 200_000;

/// `LABEL` key/value pairs in one Dockerfile, all instructions together.
pub const MAX_LABELS: usize = 100_000;

/// Heredocs (`<<EOF`) on one instruction.
pub const MAX_HEREDOCS: usize = 1_000;

/// The body of one heredoc, in bytes.
pub const MAX_HEREDOC_BYTES: usize = 16 << 20;

/// `${…}` nesting inside one word (or quotes inside `${…}`). Go's stack grows, so BuildKit
/// has no limit; each level costs a few hundred bytes of this thread's stack.
pub const MAX_NESTING: usize = 128;

/// The result of expanding one word, in bytes: an ARG/ENV chain that doubles a value each
/// line stops here (after 20 lines for one byte) instead of exhausting memory.
pub const MAX_WORD_BYTES: usize = 1 << 20;

/// All expansion results of one build together, in bytes (every word of every stage, the
/// global ARGs and FROM lines included): many lines each expanding a large value stop here.
pub const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// The deepest `[`/`{` nesting handed to the exec-form grammar (pest recurses once per
/// level). No exec form nests at all.
pub const MAX_GRAMMAR_JSON_DEPTH: usize = 128;

/// Go's encoding/json gives up on arrays nested deeper than this.
pub(crate) const MAX_JSON_DEPTH: usize = 10_000;

/// The message for a count bound passed: `what` (plural) and the limit's value.
pub(crate) fn too_many(what: &str, limit: usize) -> String {
    format!("too many {what}: more than {limit} in one Dockerfile (builder's limit)")
}

/// Running totals of the counted bounds while a Dockerfile is parsed.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    instructions: usize,
    stages: usize,
    variables: usize,
    labels: usize,
}

impl Counts {
    /// Counts one parsed instruction (with its ONBUILD trigger); the message names the
    /// bound it passes.
    pub fn add(&mut self, inst: &super::Instruction) -> Result<(), String> {
        self.instructions += 1;
        if self.instructions > MAX_INSTRUCTIONS {
            return Err(too_many("instructions", MAX_INSTRUCTIONS));
        }
        for inst in std::iter::once(inst).chain(inst.child.as_deref()) {
            match inst.keyword.as_str() {
                "from" => self.stages += 1,
                // Key, value and separator triples (see the parser's `name_values`).
                "env" => self.variables += inst.args.len().div_ceil(3),
                "arg" => self.variables += inst.args.len(),
                "label" => self.labels += inst.args.len().div_ceil(3),
                _ => {}
            }
        }
        if self.stages > MAX_STAGES {
            return Err(too_many("build stages (FROM)", MAX_STAGES));
        }
        if self.variables > MAX_VARIABLES {
            return Err(too_many("ARG and ENV entries", MAX_VARIABLES));
        }
        if self.labels > MAX_LABELS {
            return Err(too_many("LABEL entries", MAX_LABELS));
        }
        Ok(())
    }
}

/// The message for a Dockerfile larger than [`MAX_DOCKERFILE_BYTES`].
pub(crate) fn file_too_large(len: usize) -> String {
    format!(
        "the Dockerfile is {len} bytes, more than {MAX_DOCKERFILE_BYTES} (32 MiB, builder's \
         limit)"
    )
}
