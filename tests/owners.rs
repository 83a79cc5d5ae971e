//! Owners as Docker 26.1 (BuildKit 0.13) resolves them, on images with and
//! without `/etc/passwd` and `/etc/group`: COPY/ADD `--chown` and WORKDIR
//! under USER (LLB `WithUser`: `root` and numbers need no file, unknown
//! names are 0, a name on an empty stage is `invalid user index: -1`) and a
//! RUN's USER (the executor's `GetUser`: only `uid:gid` pairs work without
//! the files, a missing file is an "invalid argument" error, an empty USER
//! gets root's supplementary groups). Every expected value was recorded
//! with Docker on the same Dockerfile. Needs root and busybox-static.

mod support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use support::world::{World, PATH_ENV};

/// A store holding `base:1`: busybox, with `nobody` (65534:65534) in
/// passwd and `nogroup` (65534) in group.
fn world() -> World {
    let w = World::new("owners-");
    w.import_busybox(
        PATH_ENV,
        "base:1",
        concat!("busybox-for-", env!("CARGO_CRATE_NAME")),
    );
    w
}

impl World {
    /// Builds `dockerfile` (context: a file `f`); success, output, rootfs.
    fn build_out(&self, name: &str, dockerfile: &str) -> (bool, String, PathBuf) {
        let ctx = self.dir.path().join(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("f"), "f\n").unwrap();
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        let out_dir = self.dir.path().join(format!("{name}.out"));
        let out = support::run(
            self.builder()
                .args(["build", "--no-cache", "--progress", "plain"])
                .arg("--output")
                .arg(format!("type=local,dest={}", out_dir.display()))
                .arg(&ctx),
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), all, out_dir)
    }
}

fn owner(root: &Path, p: &str) -> (u32, u32) {
    let m = fs::symlink_metadata(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    (m.uid(), m.gid())
}

#[test]
fn chown_and_workdir_owners() {
    let w = world();
    // No /etc/passwd at all (FROM scratch): ids and root only.
    let (ok, out, root) = w.build_out(
        "scratch",
        "FROM scratch\n\
         COPY --chown=root:root f /f1\nCOPY --chown=root f /f2\n\
         COPY --chown=0:root f /f3\nCOPY --chown=root:0 f /f4\n\
         COPY --chown=1000 f /f5\nADD --chown=root:root f /f6\n",
    );
    assert!(ok, "{out}");
    for (p, ids) in [
        ("f1", (0, 0)),
        ("f2", (0, 0)),
        ("f3", (0, 0)),
        ("f4", (0, 0)),
        ("f5", (1000, 1000)),
        ("f6", (0, 0)),
    ] {
        assert_eq!(owner(&root, p), ids, "{p}");
    }
    // Names missing from passwd/group are root, not errors; a group name
    // that is missing keeps the user's gid.
    let (ok, out, root) = w.build_out(
        "names",
        "FROM base:1\n\
         COPY --chown=nosuch f /f1\nCOPY --chown=nobody:nosuchgroup f /f2\n\
         COPY --chown=nosuch:nogroup f /f3\nCOPY --chown=1000:nosuchgroup f /f4\n\
         USER nosuch\nWORKDIR /w1\nUSER nobody:nosuchgroup\nWORKDIR /w2\n",
    );
    assert!(ok, "{out}");
    for (p, ids) in [
        ("f1", (0, 0)),
        ("f2", (65534, 65534)),
        ("f3", (0, 65534)),
        ("f4", (1000, 1000)),
        ("w1", (0, 0)),
        ("w2", (65534, 65534)),
    ] {
        assert_eq!(owner(&root, p), ids, "{p}");
    }
    // Only one of the two files.
    let (ok, out, root) = w.build_out(
        "one-file",
        "FROM base:1 AS b\nFROM scratch\n\
         COPY --from=b /etc/passwd /etc/passwd\nCOPY --chown=nobody:nobody f /f1\n\
         FROM scratch\n\
         COPY --from=b /etc/group /etc/group\nCOPY --chown=nobody:nogroup f /g1\n\
         COPY --from=1 /f1 /f1\n",
    );
    assert!(ok, "{out}");
    assert_eq!(owner(&root, "f1"), (65534, 65534));
    assert_eq!(owner(&root, "g1"), (0, 65534));
    // A name on a stage with nothing to read it from.
    for (name, dockerfile, line) in [
        ("idx-user", "FROM scratch\nCOPY --chown=nosuch f /f\n", 2),
        (
            "idx-group",
            "FROM scratch\nCOPY --chown=1000:nosuchgroup f /f\n",
            2,
        ),
        ("idx-workdir", "FROM scratch\nUSER nosuch\nWORKDIR /x\n", 3),
    ] {
        let (ok, out, _) = w.build_out(name, dockerfile);
        assert!(!ok, "{dockerfile}");
        assert!(out.contains("invalid user index: -1"), "{out}");
        assert!(out.contains(&format!("Dockerfile:{line}:")), "{out}");
    }
}

#[test]
fn run_users() {
    let w = world();
    let scratch = |user: &str, extra: &str| {
        format!(
            "FROM base:1 AS b\nFROM scratch\nCOPY --from=b /bin/busybox /busybox\n{extra}USER {user}\nRUN [\"/busybox\", \"id\"]\n"
        )
    };
    for (user, want) in [
        ("root:root", "uid=0 gid=0 groups=0"),
        ("0:root", "uid=0 gid=0 groups=0"),
        ("root:0", "uid=0 gid=0 groups=0"),
        ("1000:1000", "uid=1000 gid=1000 groups=1000"),
    ] {
        let (ok, out, _) = w.build_out(
            &format!("run-ok-{}", user.replace(':', "-")),
            &scratch(user, ""),
        );
        assert!(ok && out.contains(want), "USER {user}: want {want}\n{out}");
    }
    let passwd = "COPY --from=b /etc/passwd /etc/passwd\n";
    let refused = [
        ("root", "", "unable to find user root: invalid argument"),
        ("1000", "", "unable to find user 1000: invalid argument"),
        (
            "root:nobody",
            "",
            "unable to find user root: invalid argument",
        ),
        (
            "root",
            passwd,
            "unable to find groups for spec root: invalid argument",
        ),
    ];
    for (i, (user, extra, want)) in refused.into_iter().enumerate() {
        let (ok, out, _) = w.build_out(&format!("run-err-{i}"), &scratch(user, extra));
        assert!(!ok && out.contains(want), "USER {user}: want {want}\n{out}");
        let line = 5 + extra.lines().count();
        assert!(out.contains(&format!("Dockerfile:{line}:")), "{out}");
    }
    // passwd without an entry for a numeric uid: gid 0, no group file needed.
    // (Docker, USER 1000 on a passwd without 1000: uid=1000 gid=0 groups=0.)
    let (ok, out, _) = w.build_out("run-uid", &scratch("4242", passwd));
    assert!(ok && out.contains("uid=4242 gid=0 groups=0"), "{out}");
    // No USER, USER root and USER 0: root's memberships are supplementary
    // groups (Docker: groups=0(root),4(adm),10(wheel)).
    let (ok, out, _) = w.build_out(
        "run-groups",
        "FROM base:1\n\
         RUN echo 'wheel:x:10:root' >> /etc/group && echo 'adm:x:4:daemon,root' >> /etc/group\n\
         RUN id\nUSER root\nRUN id\nUSER 0\nRUN id\n",
    );
    assert!(ok, "{out}");
    let want = "uid=0(root) gid=0(root) groups=0(root),4(adm),10(wheel)";
    assert_eq!(out.matches(want).count(), 3, "{out}");
}
