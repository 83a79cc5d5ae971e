//! COPY/ADD shapes Docker 26.1 (BuildKit 0.13) refuses, and the shapes next
//! to them it accepts, built through the binary on both COPY paths (direct
//! and `BUILDER_COPY_VIA_OVERLAY=1`). Each expected error fragment is the
//! one Docker printed for the same Dockerfile on the same base (its host
//! path prefix left out); builder must also name the Dockerfile line.
//! Needs root (overlay mounts) and busybox-static.

mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::images::{merged_usr_rootfs, tar_archive};
use support::run_ok;

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A store with `base:1` (busybox, a real /bin) and `merged:1` (merged /usr
/// with symlinks of every kind, see `support::images`).
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        support::ensure_packages();
        let dir = tempfile::Builder::new()
            .prefix("copy-errors-")
            .tempdir()
            .unwrap();
        let w = World { dir };
        let merged = merged_usr_rootfs(w.dir.path());
        let busybox = support::busybox_rootfs(concat!("busybox-for-", env!("CARGO_CRATE_NAME")));
        for (tag, rootfs) in [
            ("merged:1", merged.as_path()),
            ("base:1", busybox.as_path()),
        ] {
            run_ok(
                w.builder(false)
                    .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
                    .args(["--cmd", "sh", "-t", tag])
                    .arg(rootfs),
            );
        }
        w
    }

    fn builder(&self, overlay_only: bool) -> Command {
        let p = self.dir.path();
        let mut c = support::builder(&p.join("store"), &p.join("docker"));
        if overlay_only {
            c.env("BUILDER_COPY_VIA_OVERLAY", "1");
        } else {
            c.env_remove("BUILDER_COPY_VIA_OVERLAY");
        }
        c
    }

    /// A fresh context `name` holding `dockerfile` and the shared files:
    /// `f.sh`, `f.txt`, `dir/{y,sub/x}`, `exists/a.sh`, `afile`, the
    /// dangling `dl -> nowhere`, and `rootfs-*` trees whose top entries
    /// meet the merged base's symlinks.
    fn context(&self, name: &str, dockerfile: &str) -> PathBuf {
        let c = self.dir.path().join(name);
        fs::create_dir_all(c.join("dir/sub")).unwrap();
        fs::write(c.join("dir/sub/x"), "x\n").unwrap();
        fs::write(c.join("dir/y"), "y\n").unwrap();
        fs::write(c.join("f.sh"), "f\n").unwrap();
        fs::write(c.join("f.txt"), "t\n").unwrap();
        fs::write(c.join("afile"), "a\n").unwrap();
        fs::create_dir_all(c.join("exists")).unwrap();
        fs::write(c.join("exists/a.sh"), "a\n").unwrap();
        symlink("nowhere", c.join("dl")).unwrap();
        for (tree, file) in [
            ("rootfs-bin", "bin/tool.sh"),
            ("rootfs-absfile", "absfile/x"),
            ("rootfs-absdang", "absdang/x"),
            ("rootfs-rellib", "usr/rellib/x"),
            ("rootfs-mylink", "mylink/x"),
        ] {
            let p = c.join(tree).join(file);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "t\n").unwrap();
        }
        fs::create_dir_all(c.join("rootfs-usr")).unwrap();
        fs::write(c.join("rootfs-usr/usr"), "t\n").unwrap();
        tar_archive(&c.join("absfile.tar"), &[("absfile/x", false)]);
        tar_archive(&c.join("absdang.tar"), &[("absdang/x", false)]);
        tar_archive(&c.join("rellib.tar"), &[("rellib/x", false)]);
        fs::write(c.join("Dockerfile"), dockerfile).unwrap();
        c
    }

    /// Builds `ctx` with one COPY path; the combined output and success.
    fn build(&self, ctx: &Path, overlay_only: bool) -> (bool, String) {
        let out = support::run(
            self.builder(overlay_only)
                .args(["build", "--no-cache", "--progress", "plain"])
                .arg("--output")
                .arg(format!(
                    "type=local,dest={}",
                    ctx.with_extension("out").display()
                ))
                .arg(ctx),
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), all)
    }
}

