//! `builder build --check` / `--call check` and the `# check=` directive,
//! through the real binary: BuildKit's lint rules with their names, URLs and
//! messages, printed as `docker build --check` prints them.
//!
//! Docker 26.1 (buildx 0.13.1, BuildKit 0.13) has neither `--check` nor lint
//! rules: they arrived with buildx 0.15 / BuildKit 0.14 (Docker 27). The
//! expected texts are recorded from BuildKit's source instead:
//! `frontend/dockerfile/linter/ruleset.go` (names, URLs, messages),
//! `frontend/subrequests/lint/lint.go` and `solver/errdefs/source.go` (the
//! `WARNING:` block and the snippet), buildx `commands/build.go`
//! (`Check complete, …` and the exit status), and the cases of
//! `frontend/dockerfile/dockerfile_lint_test.go`.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::run;

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            dir: tempfile::Builder::new().prefix("lint-").tempdir().unwrap(),
        }
    }

    fn context(&self, name: &str, dockerfile: &str) -> PathBuf {
        let ctx = self.dir.path().join(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        fs::write(ctx.join("a"), "a").unwrap();
        ctx
    }

    fn build(&self, args: &[&str], ctx: &Path) -> Output {
        run(support::builder(
            &self.dir.path().join("store"),
            &self.dir.path().join("docker"),
        )
        .args(["build", "--progress", "plain"])
        .args(args)
        .arg(ctx))
    }
}

fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// One finding, exactly as buildx prints it (summary, block, snippet).
#[test]
fn check_prints_buildkit_blocks() {
    let w = World::new();
    let ctx = w.context("ctx", "FROM scratch as Final\nCOPY a /a\n");
    let o = w.build(&["--check"], &ctx);
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "Check complete, 2 warnings have been found!\n\
         \n\
         WARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/\n\
         'as' and 'FROM' keywords' casing do not match\n\
         Dockerfile:1\n\
         --------------------\n\
         \x20  1 | >>> FROM scratch as Final\n\
         \x20  2 |     COPY a /a\n\
         \x20  3 |     \n\
         --------------------\n\
         \n\
         WARNING: StageNameCasing - https://docs.docker.com/go/dockerfile/rule/stage-name-casing/\n\
         Stage name 'Final' should be lowercase\n\
         Dockerfile:1\n\
         --------------------\n\
         \x20  1 | >>> FROM scratch as Final\n\
         \x20  2 |     COPY a /a\n\
         \x20  3 |     \n\
         --------------------\n"
    );
    // --check does not build: nothing was stored.
    assert!(!w.dir.path().join("store").exists());
}

