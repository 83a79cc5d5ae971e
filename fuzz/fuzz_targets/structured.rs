//! Structure-aware fuzz target (issue 17): the fuzzer's bytes choose the pieces of a
//! Dockerfile (deep `${…}` nesting, ARG/ENV doubling chains, huge instruction, stage,
//! label and heredoc counts, long continuations, parser directives, JSON forms, ONBUILD,
//! stage references) which then goes through parse, plan and evaluation (`drive.rs`).
//! Hostile shapes must end in a clear error within the fuzzer's time and memory limits.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

#[path = "drive.rs"]
mod drive;

/// The largest Dockerfile generated: past the stage, heredoc, label-per-line and nesting
/// limits. Parse + plan + evaluation is linear, but under AddressSanitizer an ordinary file
/// costs ~20 ms per 1,000 ENV lines and ~47 ms per 1,000 stages (idle 2-core machine), and
/// 512 KiB (18,000 ENV lines, 0.35 s) or 8,500 stages (0.46 s) passed the one-second timeout
/// once the machine was loaded; 64 KiB keeps a margin of about 3x. The count and size limits
/// themselves (200,000 instructions, 10,000 stages, 32 MiB files) are tested through the
/// real binary in `tests/hostile.rs` and timed in release by `benches/many_instructions.rs`.
const MAX_OUTPUT: usize = 64 << 10;

const OPS: [&str; 12] = [
    ":-", ":+", "-", "+", ":?", "?", "#", "##", "%", "%%", "/x/", "//x/",
];
const KEYWORDS: [&str; 9] = [
    "ENV A=", "LABEL l=", "ARG A=", "WORKDIR /", "USER ", "EXPOSE ", "VOLUME ", "STOPSIGNAL ",
    "COPY --chown=",
];
const WORDS: [&str; 16] = [
    "x", "$A", "${A}", "\"$A\"", "'$A'", "\\$A", "`$A", "$", "${", "}", "\"", "'", " ", "=",
    "${A:-$B}", "é",
];

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let text = generate(&mut u).unwrap_or_default();
    // To turn an artifact into a regression input (see README.md).
    if let Some(path) = std::env::var_os("FUZZ_DUMP_DOCKERFILE") {
        let _ = std::fs::write(path, &text);
    }
    drive::drive(&text);
});

fn generate(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    // Parser directives first (only where they count).
    for _ in 0..u.int_in_range(0..=3)? {
        let d: &[u8] = match u.int_in_range(0..=5)? {
            0 => b"# escape=`\n",
            1 => b"# escape=\\\n",
            2 => b"# syntax=docker/dockerfile:1\n",
            3 => b"# check=skip=all\n",
            4 => b"#escape = x\n",
            _ => b"\xef\xbb\xbf# escape=`\n",
        };
        out.extend_from_slice(d);
    }
    while !u.is_empty() && out.len() < MAX_OUTPUT {
        piece(u, &mut out)?;
    }
    out.truncate(MAX_OUTPUT);
    Ok(out)
}

/// How many repetitions fit in what is left of the output for pieces of `unit` bytes.
fn room(out: &[u8], unit: usize) -> usize {
    MAX_OUTPUT.saturating_sub(out.len()) / unit.max(1)
}

fn word(u: &mut Unstructured) -> Result<&'static str> {
    Ok(WORDS[u.choose_index(WORDS.len())?])
}