/// `(Dockerfile, Docker's error fragment, the failing line)`.
const REFUSED: &[(&str, &str, usize)] = &[
    // A directory inside the copied tree meets a symlink (to a directory, to
    // a file, dangling; from the base or an earlier layer) or the copied
    // directory meets a file at the destination.
    ("FROM merged:1\nCOPY rootfs-bin /\n", "cannot copy to non-directory: /bin", 2),
    ("FROM merged:1\nCOPY rootfs-absfile /\n", "cannot copy to non-directory: /absfile", 2),
    ("FROM merged:1\nCOPY rootfs-absdang /\n", "cannot copy to non-directory: /absdang", 2),
    ("FROM merged:1\nCOPY rootfs-rellib /\n", "cannot copy to non-directory: /usr/rellib", 2),
    (
        "FROM merged:1\nRUN ln -s /usr/lib /mylink\nCOPY rootfs-mylink /\n",
        "cannot copy to non-directory: /mylink",
        3,
    ),
    (
        "FROM merged:1 AS s\nRUN mkdir -p /src/bin && echo r > /src/bin/r\nFROM merged:1\nCOPY --from=s /src /\n",
        "cannot copy to non-directory: /bin",
        4,
    ),
    ("FROM merged:1\nCOPY dir /relfile\n", "cannot copy to non-directory: /etc/afile", 2),
    // The destination's parent is (a symlink to) a file.
    ("FROM merged:1\nCOPY f.sh /absfile/x\n", "mkdir /etc/afile: not a directory", 2),
    ("FROM merged:1\nCOPY f.sh /absfile/\n", "mkdir /etc/afile: not a directory", 2),
    ("FROM merged:1\nCOPY dir /absfile/\n", "mkdir /etc/afile: not a directory", 2),
    // A directory source after a file source made the destination a file.
    ("FROM base:1\nCOPY f.txt dir /x\n", "cannot copy to non-directory: /x", 2),
    // A file meets a directory.
    ("FROM merged:1\nCOPY rootfs-usr /\n", "cannot replace to directory /usr with file", 2),
    // An archive entry below a symlink to a file, a dangling one, or one that
    // leaves the extraction root (ADD resolves inside its destination).
    ("FROM merged:1\nADD absfile.tar /\n", "open /absfile/x: not a directory", 2),
    ("FROM merged:1\nADD absdang.tar /\n", "open /absdang/x: no such file or directory", 2),
    ("FROM merged:1\nADD rellib.tar /usr/\n", "open /rellib/x: no such file or directory", 2),
    // A wildcard below a missing directory, in every source kind.
    ("FROM base:1\nCOPY missing/*.sh /dst/\n", "lstat /missing: no such file or directory", 2),
    (
        "FROM base:1\nCOPY missing/sub/*.txt /dst/\n",
        "lstat /missing/sub: no such file or directory",
        2,
    ),
    (
        "FROM base:1\nCOPY missing/*.sh f.txt /dst/\n",
        "lstat /missing: no such file or directory",
        2,
    ),
    (
        "FROM base:1 AS s\nRUN mkdir /exists\nFROM base:1\nCOPY --from=s missing/* /dst/\n",
        "lstat /missing: no such file or directory",
        4,
    ),
    ("FROM base:1\nADD missing/*.tar /dst/\n", "lstat /missing: no such file or directory", 2),
    ("FROM base:1\nCOPY dl/*.sh /dst/\n", "lstat /nowhere: no such file or directory", 2),
    // A directory (or file) of the context the build reads nothing in: Docker
    // 26.1's client does not send it (cases 104/105/107 of tests/parity).
    ("FROM base:1\nCOPY exists/*.nomatch /dst/\n", "lstat /exists: no such file or directory", 2),
    (
        "FROM base:1\nCOPY exists/*.nomatch f.txt /dst/\n",
        "lstat /exists: no such file or directory",
        2,
    ),
    (
        "FROM base:1\nCOPY exists/*/*.nomatch /dst/\n",
        "lstat /exists: no such file or directory",
        2,
    ),
    (
        "FROM base:1 AS unused\nCOPY exists /e\nFROM base:1\nCOPY exists/*.nomatch /dst/\n",
        "lstat /exists: no such file or directory",
        4,
    ),
    ("FROM base:1\nCOPY afile/*.sh /dst/\n", "lstat /afile: no such file or directory", 2),
];

