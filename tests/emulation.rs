//! RUN for a foreign architecture through binfmt_misc and QEMU user
//! emulation (issue 12): Debian's qemu-user-static, registered with the F
//! flag by scripts/install-deps.sh. The bases are real arm64 and arm/v7
//! busybox images made from Debian's packages (support::multiarch) and
//! published to a local registry as single-platform tags and an index.
//! Builds run at each isolation level; the missing-registration error is
//! checked in a user namespace with its own, empty binfmt_misc instance
//! (Linux 6.7+), so the machine's registrations are never touched.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::multiarch::{busybox_rootfs_for, make_multiarch_busybox};
use support::{run, run_ok, run_ok_all, Auth, Registry};

struct World {
    dir: tempfile::TempDir,
    regcfg: PathBuf,
}

impl World {
    fn new(prefix: &str, reg: Option<&Registry>) -> World {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let regcfg = dir.path().join("registries.toml");
        let cfg = reg
            .map(|r| format!("[registry.\"{}\"]\ninsecure = true\n", r.addr))
            .unwrap_or_default();
        fs::write(&regcfg, cfg).unwrap();
        World { dir, regcfg }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn builder(&self, store: &str) -> Command {
        let mut c = support::builder(&self.path(store), &self.path("docker"));
        c.env_remove("BUILDER_ISOLATION");
        c
    }

    fn context(&self, name: &str, dockerfile: &str) -> PathBuf {
        let ctx = self.path(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        fs::write(ctx.join("file"), "content\n").unwrap();
        ctx
    }

    fn build(&self, store: &str, args: &[&str], ctx: &Path) -> String {
        run_ok_all(
            self.builder(store)
                .args(["build", "--progress", "plain", "--source-date-epoch", "0"])
                .arg("--registry-config")
                .arg(&self.regcfg)
                .args(args)
                .arg(ctx),
        )
    }

    fn config(&self, store: &str, tag: &str) -> Value {
        let out = run_ok(self.builder(store).args(["inspect", tag]));
        let v: Value = serde_json::from_str(&out).unwrap();
        if v.get("architecture").is_some() {
            v
        } else {
            v["Config"].clone()
        }
    }
}

/// (platform flag, single-platform tag, `uname -m`, config architecture, variant). The base's
/// arm64 config says variant `v8`; Docker 26.1 writes none for `--platform linux/arm64` (the
/// normalised target platform replaces the base's; tests/parity/cases/140-emulated-run-arm64).
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    ("linux/arm64", "arm64", "aarch64", "arm64", ""),
    ("linux/arm/v7", "armv7", "armv7l", "arm", "v7"),
];

#[test]
fn foreign_runs_are_emulated_at_every_isolation_level() {
    let reg = Registry::start(Auth::Plain);
    let base = make_multiarch_busybox();
    let repo = format!("{}/library/busybox", reg.addr);
    base.publish(&repo);
    assert_eq!(base.config("arm64")["architecture"], "arm64");
    let w = World::new("emu-levels-", Some(&reg));
    for level in ["namespaces", "rootless", "chroot"] {
        for (platform, tag, uname, arch, variant) in CASES {
            let df = format!(
                "FROM {repo}:{tag}\nRUN uname -m > /arch && echo \"$(uname -m) $TARGETARCH\" \n\
                 COPY file /file\nRUN cat /arch /file > /both\n"
            );
            let ctx = w.context(&format!("ctx-{tag}"), &df);
            let store = format!("s-{level}");
            let out = format!("out-{tag}:{level}");
            let log = w.build(
                &store,
                &["--platform", platform, "--isolation", level, "-t", &out],
                &ctx,
            );
            let got = run_ok(
                w.builder(&store)
                    .args(["run", "--rm", "--isolation", level, &out])
                    .args(["sh", "-c", "cat /both; uname -m"]),
            );
            assert_eq!(
                got,
                format!("{uname}\ncontent\n{uname}\n"),
                "{platform} at {level}:\n{log}"
            );
            let cfg = w.config(&store, &out);
            assert_eq!(cfg["architecture"], *arch, "{platform} at {level}: {cfg}");
            let got_variant = cfg.get("variant").and_then(Value::as_str).unwrap_or("");
            assert_eq!(got_variant, *variant, "{platform} at {level}: {cfg}");
            assert_eq!(cfg["os"], "linux");
        }
    }
}

/// `builder info` lists the emulated platforms with their interpreters.
#[test]
fn info_lists_emulated_platforms() {
    let w = World::new("emu-info-", None);
    let out = run_ok(w.builder("s").arg("info"));
    let lines: Vec<&str> = out.lines().skip_while(|l| *l != "platforms:").collect();
    assert!(
        lines
            .iter()
            .any(|l| l.trim_start().starts_with("linux/amd64") && l.ends_with("native")),
        "{out}"
    );
    for (plat, qemu) in [
        ("linux/arm64", "qemu-aarch64"),
        ("linux/arm/v7", "qemu-arm"),
    ] {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{plat} ")))
            .unwrap_or_else(|| panic!("no {plat} in:\n{out}"));
        let reg = fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/{qemu}")).unwrap();
        let interp = reg
            .lines()
            .find_map(|l| l.strip_prefix("interpreter "))
            .unwrap();
        assert!(
            line.contains(&format!("emulated by {interp} ({qemu}, flags "))
                && line
                    .rsplit("flags ")
                    .next()
                    .is_some_and(|f| f.contains('F')),
            "{line}"
        );
    }
}

/// Runs builder in a new user namespace (root mapped to root) whose own
/// binfmt_misc instance is empty: what a machine without QEMU registrations
/// looks like to builder, for real, with the host's entries untouched.
fn without_binfmt(w: &World, args: &[&str]) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_builder");
    let script = "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && \
                  [ -z \"$(ls /proc/sys/fs/binfmt_misc | grep -v -x -e register -e status)\" ] && \
                  exec \"$@\"";
    let mut c = Command::new("unshare");
    c.args([
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        script,
        "sh",
        bin,
    ]);
    c.args(args)
        .env("BUILDER_ROOT", w.path("s"))
        .env("DOCKER_CONFIG", w.path("docker"))
        .env("HOME", w.path("docker"))
        .env_remove("BUILDER_ISOLATION");
    run(&mut c)
}