fn piece(u: &mut Unstructured, out: &mut Vec<u8>) -> Result<()> {
    match u.int_in_range(0..=15)? {
        // FROM: scratch, an earlier stage, an ARG, a platform.
        0 => {
            let base = match u.int_in_range(0..=4)? {
                0 => "scratch".to_string(),
                1 => format!("s{}", u.int_in_range(0..=20u32)?),
                2 => "${IMG:-scratch}".into(),
                3 => "$IMG".into(),
                _ => format!("{}", u.int_in_range(0..=3u8)?),
            };
            let platform = if u.arbitrary()? {
                "--platform=$BUILDPLATFORM "
            } else {
                ""
            };
            let name = u.int_in_range(0..=20u32)?;
            out.extend(format!("FROM {platform}{base} AS s{name}\n").bytes());
        }
        // `${A:-${A:-…}}` nested up to past the limit, with quotes sometimes.
        1 => {
            let depth = u.int_in_range(0..=300usize)?;
            let op = OPS[u.choose_index(OPS.len())?];
            let quote = if u.arbitrary()? { "\"" } else { "" };
            let kw = KEYWORDS[u.choose_index(KEYWORDS.len())?];
            let open = format!("{quote}${{A{op}");
            let close = format!("}}{quote}");
            if room(out, open.len() + close.len()) < depth + 2 {
                return Ok(());
            }
            out.extend(kw.bytes());
            out.extend(open.repeat(depth).bytes());
            out.extend(word(u)?.bytes());
            out.extend(close.repeat(depth).bytes());
            out.extend(b" /d\n");
        }
        // An expansion bomb: a value doubled (or more) each line.
        2 => {
            let n = u.int_in_range(0..=40usize)?;
            let kw = if u.arbitrary()? { "ENV" } else { "ARG" };
            let copies = u.int_in_range(2..=4usize)?;
            out.extend(b"ARG A=xxxxxxxx\n");
            for _ in 0..n {
                out.extend(format!("{kw} A={}\n", "${A}".repeat(copies)).bytes());
            }
            if u.arbitrary()? {
                out.extend(b"COPY <<EOF /f\n$A$A$A\nEOF\n");
            }
        }
        // Many copies of one short instruction: counts past every limit.
        3 => {
            let kind = u.int_in_range(0..=7u8)?;
            let n = u.int_in_range(0..=300_000usize)?;
            let n = n.min(room(out, 24));
            for i in 0..n {
                let line = match kind {
                    0 => format!("ENV V{i}=v\n"),
                    1 => format!("LABEL l{i}=v\n"),
                    2 => format!("ARG a{i}\n"),
                    3 => "USER x\n".to_string(),
                    4 => format!("FROM scratch AS s{i}\n"),
                    5 => format!("FROM s{}\n", i.saturating_sub(1)),
                    6 => format!("COPY --from=s{} / /\n", i),
                    _ => format!("ENV A{i}=1 B{i}=2 C{i}=3\n"),
                };
                out.extend(line.bytes());
            }
        }
        // Many heredocs on one instruction, with bodies.
        4 => {
            let n = u.int_in_range(0..=3000usize)?;
            let lines = u.int_in_range(0..=50usize)?;
            let chomp = if u.arbitrary()? { "-" } else { "" };
            let quote = if u.arbitrary()? { "\"" } else { "" };
            let kw = if u.arbitrary()? { "COPY" } else { "RUN" };
            if room(out, 16 + lines * 6) < n + 1 {
                return Ok(());
            }
            out.extend(kw.bytes());
            for i in 0..n {
                out.extend(format!(" <<{chomp}{quote}E{i}{quote}").bytes());
            }
            out.extend(b" /d/\n");
            let terminate = u.ratio(15u8, 16)?;
            for i in 0..n {
                for _ in 0..lines {
                    out.extend(b"\t$A x\n");
                }
                if terminate {
                    out.extend(format!("E{i}\n").bytes());
                }
            }
        }
        // One heredoc of many lines.
        5 => {
            let lines = u.int_in_range(0..=200_000usize)?.min(room(out, 9));
            out.extend(b"COPY <<EOF /f\n");
            for _ in 0..lines {
                out.extend(b"${A}line\n");
            }
            out.extend(b"EOF\n");
        }
        // A long continuation with comments and empty lines inside.
        6 => {
            let n = u.int_in_range(0..=20_000usize)?.min(room(out, 12));
            out.extend(b"RUN echo \\\n");
            for i in 0..n {
                let l: &[u8] = match i % 4 {
                    0 => b"# comment\n",
                    1 => b"  \n",
                    2 => b" a \\\n",
                    _ => b" `\n",
                };
                out.extend_from_slice(l);
            }
            out.extend(b"end\n");
        }
        // JSON forms, nested past the grammar's limit sometimes.
        7 => {
            let depth = u.int_in_range(0..=300usize)?;
            let kw = ["CMD", "RUN", "SHELL", "ENTRYPOINT", "COPY", "VOLUME", "HEALTHCHECK CMD"]
                [u.int_in_range(0..=6usize)?];
            let open = if u.arbitrary()? { "[" } else { "{" };
            out.extend(format!("{kw} {}\"a\\u00e9\", \"$A\", \"\\\"\"", open.repeat(depth + 1)).bytes());
            if u.arbitrary()? {
                out.extend(b"]".repeat(depth + 1));
            }
            out.push(b'\n');
        }
        // ONBUILD chains.
        8 => {
            let n = u.int_in_range(1..=2000usize)?.min(room(out, 8));
            out.extend(b"ONBUILD ".repeat(n));
            out.extend(b"ENV A=$A\n");
        }
        // Raw bytes from the fuzzer, as a line.
        9 => {
            let len = u.int_in_range(0..=200usize)?;
            let bytes = u.bytes(len.min(u.len()))?;
            out.extend_from_slice(bytes);
            out.push(b'\n');
        }
        // A physical line near BuildKit's 65535-byte limit.
        10 => {
            let len = u.int_in_range(65_500..=65_540usize)?;
            out.extend(b"LABEL a=");
            out.extend(std::iter::repeat_n(b'x', len - 8));
            out.push(b'\n');
        }
        // RUN mounts and COPY --from naming stages, indexes and images.
        11 => {
            let from = match u.int_in_range(0..=3u8)? {
                0 => format!("s{}", u.int_in_range(0..=20u32)?),
                1 => format!("{}", u.int_in_range(0..=30u32)?),
                2 => "$IMG".into(),
                _ => "busybox".into(),
            };
            if u.arbitrary()? {
                out.extend(format!("COPY --from={from} /a /b\n").bytes());
            } else {
                out.extend(
                    format!("RUN --mount=type=bind,from={from},source=$A,target=/m true\n")
                        .bytes(),
                );
            }
        }
        // Global and stage ARGs referring to each other.
        12 => {
            let n = u.int_in_range(0..=50usize)?;
            for i in 0..n {
                out.extend(format!("ARG G{i}=${{G{}:-$A}}x\n", i.saturating_sub(1)).bytes());
            }
        }
        // A word made of lexer-relevant pieces.
        13 => {
            let n = u.int_in_range(0..=64usize)?;
            out.extend(KEYWORDS[u.choose_index(KEYWORDS.len())?].bytes());
            for _ in 0..n {
                out.extend(word(u)?.bytes());
            }
            out.push(b'\n');
        }
        // Many key=value pairs on one (continued) line.
        14 => {
            let n = u.int_in_range(0..=300_000usize)?.min(room(out, 12));
            out.extend(if u.arbitrary()? { &b"ENV"[..] } else { b"LABEL" });
            for i in 0..n {
                out.extend(format!(" k{i}=v \\\n").bytes());
            }
            out.push(b'\n');
        }
        // An expanding heredoc whose body doubles a variable.
        _ => {
            let n = u.int_in_range(0..=24usize)?;
            out.extend(b"ARG A=x\n");
            for _ in 0..n {
                out.extend(b"ARG A=$A$A\n");
            }
            out.extend(b"COPY <<EOF /f\n$A$A$A$A\nEOF\n");
        }
    }
    Ok(())
}
