//! Parser unit tests: heredocs, directives, continuations, spans, robustness and speed.

use super::{dump, parse, Heredoc, Instruction, Span};

fn only(source: &str) -> Instruction {
    let df = parse(source).unwrap_or_else(|e| panic!("parse failed:\n{e}"));
    df.instructions.into_iter().last().expect("one instruction")
}

fn heredoc(name: &str, content: &str, expand: bool, chomp: bool) -> Heredoc {
    Heredoc {
        name: name.into(),
        content: content.into(),
        raw: None,
        expand,
        chomp,
        shebang: content.starts_with("#!"),
    }
}

#[test]
fn several_heredocs_on_one_line_in_declaration_order() {
    let src = "FROM alpine\nRUN <<A cat - /dev/fd/3 3<<B\nfirst $X\nA\nsecond\nB\nRUN true\n";
    let df = parse(src).unwrap();
    let run = &df.instructions[1];
    assert_eq!(
        run.heredocs,
        vec![
            heredoc("A", "first $X\n", true, false),
            heredoc("B", "second\n", true, false)
        ]
    );
    assert_eq!(run.args, vec!["<<A cat - /dev/fd/3 3<<B"]);
    assert_eq!(
        run.span,
        Span {
            line: 2,
            column: 1,
            end_line: 6
        }
    );
    assert_eq!(df.instructions[2].span.line, 7);
}

#[test]
fn chomped_heredoc_strips_leading_tabs_of_body_and_terminator() {
    let inst = only("FROM a\nRUN <<-EOT sh\n\techo hi\n\t\t  x\n\tEOT\n");
    assert_eq!(
        inst.heredocs,
        vec![heredoc("EOT", "echo hi\n  x\n", true, true)]
    );
}

#[test]
fn quoted_delimiters_disable_expansion() {
    let inst = only("FROM a\nCOPY <<'SQ' <<\"DQ\" <<plain /dst/\n$A\nSQ\n$B\nDQ\n$C\nplain\n");
    let got: Vec<_> = inst
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.expand))
        .collect();
    assert_eq!(got, vec![("SQ", false), ("DQ", false), ("plain", true)]);
    assert_eq!(inst.args, vec!["<<'SQ'", "<<\"DQ\"", "<<plain", "/dst/"]);
}

#[test]
fn heredoc_only_for_shell_form_run_copy_add() {
    let df = parse("FROM a\nRUN [\"cat\", \"<<EOF\"]\nENV x=<<EOF\nLABEL a=b\n").unwrap();
    assert!(df.instructions.iter().all(|i| i.heredocs.is_empty()));
    assert_eq!(df.instructions.len(), 4);
}

#[test]
fn onbuild_trigger_owns_its_heredoc() {
    let df = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n").unwrap();
    let onbuild = &df.instructions[1];
    let body = vec![heredoc("EOF", "echo hi\n", true, false)];
    assert_eq!(onbuild.heredocs, body);
    let child = onbuild.child.as_ref().expect("trigger");
    assert_eq!(child.heredocs, body);
    assert_eq!(
        child.span,
        Span {
            line: 2,
            column: 9,
            end_line: 4
        }
    );
    assert_eq!(dump(&df), "(from \"a\")\n(onbuild (run \"<<EOF\"))\n");
}

#[test]
fn backtick_escape_directive() {
    let src = "# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir C:\\ `\n    && echo done\n";
    let df = parse(src).unwrap();
    assert_eq!(df.directives.escape, '`');
    assert_eq!(df.instructions[1].args, vec!["dir C:\\     && echo done"]);
    assert_eq!(
        df.instructions[1].span,
        Span {
            line: 3,
            column: 1,
            end_line: 4
        }
    );
}

#[test]
fn backtick_escape_in_words_and_flags() {
    let src = "# escape=`\nFROM a\nENV a=x`\"y b=\"q`\"r\"\nCOPY --chown=\"u`\"g\" a b\n";
    let df = parse(src).unwrap();
    assert_eq!(
        df.instructions[1].args,
        vec!["a", "x`\"y", "=", "b", "\"q`\"r\"", "="]
    );
    assert_eq!(df.instructions[2].flags, vec!["--chown=u\"g"]);
}

#[test]
fn directives_are_recorded_only_at_the_top() {
    let df = parse("# syntax=docker/dockerfile:1\n# check=skip=all\nFROM a\n").unwrap();
    assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.directives.check.as_deref(), Some("skip=all"));
    let late = parse("\n# syntax=x\nFROM a\n").unwrap();
    assert_eq!(late.directives.syntax, None);
    let after_instruction = parse("FROM a\n# escape=`\nRUN a `\n").unwrap();
    assert_eq!(after_instruction.directives.escape, '\\');
    assert_eq!(after_instruction.instructions[1].args, vec!["a `"]);
}

#[test]
fn continuation_skips_comment_and_blank_lines() {
    let src = "FROM a\nRUN echo a \\\n# comment\n\n   # indented comment\n  b\nUSER me\n";
    let df = parse(src).unwrap();
    assert_eq!(df.instructions[1].args, vec!["echo a   b"]);
    assert_eq!(df.instructions[1].original, "RUN echo a   b");
    assert_eq!(
        df.instructions[1].span,
        Span {
            line: 2,
            column: 1,
            end_line: 6
        }
    );
    assert_eq!(df.instructions[2].span.line, 7);
    assert_eq!(df.warnings.len(), 1, "{:?}", df.warnings);
}