/// Each rule fires on BuildKit's cases and names itself with its message.
#[test]
fn rules_and_messages() {
    let w = World::new();
    let cases: &[(&str, &str, &str)] = &[
        ("FROM scratch\nMAINTAINER me\n", "MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label"),
        ("FROM scratch\nCMD echo hi\n", "JSONArgsRecommended", "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals"),
        ("FROM scratch\nENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\n", "MultipleInstructionsDisallowed", "Multiple ENTRYPOINT instructions should not be used in the same stage because only the last one will be used"),
        ("FROM scratch\nENV A b\n", "LegacyKeyValueFormat", "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format"),
        ("FROM scratch\nWORKDIR app\n", "WorkdirRelativePath", "Relative workdir \"app\" can have unexpected results if the base image changes"),
        ("FROM scratch\nARG DB_PASSWORD\n", "SecretsUsedInArgOrEnv", "Do not use ARG or ENV instructions for sensitive data (ARG \"DB_PASSWORD\")"),
        ("FROM scratch AS a\nFROM scratch AS a\n", "DuplicateStageName", "Duplicate stage name \"a\", stage names should be unique"),
        ("FROM scratch AS context\n", "ReservedStageName", "Stage name should not use the same name as reserved stage \"context\""),
        ("FROM scratch\nrun true\ncopy a /a\n", "ConsistentInstructionCasing", "Command 'FROM' should match the case of the command majority (lowercase)"),
        ("ARG VERSION=1\nFROM busybox:${VERSIN}\n", "UndefinedArgInFrom", "FROM argument 'VERSIN' is not declared (did you mean VERSION?)"),
        ("FROM --platform=$TARGETPLATFORM scratch\n", "RedundantTargetPlatform", "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior"),
        ("FROM --platform=linux/amd64 scratch AS build\n", "FromPlatformFlagConstDisallowed", "FROM --platform flag should not use constant value \"linux/amd64\""),
        ("ARG TAG\nFROM busybox:${TAG}\n", "InvalidDefaultArgInFrom", "Default value for ARG busybox:${TAG} results in empty or invalid base image name"),
        ("FROM scratch\nEXPOSE 80/TCP\n", "ExposeProtoCasing", "Defined protocol '80/TCP' in EXPOSE instruction should be lowercase"),
        ("FROM scratch\nRUN echo \\\n\n  b\n", "NoEmptyContinuation", "Empty continuation line"),
    ];
    for (i, (df, rule, message)) in cases.iter().enumerate() {
        let ctx = w.context(&format!("c{i}"), df);
        let o = w.build(&["--call", "check"], &ctx);
        let (stdout, stderr) = out(&o);
        assert_eq!(o.status.code(), Some(0), "{df}: {stderr}");
        assert!(
            stdout.contains(&format!(
                "WARNING: {rule} - https://docs.docker.com/go/dockerfile/rule/"
            )),
            "{df}:\n{stdout}"
        );
        assert!(
            stdout.contains(&format!("\n{message}\n")),
            "{df}:\n{stdout}"
        );
    }
    // Not findings: a const platform named in the stage, an allowed key, a clean file.
    for df in [
        "FROM --platform=linux/amd64 scratch AS build-amd64\n",
        "FROM scratch\nARG PUBLIC_KEY\nENV GPG_KEY_FILE=x\n",
        "FROM scratch AS base\nCOPY a /a\nCMD [\"a\"]\n",
        "ARG TAG=1\nFROM busybox:${TAG}\n",
    ] {
        let ctx = w.context("clean", df);
        let (stdout, _) = out(&w.build(&["--check"], &ctx));
        assert_eq!(stdout, "Check complete, no warnings found.\n", "{df}");
    }
}

/// `# check=skip=…` drops rules; `error=true` makes findings fail: exit 1
/// with BuildKit's `lint violation found for rules:` (also for a build).
#[test]
fn check_directive_skip_and_error() {
    let w = World::new();
    let ctx = w.context(
        "skip",
        "# check=skip=StageNameCasing,FromAsCasing\nFROM scratch as Final\nCOPY a /a\n",
    );
    let (stdout, _) = out(&w.build(&["--check"], &ctx));
    assert_eq!(stdout, "Check complete, no warnings found.\n");

    let ctx = w.context(
        "error",
        "# check=error=true\nFROM scratch AS Final\nCOPY a /a\n",
    );
    let o = w.build(&["--check"], &ctx);
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout.contains("WARNING: StageNameCasing"), "{stdout}");
    assert!(
        stderr.contains("lint violation found for rules: StageNameCasing"),
        "{stderr}"
    );
    let o = w.build(&[], &ctx);
    assert!(!o.status.success());
    assert!(out(&o)
        .1
        .contains("lint violation found for rules: StageNameCasing"));

    let ctx = w.context("bad", "# check=fail=yes\nFROM scratch\n");
    let (_, stderr) = out(&w.build(&["--check"], &ctx));
    assert!(stderr.contains("invalid check option \"fail\""), "{stderr}");
}

/// A normal build lists the findings on stderr and still builds.
#[test]
fn build_lists_findings() {
    let w = World::new();
    let ctx = w.context("ctx", "FROM scratch AS Final\nCOPY a /a\n");
    let o = w.build(&["-t", "lint-test:1"], &ctx);
    let (_, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains(" 1 lint finding (builder build --check shows them in full):\n - StageNameCasing: Stage name 'Final' should be lowercase (line 1)\n"),
        "{stderr}"
    );
}

/// Extra context files: `(name, content)`.
type Files = &'static [(&'static str, &'static str)];

/// A platform that is not the host's (for a base image built for it).
fn foreign_platform() -> &'static str {
    if std::env::consts::ARCH == "aarch64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    }
}

fn host_platform() -> &'static str {
    if std::env::consts::ARCH == "aarch64" {
        "linux/arm64"
    } else {
        "linux/amd64"
    }
}

