//! Stage names in every place they are used (`AS`, `FROM`, `COPY --from`, `RUN --mount=from=`,
//! `--target`), against what Docker 26.1.5 (BuildKit 0.13, docker CLI 26.1.5 + buildx 0.13.1)
//! did with the same Dockerfiles: `docker build --no-cache [--target T] .` with busybox from the
//! local mirror. `Built` rows built; `Failed` rows carry Docker's message (after `ERROR: failed
//! to solve: `) and the line Docker's error pointed at.

use builder::plan::{self, Base, PlanOptions, Platform, SourceRef};

enum Docker {
    /// Built; the plan must resolve the references as listed: (stage, base), (stage, step,
    /// source), and the target stage.
    Built {
        bases: &'static [(usize, Base2)],
        sources: &'static [(usize, usize, usize)],
        target: usize,
    },
    /// Failed with this message at this line.
    Failed(&'static str, usize),
}

/// `Base` without owned strings, for a const table.
#[derive(Debug)]
enum Base2 {
    Stage(usize),
    Image(&'static str),
}

use Base2::{Image, Stage};
use Docker::{Built, Failed};

const CASES: &[(&str, Option<&str>, Docker)] = &[
    (
        "FROM busybox AS Builder\nFROM Builder\n",
        None,
        Failed("failed to parse stage name \"Builder\": invalid reference format: repository name (library/Builder) must be lowercase", 2),
    ),
    (
        "FROM busybox AS builder\nFROM Builder\n",
        None,
        Failed("failed to parse stage name \"Builder\": invalid reference format: repository name (library/Builder) must be lowercase", 2),
    ),
    (
        "ARG B=Builder\nFROM busybox AS Builder\nFROM $B\n",
        None,
        Failed("failed to parse stage name \"Builder\": invalid reference format: repository name (library/Builder) must be lowercase", 3),
    ),
    // Checked for every stage, needed or not.
    (
        "FROM Busybox AS x\nFROM busybox\n",
        None,
        Failed("failed to parse stage name \"Busybox\": invalid reference format: repository name (library/Busybox) must be lowercase", 1),
    ),
    (
        "FROM Scratch\n",
        None,
        Failed("failed to parse stage name \"Scratch\": invalid reference format: repository name (library/Scratch) must be lowercase", 1),
    ),
    (
        "FROM busybox AS Bü\n",
        None,
        Failed("invalid name for build stage: \"Bü\", name can't start with a number or contain symbols", 1),
    ),
    (
        "FROM busybox AS Builder\nFROM builder\nRUN true\n",
        None,
        Built { bases: &[(0, Image("busybox")), (1, Stage(0))], sources: &[], target: 1 },
    ),
    (
        "FROM busybox AS Builder\nRUN echo hi > /x\nFROM busybox\nCOPY --from=Builder /x /x\n",
        None,
        Built { bases: &[(1, Image("busybox"))], sources: &[(1, 0, 0)], target: 1 },
    ),
    (
        "FROM busybox AS builder\nRUN echo hi > /x\nFROM busybox\nCOPY --from=Builder /x /x\n",
        None,
        Built { bases: &[], sources: &[(1, 0, 0)], target: 1 },
    ),
    (
        "FROM busybox AS Builder\nRUN echo hi > /x\nFROM busybox\nCOPY --from=builder /x /x\n",
        None,
        Built { bases: &[], sources: &[(1, 0, 0)], target: 1 },
    ),
    (
        "FROM busybox AS Builder\nFROM busybox\nCOPY --from=BUILDER /etc/passwd /p\n",
        None,
        Built { bases: &[], sources: &[(1, 0, 0)], target: 1 },
    ),
    (
        "FROM busybox AS Builder\nRUN echo hi > /x\nFROM busybox\nRUN --mount=from=Builder,target=/m cat /m/x\n",
        None,
        Built { bases: &[], sources: &[(1, 0, 0)], target: 1 },
    ),
    (
        "FROM busybox AS builder\nRUN echo hi > /x\nFROM busybox\nRUN --mount=from=Builder,target=/m cat /m/x\n",
        None,
        Built { bases: &[], sources: &[(1, 0, 0)], target: 1 },
    ),
    (
        "FROM busybox AS Builder\nRUN echo hi > /x\nFROM busybox\n",
        Some("Builder"),
        Built { bases: &[], sources: &[], target: 0 },
    ),
    (
        "FROM busybox AS builder\nRUN echo hi > /x\nFROM busybox\n",
        Some("Builder"),
        Built { bases: &[], sources: &[], target: 0 },
    ),
    (
        "FROM busybox AS Builder\nFROM busybox\n",
        Some("BUILDER"),
        Built { bases: &[], sources: &[], target: 0 },
    ),
    (
        "FROM busybox AS x\nFROM busybox AS Y\nFROM busybox\n",
        Some("y"),
        Built { bases: &[], sources: &[], target: 1 },
    ),
    (
        "FROM busybox AS b\nFROM busybox\n",
        Some("nope"),
        Failed("target stage \"nope\" could not be found", 0),
    ),
    // Names may repeat (also differing in case); the last stage with the name wins (Docker
    // printed 2 from `cat /m/x` and `cat /x`, and `--target a -o type=local` wrote x = 2).
    (
        "FROM busybox AS BUILDER\nFROM busybox AS builder\n",
        None,
        Built { bases: &[], sources: &[], target: 1 },
    ),
    (
        "FROM busybox AS a\nRUN echo 1 > /x\nFROM busybox AS A\nRUN echo 2 > /x\nFROM busybox\nRUN --mount=from=a,target=/m cat /m/x\n",
        None,
        Built { bases: &[], sources: &[(2, 0, 1)], target: 2 },
    ),
    (
        "FROM busybox AS a\nRUN echo 1 > /x\nFROM busybox AS a\nRUN echo 2 > /x\nFROM a\nRUN cat /x\n",
        None,
        Built { bases: &[(2, Stage(1))], sources: &[], target: 2 },
    ),
    (
        "FROM busybox AS a\nRUN echo 1 > /x\nFROM a AS a\nRUN echo 2 >> /x\nFROM a\nRUN cat /x\n",
        None,
        Built { bases: &[(1, Stage(0)), (2, Stage(1))], sources: &[], target: 2 },
    ),
    (
        "FROM busybox AS a\nRUN echo 1 > /x\nFROM busybox AS a\nRUN echo 2 > /x\nFROM busybox\nCOPY --from=a /x /x\nRUN cat /x\n",
        None,
        Built { bases: &[], sources: &[(2, 0, 1)], target: 2 },
    ),
    (
        "FROM busybox AS a\nRUN echo 1 > /x\nFROM busybox AS a\nRUN echo 2 > /x\nFROM busybox\n",
        Some("a"),
        Built { bases: &[], sources: &[], target: 1 },
    ),
    // `--from` finds the last `a` of the file, which comes after `b`.
    (
        "FROM busybox AS a\nRUN echo 1 > /x\nFROM busybox AS b\nCOPY --from=a /x /x\nFROM busybox AS a\nRUN echo 3 > /x\n",
        Some("b"),
        Failed("cannot copy from stage \"a\", it needs to be defined before current stage \"b\"", 4),
    ),
    (
        "FROM busybox AS first\nCOPY --from=later /etc/passwd /p\nFROM busybox AS later\nRUN echo\n",
        Some("first"),
        Failed("cannot copy from stage \"later\", it needs to be defined before current stage \"first\"", 2),
    ),
];

fn options(text: &str, target: Option<&str>) -> PlanOptions {
    PlanOptions {
        source: text.to_string(),
        target: target.map(str::to_string),
        platform: Some(Platform::parse("linux/amd64").unwrap()),
        build_platform: Some(Platform::parse("linux/amd64").unwrap()),
        ..Default::default()
    }
}

#[test]
fn stage_names_resolve_as_docker() {
    for (text, target, docker) in CASES {
        let df = builder::dockerfile::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got = plan::plan(&df, &options(text, *target));
        match docker {
            Built {
                bases,
                sources,
                target: want_target,
            } => {
                let p = got.unwrap_or_else(|e| panic!("{text:?} {target:?}: {e}"));
                assert_eq!(p.target, *want_target, "{text:?} {target:?}: target");
                for (stage, base) in *bases {
                    let want = match base {
                        Stage(j) => Base::Stage(*j),
                        Image(i) => Base::Image(i.to_string()),
                    };
                    assert_eq!(p.stages[*stage].base, want, "{text:?}: base of {stage}");
                }
                for (stage, step, from) in *sources {
                    assert_eq!(
                        p.stages[*stage].steps[*step].sources,
                        vec![SourceRef::Stage(*from)],
                        "{text:?}: sources of stage {stage} step {step}"
                    );
                }
            }
            Failed(message, line) => {
                let e = match got {
                    Ok(_) => panic!("{text:?} {target:?}: planned, Docker failed with {message}"),
                    Err(e) => e,
                };
                assert_eq!(e.message, *message, "{text:?} {target:?}");
                assert_eq!(e.line, *line, "{text:?} {target:?}: line");
            }
        }
    }
}

#[test]
fn lower_case_hint_for_a_from_naming_a_stage_in_another_case() {
    let text = "FROM busybox AS Builder\nFROM Builder\n";
    let df = builder::dockerfile::parse(text).unwrap();
    let e = plan::plan(&df, &options(text, None)).unwrap_err();
    assert_eq!(
        e.help.as_deref(),
        Some("stage names are lower-case: write `FROM builder` to start from the stage named \"Builder\"")
    );
    assert_eq!((e.line, e.column, e.width), (2, 6, 7));
}

#[test]
fn repeated_names_warn() {
    let text = "FROM busybox AS a\nFROM busybox AS A\n";
    let df = builder::dockerfile::parse(text).unwrap();
    let p = plan::plan(&df, &options(text, None)).unwrap();
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("line 2: stage name \"a\" is used again")),
        "{:?}",
        p.warnings
    );
}