#[test]
fn refused_as_docker_refuses_them() {
    let w = World::new();
    let mut failures = Vec::new();
    for (i, (dockerfile, fragment, line)) in REFUSED.iter().enumerate() {
        let ctx = w.context(&format!("refused-{i}"), dockerfile);
        for overlay_only in [false, true] {
            let (ok, out) = w.build(&ctx, overlay_only);
            let located = format!("Dockerfile:{line}:");
            if ok || !out.contains(fragment) || !out.contains(&located) {
                failures.push(format!(
                    "{dockerfile:?} (overlay only: {overlay_only}): want {fragment:?} at {located}, got:\n{}",
                    out.lines().filter(|l| l.contains("rror")).collect::<Vec<_>>().join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The neighbours Docker builds: a wildcard matching nothing in a directory
/// the build reads something in (another source of the instruction or of
/// another step, `COPY .`, a bind mount of the whole context), at the top of
/// the context, or in a `--from` stage (whose root is all there); a file as
/// the directory part when it is read; nothing matched makes no
/// destination.
#[test]
fn accepted_as_docker_accepts_them() {
    let w = World::new();
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("COPY *.nomatch /dst/\n", &[], &["dst"]),
        ("COPY ex*/missing/*.sh /dst/\n", &[], &["dst"]),
        (
            "COPY exists/*.nomatch exists/*.sh /dst/\n",
            &["dst/a.sh"],
            &[],
        ),
        (
            "COPY exists/*.nomatch /dst/\nCOPY exists/a.sh /a\n",
            &["a"],
            &["dst"],
        ),
        (
            "COPY exists/*.nomatch /dst/\nCOPY . /all\n",
            &["all/f.txt"],
            &["dst"],
        ),
        (
            "RUN --mount=type=bind,target=/m true\nCOPY exists/*.nomatch /dst/\n",
            &[],
            &["dst"],
        ),
        ("COPY afile/* /dst/\nCOPY afile /a\n", &["a"], &["dst"]),
        ("COPY --from=s /afile/* /dst/\n", &[], &["dst"]),
        ("COPY --from=s /exists/*.nomatch /dst/\n", &[], &["dst"]),
    ];
    for (i, (copy, present, absent)) in cases.iter().enumerate() {
        let dockerfile =
            format!("FROM base:1 AS s\nRUN mkdir /exists && echo x > /afile\nFROM base:1\n{copy}");
        let ctx = w.context(&format!("accepted-{i}"), &dockerfile);
        for overlay_only in [false, true] {
            let (ok, out) = w.build(&ctx, overlay_only);
            assert!(ok, "{copy:?} (overlay only: {overlay_only}):\n{out}");
            let root = ctx.with_extension("out");
            for p in *present {
                assert!(root.join(p).exists(), "{copy:?}: {p} missing");
            }
            for p in *absent {
                assert!(!root.join(p).exists(), "{copy:?}: {p} made");
            }
            fs::remove_dir_all(&root).unwrap();
        }
    }
    // The wildcard follows a context symlink to a directory.
    let ctx = w.context("accepted-link", "FROM base:1\nCOPY gl/*.sh /dst/\n");
    symlink("exists", ctx.join("gl")).unwrap();
    let (ok, out) = w.build(&ctx, false);
    assert!(ok, "{out}");
    assert!(ctx.with_extension("out").join("dst/a.sh").is_file());
}

/// Several sources to a destination without a trailing `/` (Docker 26.1
/// does not refuse it): each source in turn goes into the destination when
/// that is a directory at that moment, else becomes it, so files overwrite
/// one another (`COPY a.sh b.sh /y` leaves the file /y holding b.sh) and a
/// directory source first makes it a directory.
#[test]
fn several_sources_without_a_trailing_slash() {
    let w = World::new();
    let ctx = w.context(
        "several",
        "FROM base:1\nCOPY f.sh f.txt /x\nCOPY *.sh /y\nCOPY dir f.txt /z\n",
    );
    for overlay_only in [false, true] {
        let (ok, out) = w.build(&ctx, overlay_only);
        assert!(ok, "{out}");
        let root = ctx.with_extension("out");
        assert_eq!(fs::read_to_string(root.join("x")).unwrap(), "t\n");
        assert_eq!(fs::read_to_string(root.join("y")).unwrap(), "f\n");
        for p in ["z/y", "z/sub/x", "z/f.txt"] {
            assert!(root.join(p).is_file(), "{p}");
        }
        fs::remove_dir_all(&root).unwrap();
    }
}