impl World {
    /// `base:1` (ENV FOO=bar, host platform) and `foreign:1` (another
    /// platform) in the store, built from scratch.
    fn bases(&self) {
        let ctx = self.context("base", "FROM scratch\nENV FOO=bar\nCOPY a /a\n");
        for args in [
            &["-t", "base:1"][..],
            &["-t", "foreign:1", "--platform", foreign_platform()],
        ] {
            let o = self.build(args, &ctx);
            assert!(o.status.success(), "{args:?}: {}", out(&o).1);
        }
    }

    fn context_with(&self, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> PathBuf {
        let ctx = self.context(name, dockerfile);
        for (p, c) in files {
            fs::write(ctx.join(p), c).unwrap();
        }
        ctx
    }
}

/// The rules that need the build's state (BuildKit's `validations.go`):
/// UndefinedVar with the base image's ENV, declared ARGs and its "did you
/// mean", CopyIgnoredFile against `.dockerignore`, InvalidBaseImagePlatform
/// against a stored base for another platform; and the file rules
/// ExposeInvalidFormat and (experimental) InvalidDefinitionDescription.
#[test]
fn stage_rules_in_check() {
    let w = World::new();
    w.bases();
    let foreign = foreign_platform();
    let host = host_platform();
    let platform_msg = format!(
        "Base image foreign:1 was pulled with platform \"{foreign}\", expected \"{host}\" for current build"
    );
    let cases: Vec<(&str, Files, &str, String)> = vec![
        ("FROM base:1\nENV Y=$FOOO\n", &[], "UndefinedVar - https://docs.docker.com/go/dockerfile/rule/undefined-var/", "Usage of undefined variable '$FOOO' (did you mean $FOO?)".into()),
        ("FROM scratch\nWORKDIR /$TARGETPLATFORM\n", &[], "UndefinedVar", "Usage of undefined variable '$TARGETPLATFORM'".into()),
        ("FROM scratch\nARG A=${NOPE:-x}\n", &[], "UndefinedVar", "Usage of undefined variable '$NOPE'".into()),
        ("FROM scratch\nCOPY a /a\n", &[(".dockerignore", "a\n")], "CopyIgnoredFile - https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/", "Attempting to Copy file \"a\" that is excluded by .dockerignore".into()),
        ("FROM scratch\nADD ./sub/../a /a\n", &[(".dockerignore", "*\n")], "CopyIgnoredFile", "Attempting to Add file \"a\" that is excluded by .dockerignore".into()),
        ("FROM foreign:1\n", &[], "InvalidBaseImagePlatform\n", platform_msg),
        ("FROM scratch\nEXPOSE 127.0.0.1:8080:80\n", &[], "ExposeInvalidFormat - https://docs.docker.com/go/dockerfile/rule/expose-invalid-format/", "EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:8080:80'".into()),
        ("FROM scratch\nEXPOSE 8080:80/udp\n", &[], "ExposeInvalidFormat", "EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80/udp'".into()),
        ("# check=experimental=InvalidDefinitionDescription\nFROM scratch\n# the version to use\nARG VERSION=1\n", &[], "InvalidDefinitionDescription - https://docs.docker.com/go/dockerfile/rule/invalid-definition-description/", "Comment for ARG should follow the format: `# VERSION <description>`".into()),
        ("# check=experimental=all\n# the build stage\nFROM scratch AS build\n", &[], "InvalidDefinitionDescription", "Comment for FROM should follow the format: `# build <description>`".into()),
    ];
    for (i, (df, files, rule, message)) in cases.iter().enumerate() {
        let ctx = w.context_with(&format!("s{i}"), df, files);
        let o = w.build(&["--check"], &ctx);
        let (stdout, stderr) = out(&o);
        assert_eq!(o.status.code(), Some(0), "{df}: {stderr}");
        assert!(
            stdout.contains(&format!("WARNING: {rule}")),
            "{df}:\n{stdout}"
        );
        assert!(
            stdout.contains(&format!("\n{message}\n")),
            "{df}:\n{stdout}"
        );
        assert!(
            stdout.starts_with("Check complete, 1 warning has been found!"),
            "{df}:\n{stdout}"
        );
    }
    // Not findings: what BuildKit counts as defined (base ENV, PATH, ENV, a
    // declared ARG even without a value, a declared predefined ARG, the SBOM
    // args), ignored files with a `!` exception, the base for this platform,
    // a plain EXPOSE, a matching description, experimental rules off.
    let clean: Vec<(&str, Files)> = vec![
        ("FROM base:1\nARG A\nARG TARGETPLATFORM\nENV X=$FOO Y=$A Z=$PATH\nENV W=$X\nWORKDIR /$TARGETPLATFORM\nLABEL s=$BUILDKIT_SBOM_SCAN_STAGE\n", &[]),
        ("FROM base:1 AS one\nENV BAR=1\nFROM one\nENV Y=$BAR$FOO\n", &[]),
        ("FROM scratch\nCOPY a /a\n", &[(".dockerignore", "a\n!a\n")]),
        ("FROM scratch\nCOPY a /a\n", &[(".dockerignore", "other\n")]),
        ("FROM scratch\nCOPY . /a\n", &[(".dockerignore", "other\n")]),
        ("FROM base:1\nEXPOSE 80 443/tcp\n", &[]),
        ("# check=experimental=InvalidDefinitionDescription\nFROM scratch\n# VERSION the version to use\nARG VERSION=1\n#\nARG OTHER=2\n", &[]),
        ("FROM scratch\n# the version to use\nARG VERSION=1\n", &[]),
    ];
    for (i, (df, files)) in clean.iter().enumerate() {
        let ctx = w.context_with(&format!("n{i}"), df, files);
        let (stdout, stderr) = out(&w.build(&["--check"], &ctx));
        assert_eq!(
            stdout, "Check complete, no warnings found.\n",
            "{df}: {stderr}"
        );
    }
    // The base for the platform asked for: no InvalidBaseImagePlatform.
    let ctx = w.context("plat", "FROM foreign:1\n");
    let (stdout, _) = out(&w.build(&["--check", "--platform", foreign], &ctx));
    assert_eq!(stdout, "Check complete, no warnings found.\n");
}

/// The stage rules as a build's warnings: listed before the steps, the
/// build still runs; and a `# check=skip=` drops them.
#[test]
fn stage_rules_in_build() {
    let w = World::new();
    w.bases();
    let ctx = w.context_with(
        "b",
        "FROM base:1\nENV A=$FOOO B=$FOO\nCOPY . /x/\nEXPOSE 127.0.0.1:80:80\n",
        &[(".dockerignore", "*\n")],
    );
    let o = w.build(&["-t", "stage-rules:1"], &ctx);
    let (_, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            " 3 lint findings (builder build --check shows them in full):\n \
             - UndefinedVar: Usage of undefined variable '$FOOO' (did you mean $FOO?) (line 2)\n \
             - CopyIgnoredFile: Attempting to Copy file \".\" that is excluded by .dockerignore (line 3)\n \
             - ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80' (line 4)\n"
        ),
        "{stderr}"
    );
    // As BuildKit: the IP and host port are dropped, the container port exposed.
    let o = run(
        support::builder(&w.dir.path().join("store"), &w.dir.path().join("docker"))
            .args(["inspect", "stage-rules:1"]),
    );
    let inspect: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ports = inspect.pointer("/Config/config/ExposedPorts");
    assert_eq!(ports, Some(&serde_json::json!({"80/tcp": {}})), "{inspect}");
    // Only the stages the target needs are checked in a build.
    let ctx = w.context(
        "unneeded",
        "FROM scratch AS unused\nENV A=$NOPE\nFROM base:1\nENV B=$FOO\n",
    );
    w.builds_without_findings(&ctx, "stage-rules:2");
    let (stdout, _) = out(&w.build(&["--check"], &ctx));
    assert!(
        stdout.contains("Usage of undefined variable '$NOPE'"),
        "{stdout}"
    );

    let ctx = w.context(
        "skipped",
        "# check=skip=UndefinedVar\nFROM base:1\nENV A=$FOOO\n",
    );
    w.builds_without_findings(&ctx, "stage-rules:3");
}

impl World {
    /// Builds `ctx` as `tag`: it succeeds and lists no lint finding.
    fn builds_without_findings(&self, ctx: &Path, tag: &str) {
        let o = self.build(&["-t", tag], ctx);
        let (_, stderr) = out(&o);
        assert!(o.status.success(), "{stderr}");
        assert!(!stderr.contains("lint finding"), "{stderr}");
    }
}