#[test]
fn missing_emulation_fails_at_the_first_foreign_run_saying_what_to_install() {
    let w = World::new("emu-missing-", None);
    // The arm64 base, imported (no emulation needed to store files).
    run_ok(
        w.builder("s")
            .args([
                "import",
                "--platform",
                "linux/arm64",
                "--source-date-epoch",
                "0",
            ])
            .args(["--cmd", "sh", "-t", "bb-arm64"])
            .arg(busybox_rootfs_for("arm64")),
    );
    // A COPY-only foreign build needs no emulation.
    let ctx = w.context("copy", "FROM bb-arm64\nCOPY file /file\n");
    let o = without_binfmt(
        &w,
        &[
            "build",
            "--platform",
            "linux/arm64",
            "-t",
            "copied",
            ctx.to_str().unwrap(),
        ],
    );
    support::output_ok(&o, "COPY-only foreign build");
    assert_eq!(w.config("s", "copied")["architecture"], "arm64");

    // The first RUN stops the build, naming the package and the registration.
    let ctx = w.context(
        "run",
        "FROM bb-arm64\nCOPY file /file\nRUN uname -m\nRUN true\n",
    );
    let o = without_binfmt(
        &w,
        &[
            "build",
            "--platform",
            "linux/arm64",
            "-t",
            "ran",
            ctx.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "built without emulation:\n{err}");
    for want in [
        "Dockerfile:3",
        "linux/arm64: no QEMU user emulation is registered for arm64 binaries",
        "apt-get install qemu-user-static binfmt-support",
        "update-binfmts --enable qemu-aarch64",
        "F flag",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // `builder run` of the foreign image says the same before running anything.
    let o = without_binfmt(&w, &["run", "--rm", "copied", "true"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("copied: linux/arm64: no QEMU user emulation is registered"),
        "{err}"
    );
    // Outside that namespace the host's registration runs it.
    let out = run_ok(
        w.builder("s")
            .args(["run", "--rm", "copied", "uname", "-m"]),
    );
    assert_eq!(out, "aarch64\n");
}
