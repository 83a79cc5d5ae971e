//! Level 2 (rootless) with real parts: a test user made with `useradd`, its
//! /etc/subuid and /etc/subgid ranges, the setuid `newuidmap`/`newgidmap`
//! of Debian's `uidmap`, builder run as that user through `setpriv` with its
//! own store under `$XDG_DATA_HOME`. Its images must equal root's to the
//! byte. Needs root (to make the user), busybox-static and uidmap.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;

use support::fixtures::sh;
use support::run_ok_all as run_ok;

/// The user with subordinate ranges, and one without any.
const USER: &str = "builder-rl";
const USER_NO_RANGES: &str = "builder-rl1";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_builder")
}

/// Makes both users (kept if they exist) and uidmap; the first gets the
/// range 300000-365535 (whatever useradd gave it is replaced), the second
/// none.
fn users() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if Command::new("sh")
            .args(["-c", "command -v newuidmap"])
            .output()
            .is_ok_and(|o| !o.status.success())
        {
            sh("apt-get install -y -q uidmap >/dev/null 2>&1 || \
                (apt-get update -q >/dev/null && apt-get install -y -q uidmap >/dev/null)");
        }
        for u in [USER, USER_NO_RANGES] {
            sh(&format!(
                "id -u {u} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin {u}"
            ));
            for f in ["/etc/subuid", "/etc/subgid"] {
                sh(&format!("sed -i '/^{u}:/d' {f}"));
            }
        }
        sh(&format!("echo {USER}:300000:65536 >> /etc/subuid"));
        sh(&format!("echo {USER}:300000:65536 >> /etc/subgid"));
    });
}

/// A scratch dir everyone can enter (the test users read the context).
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rootless-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// builder as `user` (setpriv), with `home` as HOME and XDG_DATA_HOME.
fn as_user(user: &str, home: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid",
        user,
        "--regid",
        user,
        "--init-groups",
        "--",
        bin(),
    ])
    .env_remove("BUILDER_ROOT")
    .env_remove("BUILDER_ISOLATION")
    .env_remove("SOURCE_DATE_EPOCH")
    .env("HOME", home)
    .env("XDG_DATA_HOME", home.join("data"));
    c
}

fn as_root(store: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("BUILDER_ROOT", store)
        .env_remove("BUILDER_ISOLATION")
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

fn output(cmd: &mut Command) -> (bool, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), text)
}

/// A store holding the busybox rootfs as `busybox:latest`, imported by root
/// (the user cannot read root-owned files with their owners), copied into
/// `dest` and given to `owner` when set.
fn seeded_store(dest: &Path, owner: Option<&str>) {
    static SEED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let seed = SEED.get_or_init(|| {
        let seed = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rootless-seed-store");
        let _ = fs::remove_dir_all(&seed);
        let rootfs = support::busybox_rootfs("rootless-busybox-rootfs");
        run_ok(
            as_root(&seed)
                .args(["import", "--source-date-epoch", "0"])
                .args([
                    "--env",
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "-t",
                    "busybox:latest",
                    rootfs.to_str().unwrap(),
                ]),
        );
        seed
    });
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    sh(&format!("cp -a {} {}", seed.display(), dest.display()));
    if let Some(u) = owner {
        // The whole home: dest is HOME/data/builder.
        let home = dest.ancestors().nth(2).unwrap();
        sh(&format!("chown -R {u}: {}", home.display()));
    }
}

const DOCKERFILE: &str = "\
FROM busybox:latest
RUN mkdir -p /data/a /data/b && echo one > /data/a/x && echo two > /data/b/y \\
 && chown 1000:1000 /data/a/x && chown 33:44 /data/b && chmod 4755 /data/a/x \\
 && chmod 2755 /data/b && ln /data/b/y /data/b/hard && rm -rf /root \\
 && rm -rf /usr/local && mkdir -p /usr/local/bin && echo k > /usr/local/bin/k
COPY f.txt /data/f.txt
RUN chown 65534:65534 /data/f.txt && rm /data/b/hard
";