#[test]
fn spans_use_character_columns() {
    let df = parse("FROM a\n  \t RUN x\nLABEL é=1 \\\n  ü\n").unwrap_err();
    assert_eq!((df.line, df.column), (4, 3));
    assert_eq!(df.source_line, "  ü");
    let df = parse("FROM a\n  \t RUN x\n").unwrap();
    assert_eq!(
        df.instructions[1].span,
        Span {
            line: 2,
            column: 5,
            end_line: 2
        }
    );
}

#[test]
fn keywords_any_case_and_flags_with_end_marker() {
    let inst = only("from a\nCoPy --from=b --chmod=755 -- --weird /dst\n");
    assert_eq!(inst.keyword, "copy");
    assert_eq!(inst.flags, vec!["--from=b", "--chmod=755"]);
    assert_eq!(inst.args, vec!["--weird", "/dst"]);
}

#[test]
fn exec_form_json_details() {
    let inst = only("FROM a\nCMD [\"\\ud83d\\ude00\", \"\\ud800x\", \"\\u00e9\"]\n");
    assert!(inst.json);
    assert_eq!(inst.args, vec!["😀", "\u{fffd}x", "é"]);
    // Invalid JSON and numbers out of float64 range fall back to shell form.
    let inst = only("FROM a\nCMD [\"a\" \"b\"]\n");
    assert_eq!(
        (inst.json, inst.args),
        (false, vec!["[\"a\" \"b\"]".to_string()])
    );
    let inst = only("FROM a\nCMD [\"a\", 1e999]\n");
    assert!(!inst.json);
}

#[test]
fn crlf_and_bom() {
    let df = parse("\u{feff}# escape=`\r\nFROM a\r\nRUN echo `\r\n  b\r\n").unwrap();
    assert_eq!(df.directives.escape, '`');
    assert_eq!(dump(&df), "(from \"a\")\n(run \"echo   b\")\n");
}

#[test]
fn deep_json_nesting_does_not_overflow() {
    // Physical lines stay under BuildKit's 64 KiB limit; continuations join them.
    let deep = format!(
        "FROM a\nCMD {}\\\n{}\\\n{}\\\n{}\n",
        "[".repeat(50_000),
        "[".repeat(50_000),
        "]".repeat(50_000),
        "]".repeat(50_000)
    );
    let inst = only(&deep);
    assert!(!inst.json);
    let nested = format!("FROM a\nCMD {}{}\n", "[".repeat(200), "]".repeat(200));
    assert!(
        parse(&nested).is_err(),
        "valid nested JSON is not an array of strings"
    );
}

#[test]
fn odd_inputs_never_panic() {
    let inputs = [
        "\\",
        "\\\n",
        "FROM a\n\\\n",
        "FROM a\nRUN <<",
        "FROM a\nRUN <<\"",
        "FROM a\nRUN 0<<-\t'x'\"y\"\n",
        "FROM a\nCMD [\"\\u",
        "FROM a\nENV \"",
        "FROM a\nENV a=\"\\",
        "FROM a\nCOPY --a=\"\\",
        "FROM a\nHEALTHCHECK \u{a0}CMD",
        "FROM a\nONBUILD",
        "FROM a\nONBUILD \u{2003}",
        "#escape=",
        "# escape=\u{2003}",
        "FROM\u{0}a\nRUN ${",
        "FROM a\nRUN <<EOF ${x:-<<}\nEOF\n",
        "é\\\nü",
    ];
    for input in inputs {
        let _ = parse(input).map(|df| dump(&df));
    }
}

/// A Dockerfile of `n` mixed instructions (with continuations, quotes, flags, exec form).
fn mixed_dockerfile(n: usize) -> String {
    let mut src = String::from("FROM alpine\n");
    for i in 0..n {
        match i % 4 {
            0 => src.push_str(&format!(
                "RUN echo {i} && \\\n    apk add --no-cache pkg{i}\n"
            )),
            1 => src.push_str(&format!("ENV KEY{i}=value{i} OTHER{i}=\"x y\"\n")),
            2 => src.push_str(&format!("COPY --chown=app:app src/{i} /app/{i}\n")),
            _ => src.push_str(&format!("CMD [\"/bin/app\", \"--id\", \"{i}\"]\n")),
        }
    }
    src
}

/// CPU time of this thread, immune to other processes competing for the machine.
fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn cpu_time_to_parse(src: &str) -> std::time::Duration {
    let start = thread_cpu_time();
    let df = parse(src).unwrap();
    let elapsed = thread_cpu_time() - start;
    assert!(df.instructions.len() > 1);
    elapsed
}

#[test]
fn parsing_time_is_linear_and_small() {
    let small = mixed_dockerfile(500);
    let large = mixed_dockerfile(4000);
    let _ = parse(&large).unwrap();
    // Best of three, to shrug off cache effects from other processes.
    let best = |src: &str| {
        (0..3)
            .map(|_| cpu_time_to_parse(src))
            .min()
            .unwrap_or_default()
    };
    let (t_small, t_large) = (best(&small), best(&large));
    // 8x the input: linear work takes about 8x the time, quadratic work 64x.
    assert!(
        t_large < t_small * 20,
        "500 instructions took {t_small:?}, 4000 took {t_large:?}: not linear"
    );
    // Release builds parse 2000 of these in about 2 ms; this bound holds for debug builds.
    let t_2000 = best(&mixed_dockerfile(2000));
    eprintln!("CPU time: 500 → {t_small:?}, 2000 → {t_2000:?}, 4000 → {t_large:?}");
    assert!(
        t_2000.as_millis() < 400,
        "parsing 2000 instructions took {t_2000:?} of CPU"
    );
}
