//! Build-plan tests: stages, references, targets, pruning, waves, ARG/ENV
//! scoping and expansion through the stage evaluator.

use builder::dockerfile::Dockerfile;
use builder::plan::{
    self, Base, Command, MountType, PlanOptions, Platform, SourceRef, StageEvaluator, StageState,
};
use std::collections::BTreeMap;

/// Parses with the real front end.
fn df(text: &str) -> Dockerfile {
    builder::dockerfile::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn opts(text: &str) -> PlanOptions {
    PlanOptions {
        source: text.to_string(),
        platform: Some(Platform::parse("linux/amd64").unwrap()),
        build_platform: Some(Platform::parse("linux/amd64").unwrap()),
        ..Default::default()
    }
}

fn plan_of(text: &str) -> plan::Plan {
    plan::plan(&df(text), &opts(text)).unwrap_or_else(|e| panic!("{e}"))
}

fn err_of(text: &str, o: PlanOptions) -> String {
    plan::plan(&df(text), &o)
        .expect_err("plan should fail")
        .to_string()
}

const MULTI: &str = "\
ARG GO=1.22
FROM golang:${GO} AS builder
RUN go build -o /out/app .
FROM alpine AS test
COPY --from=builder /out/app /app
RUN /app --self-test
FROM debian:12 AS docs
RUN make docs
FROM builder AS final-base
FROM scratch
COPY --from=final-base /out/app /app
COPY --from=0 /out/app /app2
";

#[test]
fn stages_bases_and_deps() {
    let p = plan_of(MULTI);
    assert_eq!(p.stages.len(), 5);
    assert_eq!(p.stages[0].base, Base::Image("golang:1.22".into()));
    assert_eq!(p.stages[3].base, Base::Stage(0));
    assert_eq!(p.stages[4].base, Base::Scratch);
    assert_eq!(p.stages[4].deps, vec![0, 3]);
    assert_eq!(p.stages[4].steps[0].sources, vec![SourceRef::Stage(3)]);
    assert_eq!(p.target, 4);
    // test and docs are not needed by the last stage.
    let needed: Vec<bool> = p.stages.iter().map(|s| s.needed).collect();
    assert_eq!(needed, [true, false, false, true, true]);
    assert_eq!(p.waves, vec![vec![0], vec![3], vec![4]]);
    let out = p.render_dry_run();
    assert!(
        out.contains("[docs] FROM debian:12 (linux/amd64) SKIPPED"),
        "{out}"
    );
    assert!(out.contains("wave 1: builder"), "{out}");
}

#[test]
fn target_selects_and_prunes() {
    let mut o = opts(MULTI);
    o.target = Some("TEST".into());
    let p = plan::plan(&df(MULTI), &o).unwrap();
    assert_eq!(p.target, 1);
    assert_eq!(p.build_order(), vec![0, 1]);
    let mut o = opts(MULTI);
    o.target = Some("nope".into());
    let e = plan::plan(&df(MULTI), &o).unwrap_err().to_string();
    assert!(
        e.contains("target stage \"nope\" could not be found"),
        "{e}"
    );
    assert!(e.contains("builder, test, docs, final-base"), "{e}");
}

#[test]
fn parallel_waves() {
    let text = "FROM alpine AS a\nFROM alpine AS b\nFROM alpine AS c\nCOPY --from=a /x /x\nCOPY --from=b /y /y\n";
    let p = plan_of(text);
    assert_eq!(p.waves, vec![vec![0, 1], vec![2]]);
}

#[test]
fn reference_errors() {
    let e = err_of(
        "FROM alpine\nCOPY --from=3 /a /b\n",
        opts("FROM alpine\nCOPY --from=3 /a /b\n"),
    );
    assert!(e.contains("invalid stage index 3"), "{e}");
    let t = "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nCOPY --from=a /y /y\n";
    let e = err_of(t, opts(t));
    assert!(e.contains("circular dependency detected"), "{e}");
    let t = "FROM alpine AS a\nCOPY --from=a /x /x\n";
    assert!(err_of(t, opts(t)).contains("circular dependency"));
    let t = "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\n";
    let mut o = opts(t);
    o.target = Some("a".into());
    let e = err_of(t, o);
    assert!(
        e.contains("needs to be defined before current stage"),
        "{e}"
    );
    // Not a stage: an image reference.
    let p = plan_of(
        "FROM alpine\nCOPY --from=busybox:1 /bin/sh /sh\nRUN --mount=from=nginx,target=/n true\n",
    );
    assert_eq!(
        p.stages[0].steps[0].sources,
        vec![SourceRef::Image("busybox:1".into())]
    );
    assert_eq!(
        p.stages[0].steps[1].sources,
        vec![SourceRef::Image("nginx".into())]
    );
}

#[test]
fn flag_errors_point_at_the_flag() {
    let t = "FROM alpine\nCOPY --link --chown=1 --bogus=2 a b\n";
    let e = err_of(t, opts(t));
    assert_eq!(
        e,
        "Dockerfile:2:23: unknown flag: bogus\n2 | COPY --link --chown=1 --bogus=2 a b\n  |                       ^^^^^^^\n  help: accepted flags: --chown, --from, --chmod, --link"
    );
    // Labs flags are known only to a labs frontend (Docker 26.1's built-in one refuses them).
    let t = "FROM alpine\nCOPY --parents a/b /c/\n";
    assert!(err_of(t, opts(t)).contains("unknown flag: parents"));
    let t =
        "# syntax=docker/dockerfile:1.7-labs\nFROM alpine\nCOPY --parents --exclude=x a/b /c/\n";
    plan_of(t);
    let t = "FROM alpine\nRUN --mount=type=cache,target=/c,sharing=wild make\n";
    let e = err_of(t, opts(t));
    assert!(
        e.contains("2:34: unsupported sharing value \"wild\""),
        "{e}"
    );
    assert!(e.contains("^^^^^^^^^^^^"), "{e}");
}

#[test]
fn run_network_and_security_values_are_checked() {
    let t = "FROM alpine\nRUN --network=bogus true\n";
    let e = err_of(t, opts(t));
    assert!(
        e.starts_with("Dockerfile:2:5: invalid network mode \"bogus\""),
        "{e}"
    );
    assert!(
        e.ends_with("help: --network takes default, none or host"),
        "{e}"
    );
    let t = "FROM alpine\nRUN --security=wide true\n";
    let e = err_of(t, opts(t));
    assert!(
        e.starts_with("Dockerfile:2:5: security \"wide\" is not valid"),
        "{e}"
    );
    assert!(
        e.ends_with("help: --security takes sandbox or insecure"),
        "{e}"
    );
}

#[test]
fn typed_instructions() {
    let t = "# syntax=docker/dockerfile:1.7-labs\nFROM alpine\n\
RUN --mount=type=secret,id=tok,env=TOKEN --network=none --security=insecure make\n\
ADD --checksum=sha256:abc --keep-git-dir --unpack=false --exclude=*.md --exclude=*.txt src /dst\n\
HEALTHCHECK --interval=1m30s --timeout=5s --retries=3 CMD curl -f http://localhost/\n\
HEALTHCHECK NONE\n\
SHELL [\"/bin/bash\", \"-c\"]\n\
ONBUILD RUN echo hi\n\
EXPOSE 80/tcp 53/udp 8000-8010\n\
STOPSIGNAL SIGTERM\n";
    let p = plan_of(t);
    let steps = &p.stages[0].steps;
    let Command::Run(r) = &steps[0].command else {
        panic!()
    };
    assert_eq!(r.network, plan::instructions::Network::None);
    assert_eq!(r.security, plan::instructions::Security::Insecure);
    let Command::Copy(c) = &steps[1].command else {
        panic!()
    };
    assert!(c.add && c.keep_git_dir == Some(true) && c.unpack == Some(false));
    assert_eq!(c.excludes, ["*.md", "*.txt"]);
    let Command::Healthcheck(plan::Healthcheck::Check {
        interval,
        timeout,
        retries,
        test,
        ..
    }) = &steps[2].command
    else {
        panic!()
    };
    assert_eq!(
        (*interval, *timeout, *retries),
        (90_000_000_000, 5_000_000_000, 3)
    );
    assert_eq!(test, &["CMD-SHELL", "curl -f http://localhost/"]);
    assert_eq!(
        steps[3].command,
        Command::Healthcheck(plan::Healthcheck::None)
    );
    assert_eq!(
        steps[4].command,
        Command::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    assert_eq!(steps[5].command, Command::Onbuild("RUN echo hi".into()));
}

#[test]
fn arg_env_scoping_and_expansion() {
    let t = "\
ARG BASE=alpine
ARG VERSION=3.19
ARG UNUSED_GLOBAL=x
FROM ${BASE}:${VERSION} AS one
ARG VERSION
ARG LOCAL=l-$VERSION
ENV PATH=/opt/bin:$PATH HOME=/root
WORKDIR /src/$VERSION
ENV LOCAL=env-wins
ARG LOCAL
RUN echo $LOCAL
COPY --chown=$USERX:0 --chmod=0640 a-$VERSION /dst/$LOCAL/
LABEL v=$VERSION k=${UNUSED_GLOBAL:-unset}
USER ${NOBODY:-nobody}
EXPOSE ${PORT:-8080}
RUN --mount=type=cache,target=/cache/$VERSION,id=$LOCAL make
";
    let mut o = opts(t);
    o.build_args = BTreeMap::from([
        ("VERSION".to_string(), "3.20".to_string()),
        ("HTTP_PROXY".to_string(), "http://proxy:3128".to_string()),
        ("NOBODY_USES_ME".to_string(), "1".to_string()),
    ]);
    let p = plan::plan(&df(t), &o).unwrap();
    assert_eq!(p.stages[0].base, Base::Image("alpine:3.20".into()));
    assert_eq!(
        p.warnings,
        ["One or more build-args [NOBODY_USES_ME] were not consumed"]
    );
    let base_env = vec![("PATH".to_string(), "/usr/bin".to_string())];
    let mut ev = StageEvaluator::new(&p, 0, &base_env);
    let out: Vec<_> = p.stages[0]
        .steps
        .iter()
        .map(|s| ev.next(s).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    // ARG VERSION re-declared without value inherits the build arg.
    assert_eq!(*out[0].args, [("VERSION".to_string(), "3.20".to_string())]);
    assert_eq!(out[1].args[1], ("LOCAL".to_string(), "l-3.20".to_string()));
    assert_eq!(
        *out[2].env,
        [
            ("PATH".to_string(), "/opt/bin:/usr/bin".to_string()),
            ("HOME".to_string(), "/root".to_string())
        ]
    );
    assert_eq!(out[3].command, Command::Workdir("/src/3.20".into()));
    // Args are not persisted in the config env.
    assert!(!out[3].env.iter().any(|(k, _)| k == "VERSION"));
    // ENV then ARG without value: the ENV value stays.
    assert!(out[6]
        .run_env
        .contains(&("LOCAL".to_string(), "env-wins".to_string())));
    // Proxy build args reach RUN in both spellings, outside the step's environment (not in
    // its history or cache key), as BuildKit's ProxyEnv.
    assert!(!out[6].run_env.iter().any(|(k, _)| k == "HTTP_PROXY"));
    assert_eq!(
        builder::plan::args::proxy_env(&p.build_args),
        [
            ("HTTP_PROXY".to_string(), "http://proxy:3128".to_string()),
            ("http_proxy".to_string(), "http://proxy:3128".to_string())
        ]
    );
    assert!(!out[6].env.iter().any(|(k, _)| k == "HTTP_PROXY"));
    // RUN text is never expanded.
    let Command::Run(r) = &out[6].command else {
        panic!()
    };
    assert_eq!(r.command.args, ["echo $LOCAL"]);
    let Command::Copy(c) = &out[7].command else {
        panic!()
    };
    assert_eq!(
        (c.chown.as_deref(), out[7].chmod),
        (Some(":0"), Some(0o640))
    );
    assert_eq!(c.sources, ["a-3.20"]);
    assert_eq!(c.dest, "/dst/env-wins/");
    // UNUSED_GLOBAL was not re-declared in the stage, so it is not visible.
    let Command::Label(l) = &out[8].command else {
        panic!()
    };
    assert_eq!(
        (l[0].value.as_str(), l[1].value.as_str()),
        ("3.20", "unset")
    );
    assert_eq!(out[9].command, Command::User("nobody".into()));
    assert_eq!(out[10].command, Command::Expose(vec!["8080".into()]));
    assert_eq!(out[11].mounts[0].kind, MountType::Cache);
    assert_eq!(out[11].mounts[0].target.as_deref(), Some("/cache/3.20"));
    assert_eq!(out[11].mounts[0].id.as_deref(), Some("env-wins"));
    assert!(out[11].used_vars.contains(&"VERSION".to_string()));
}

#[test]
fn predefined_platform_args() {
    let t = "FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETARCH\nARG TARGETPLATFORM\nENV A=$TARGETARCH B=$TARGETPLATFORM C=$BUILDARCH\n";
    let mut o = opts(t);
    o.platform = Some(Platform::parse("linux/arm64/v8").unwrap());
    let p = plan::plan(&df(t), &o).unwrap();
    assert_eq!(p.stages[0].platform.to_string(), "linux/amd64");
    assert!(p.stages[0].platform_explicit);
    let mut ev = StageEvaluator::with_base(&p, 0, StageState::default());
    let last = p.stages[0]
        .steps
        .iter()
        .map(|s| ev.next(s).unwrap())
        .last()
        .unwrap();
    // BUILDARCH was not declared in the stage, so it expands to nothing.
    assert_eq!(
        *last.env,
        [
            ("A".into(), "arm64".into()),
            ("B".into(), "linux/arm64".into()),
            ("C".into(), String::new())
        ]
    );
}

#[test]
fn stage_inherits_args_and_env_from_its_base_stage() {
    let t = "FROM alpine AS a\nARG X=1\nENV Y=2\nFROM a\nRUN true\nLABEL x=$X y=$Y\n";
    let p = plan_of(t);
    let mut a = StageEvaluator::new(&p, 0, &[]);
    for s in &p.stages[0].steps {
        a.next(s).unwrap();
    }
    let mut b = StageEvaluator::with_base(&p, 1, a.state().clone());
    let out: Vec<_> = p.stages[1]
        .steps
        .iter()
        .map(|s| b.next(s).unwrap())
        .collect();
    assert_eq!(
        out[1].command,
        Command::Label(vec![
            plan::instructions::KeyValue {
                key: "x".into(),
                value: "1".into()
            },
            plan::instructions::KeyValue {
                key: "y".into(),
                value: "2".into()
            },
        ])
    );
}

#[test]
fn evaluation_errors_are_diagnostics() {
    let t = "FROM alpine\nWORKDIR ${DIR:?unset}\nCOPY --chmod=$MODE a b\n";
    let p = plan_of(t);
    let mut ev = StageEvaluator::new(&p, 0, &[]);
    let e = ev.next(&p.stages[0].steps[0]).unwrap_err().to_string();
    assert!(
        e.starts_with("Dockerfile:2:9: failed to process \"${DIR:?unset}\": DIR: unset"),
        "{e}"
    );
    // `--chmod` is read literally and a value that is not octal is ignored, as BuildKit 0.13
    // does (tests/parity case 153-chmod-not-octal): no error, no mode.
    let mut ev = StageEvaluator::new(&p, 0, &[("MODE".to_string(), "0700".to_string())]);
    let c = ev.next(&p.stages[0].steps[1]).unwrap();
    assert_eq!(c.chmod, None);
}

/// Runs the plan-level negative fixtures (`testdata/dockerfiles/negative/plan-*`):
/// each must fail with exactly the diagnostic in `expected`. `BLESS=1`
/// rewrites the expectations (review the diff!).
#[test]
fn plan_negative_fixtures() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/dockerfiles/negative");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("plan-")
        })
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    for dir in &dirs {
        let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let mut o = opts(&text);
        if let Ok(args) = std::fs::read_to_string(dir.join("args")) {
            for line in args.lines().filter(|l| !l.trim().is_empty()) {
                match line.split_once(' ') {
                    Some(("--target", t)) => o.target = Some(t.trim().to_string()),
                    Some(("--build-arg", kv)) => {
                        let (k, v) = kv.trim().split_once('=').unwrap_or((kv.trim(), ""));
                        o.build_args.insert(k.to_string(), v.to_string());
                    }
                    _ => panic!("{}: bad args line {line:?}", dir.display()),
                }
            }
        }
        // The whole front end: the parser may reject some cases first.
        let got = match builder::dockerfile::parse(&text).and_then(|parsed| plan::plan(&parsed, &o))
        {
            Ok(_) => "<no error>".to_string(),
            Err(e) => e.to_string(),
        };
        let expected_path = dir.join("expected");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&expected_path, format!("{got}\n")).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.trim_end() != got {
            failures.push(format!(
                "{}:\n--- expected\n{}\n--- got\n{got}",
                dir.display(),
                expected.trim_end()
            ));
        }
    }
    println!("{} plan-level negative fixtures", dirs.len());
    assert!(dirs.len() >= 15);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