fn context(dir: &Path) -> PathBuf {
    user_context(dir, "ctx", DOCKERFILE, &[("f.txt", "hello\n")])
}

/// A context `dir/name` holding `dockerfile` and `files`, readable by the
/// unprivileged test users.
fn user_context(dir: &Path, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> PathBuf {
    let ctx = dir.join(name);
    fs::create_dir(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    for (p, content) in files {
        fs::write(ctx.join(p), content).unwrap();
    }
    sh(&format!("chmod -R a+rX {}", ctx.display()));
    ctx
}

fn diff_ids(inspect_json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(inspect_json).unwrap();
    v["Manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn rootless_build_equals_the_root_build_and_runs() {
    users();
    let dir = scratch();
    let ctx = context(dir.path());
    let build = |c: &mut Command, iid: &Path| {
        let out = run_ok(
            c.args(["build", "--source-date-epoch", "0", "--progress", "plain"])
                .args([
                    "--iidfile",
                    iid.to_str().unwrap(),
                    "-t",
                    "t:1",
                    ctx.to_str().unwrap(),
                ]),
        );
        (fs::read_to_string(iid).unwrap(), out)
    };

    let root_store = dir.path().join("root-store");
    seeded_store(&root_store, None);
    let (root_iid, _) = build(&mut as_root(&root_store), &dir.path().join("root.iid"));

    let home = dir.path().join("home");
    seeded_store(&home.join("data/builder"), Some(USER));
    let iid = home.join("user.iid");
    let (user_iid, log) = build(&mut as_user(USER, &home), &iid);
    // The one warning allowed: a host whose /dev/net/tun is 0600 (root
    // only) leaves a rootless RUN on the host's network (issue 18).
    assert!(
        !log.lines()
            .any(|l| l.contains("warning") && !l.contains("/dev/net/tun")),
        "a range map needs no warning:\n{log}"
    );
    assert_eq!(
        user_iid, root_iid,
        "rootless image differs from root's:\n{log}"
    );
    let inspect = |c: &mut Command| run_ok(c.args(["inspect", "t:1"]));
    let (root_layers, user_layers) = (
        diff_ids(&inspect(&mut as_root(&root_store))),
        diff_ids(&inspect(&mut as_user(USER, &home))),
    );
    assert_eq!(user_layers.len(), 4);
    assert_eq!(user_layers, root_layers);

    // The owners inside are the image's; on the host they are the user's
    // subordinate ids (1000 in the image = 300000 + 999).
    let out = run_ok(as_user(USER, &home).args([
        "run",
        "--rm",
        "t:1",
        "sh",
        "-c",
        "id -u; stat -c '%u:%g %a' /data/a/x /data/b /data/f.txt; cat /data/a/x; ls /dev/null /proc/1",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.starts_with(&[
            "0",
            "1000:1000 4755",
            "33:44 2755",
            "65534:65534 644",
            "one"
        ]),
        "{out}"
    );
    let snapshots = home.join("data/builder/snapshots");
    let found = Command::new("find")
        .args([
            snapshots.to_str().unwrap(),
            "-path",
            "*/data/a/x",
            "-uid",
            "300999",
        ])
        .output()
        .unwrap();
    assert!(
        !found.stdout.is_empty(),
        "no snapshot file owned by host uid 300999 under {}",
        snapshots.display()
    );

    // Snapshots extracted from the layer blobs in the namespace: owners,
    // setuid bits and the opaque /usr/local (user.overlay.opaque) survive.
    fs::remove_dir_all(&snapshots).unwrap();
    fs::create_dir(&snapshots).unwrap();
    sh(&format!("chown {USER}: {}", snapshots.display()));
    let out = run_ok(as_user(USER, &home).args([
        "run",
        "--rm",
        "t:1",
        "sh",
        "-c",
        "stat -c '%u:%g %a' /data/a/x /data/b; ls /usr/local; ls /root 2>&1 || echo gone",
    ]));
    assert!(
        out.starts_with("1000:1000 4755\n33:44 2755\nbin\n") && out.contains("gone"),
        "{out}"
    );
}

#[test]
fn info_names_the_level_and_why() {
    users();
    let dir = scratch();
    let (ok, root_info) = output(as_root(&dir.path().join("s")).arg("info"));
    assert!(ok, "{root_info}");
    assert!(
        root_info.starts_with("isolation: namespaces\n"),
        "{root_info}"
    );
    assert!(root_info.contains("\nkernel: "), "{root_info}");

    let home = dir.path().join("home");
    let (ok, info) = output(as_user(USER, &home).arg("info"));
    assert!(ok, "{info}");
    assert!(info.starts_with("isolation: rootless\n"), "{info}");
    assert!(
        info.contains("subuid ranges: 300000-365535 (65536)"),
        "{info}"
    );
    assert!(info.contains("newuidmap: /"), "{info}");
    assert!(
        info.contains(&format!("store: {}", home.join("data/builder").display())),
        "{info}"
    );

    let (ok, info) = output(as_user(USER_NO_RANGES, &home).arg("info"));
    assert!(ok, "{info}");
    assert!(info.starts_with("isolation: rootless\n"), "{info}");
    assert!(info.contains("subuid ranges: none"), "{info}");
}

#[test]
fn forced_levels_that_cannot_work_say_what_is_missing() {
    users();
    let dir = scratch();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    sh(&format!("chown {USER}: {}", home.display()));
    let ctx = context(dir.path());
    for (level, expect) in [
        ("namespaces", "needs root with CAP_SYS_ADMIN"),
        ("chroot", "--isolation chroot needs root"),
    ] {
        let (ok, out) = output(
            as_user(USER, &home)
                .args(["build", "--isolation", level])
                .arg(&ctx),
        );
        assert!(!ok, "--isolation {level} should fail:\n{out}");
        assert!(out.contains(expect), "--isolation {level}:\n{out}");
        assert!(out.contains("hostUsers: false"), "no fixes listed:\n{out}");
        assert!(!out.contains("EPERM") && !out.contains("EINVAL"), "{out}");
    }
}

#[test]
fn single_id_map_warns_and_builds_root_owned_files() {
    users();
    let dir = scratch();
    let home = dir.path().join("home");
    seeded_store(&home.join("data/builder"), Some(USER_NO_RANGES));
    let ctx = user_context(
        dir.path(),
        "ctx1",
        "FROM busybox:latest\nRUN echo hi > /hi && id -u > /uid\n",
        &[],
    );
    let (ok, out) = output(
        as_user(USER_NO_RANGES, &home)
            .args(["build", "-t", "s:1"])
            .arg(&ctx),
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("warning:") && out.contains("no /etc/subuid"),
        "{out}"
    );
    let out =
        run_ok(as_user(USER_NO_RANGES, &home).args(["run", "--rm", "s:1", "cat", "/hi", "/uid"]));
    assert!(out.contains("hi\n0\n"), "{out}");
}

/// Root without CAP_SYS_ADMIN (a container's default capabilities, with
/// seccomp allowing unshare): the identity map, same image as level 1.
#[test]
fn root_without_cap_sys_admin_builds_the_same_image_in_a_user_namespace() {
    let dir = scratch();
    let ctx = context(dir.path());
    let no_admin = |store: &Path| {
        let mut c = Command::new("setpriv");
        c.args([
            "--bounding-set",
            "-sys_admin",
            "--inh-caps",
            "-sys_admin",
            "--",
            bin(),
        ])
        .env("BUILDER_ROOT", store)
        .env_remove("BUILDER_ISOLATION")
        .env_remove("SOURCE_DATE_EPOCH");
        c
    };
    let (ok, info) = output(no_admin(&dir.path().join("s")).arg("info"));
    assert!(ok, "{info}");
    assert!(info.starts_with("isolation: rootless\n"), "{info}");
    assert!(info.contains("no CAP_SYS_ADMIN"), "{info}");
    assert!(info.contains("every id to itself"), "{info}");

    let mut iids = Vec::new();
    for (name, admin) in [("admin", true), ("no-admin", false)] {
        let store = dir.path().join(name);
        seeded_store(&store, None);
        let mut c = if admin {
            as_root(&store)
        } else {
            no_admin(&store)
        };
        let iid = dir.path().join(format!("{name}.iid"));
        run_ok(
            c.args(["build", "--source-date-epoch", "0", "--iidfile"])
                .args([iid.to_str().unwrap(), "-t", "t:1", ctx.to_str().unwrap()]),
        );
        iids.push(fs::read_to_string(&iid).unwrap());
    }
    assert_eq!(iids[0], iids[1], "level 2 as root differs from level 1");
    let out = run_ok(no_admin(&dir.path().join("no-admin")).args([
        "run",
        "--rm",
        "--network",
        "none",
        "t:1",
        "stat",
        "-c",
        "%u:%g %a",
        "/data/a/x",
    ]));
    assert!(out.starts_with("1000:1000 4755\n"), "{out}");
}

/// Neither namespaces nor user namespaces (root without CAP_SYS_ADMIN where
/// no user namespace can be created — here a user namespace whose
/// max_user_namespaces is 0): info says chroot, why, and what would give
/// namespaces and overlays; forcing rootless there fails with the fixes,
/// not an errno. (tests/chroot.rs builds at that level.)
#[test]
fn without_namespaces_info_says_chroot_and_lists_the_fixes() {
    let dir = scratch();
    let ctx = context(dir.path());
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && \
         setpriv --bounding-set -sys_admin --inh-caps -sys_admin {b} info && \
         exec setpriv --bounding-set -sys_admin --inh-caps -sys_admin {b} build -q \
         --isolation rootless {ctx}",
        b = bin(),
        ctx = ctx.display()
    );
    let (ok, out) = output(
        Command::new("unshare")
            .args(["--user", "--map-root-user", "sh", "-c", &script])
            .env("BUILDER_ROOT", dir.path().join("s"))
            .env_remove("BUILDER_ISOLATION"),
    );
    assert!(!ok, "the rootless build should fail:\n{out}");
    assert!(out.starts_with("isolation: chroot\n"), "{out}");
    assert!(
        out.contains("user namespaces: unavailable: unshare(CLONE_NEWUSER)"),
        "{out}"
    );
    let info = &out[..out.find("\nstore:").expect("the store line")];
    let error = &out[out.find("error:").expect("an error line")..];
    assert!(error.contains("--isolation rootless"), "{error}");
    for fix in [
        "hostUsers: false",
        "seccomp=unconfined",
        "/etc/subuid",
        "volume",
    ] {
        assert!(info.contains(fix), "info misses {fix:?}:\n{info}");
    }
    for fix in ["hostUsers: false", "seccomp=unconfined", "/etc/subuid"] {
        assert!(error.contains(fix), "error misses {fix:?}:\n{error}");
    }
}

/// SIGTERM to the user's builder (a cancelled CI job) reaches the
/// re-executed one in the namespace: the build stops and its RUN is gone.
#[test]
fn sigterm_stops_the_build_in_the_namespace() {
    users();
    let dir = scratch();
    let home = dir.path().join("home");
    seeded_store(&home.join("data/builder"), Some(USER));
    // A marker argument so only this test's sleep is looked for.
    let ctx = user_context(
        dir.path(),
        "ctx-sleep",
        "FROM busybox:latest\nRUN sleep 3617\n",
        &[],
    );
    let mut child = as_user(USER, &home)
        .args(["build", "--no-cache", "-q"])
        .arg(&ctx)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sleeping = || {
        Command::new("pgrep")
            .args(["-u", USER, "-f", "sleep 3617"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let start = std::time::Instant::now();
    while !sleeping() {
        assert!(start.elapsed().as_secs() < 30, "the RUN never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // setpriv exec'd builder: this pid is the user's (parent) builder.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed().as_secs() < 20, "builder ignored SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!sleeping(), "the RUN outlived the build");
}
