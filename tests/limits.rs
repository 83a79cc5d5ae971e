//! Issue 16 item 2: `--memory`, `--cpus`, `--pids-limit` (a real cgroup per
//! RUN, checked from the host while the RUN is alive) and `--ulimit`
//! (read from `/proc/self/limits` inside). A static probe
//! (tests/limits/probe.c, built here with `gcc -static`) is the RUN of a
//! `FROM scratch` build: a fork bomb, a memory hog, or a reader of its own
//! limits. Needs root and cgroups: v1 (this machine) or v2, read from
//! the files of the version the host has.
//!
//! Tests run one at a time (a lock): each asserts that no `builder-run-*`
//! cgroup is left anywhere, which another test's live run would break.

mod support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::run_ok;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A build dir: the probe and a Dockerfile whose line 3 is `RUN <run>`.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(run: &str) -> Case {
        let dir = tempfile::Builder::new()
            .prefix("limits-")
            .tempdir()
            .unwrap();
        let ctx = dir.path().join("ctx");
        fs::create_dir(&ctx).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/limits/probe.c");
        run_ok(
            Command::new("gcc")
                .args(["-static", "-O1", "-w", "-o"])
                .arg(ctx.join("probe"))
                .arg(src),
        );
        fs::write(
            ctx.join("Dockerfile"),
            format!("FROM scratch\nCOPY probe /probe\nRUN {run}\n"),
        )
        .unwrap();
        Case { dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn command(&self, isolation: &str, args: &[&str]) -> Command {
        let mut c = support::builder(&self.store(), &self.dir.path().join("docker"));
        c.env_remove("BUILDER_ISOLATION")
            .args(["build", "--progress", "plain", "--isolation", isolation])
            .args(args)
            .arg(self.dir.path().join("ctx"));
        c
    }

    fn build(&self, args: &[&str]) -> Output {
        self.command("namespaces", args).output().unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether this host's cgroups are v2 (the tests read other files then).
fn unified() -> bool {
    builder::sandbox::cgroup::is_unified()
}

/// Every `builder-run-*` cgroup below the hierarchies builder uses.
fn leftover_cgroups() -> Vec<PathBuf> {
    let roots: Vec<PathBuf> = if unified() {
        vec![PathBuf::from("/sys/fs/cgroup")]
    } else {
        ["memory", "pids", "cpu", "devices"]
            .iter()
            .map(|c| Path::new("/sys/fs/cgroup").join(c))
            .collect()
    };
    let mut found = Vec::new();
    for root in roots {
        for e in walkdir::WalkDir::new(&root)
            .max_depth(8)
            .into_iter()
            .flatten()
        {
            if e.file_type().is_dir() && e.file_name().to_string_lossy().starts_with("builder-run-")
            {
                found.push(e.path().to_path_buf());
            }
        }
    }
    found
}

fn assert_no_leftovers() {
    let left = leftover_cgroups();
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
}

/// At every level root can use: at `chroot` there is no PID namespace, so
/// the cgroup is what ends the bomb's processes.
#[test]
fn fork_bomb_fails_within_seconds_with_the_pids_message() {
    let _g = serial();
    for level in ["namespaces", "rootless", "chroot"] {
        let case = Case::new(r#"["/probe", "forkbomb"]"#);
        let start = Instant::now();
        let o = case
            .command(level, &["--pids-limit", "64"])
            .output()
            .unwrap();
        let took = start.elapsed();
        let err = stderr(&o);
        assert!(!o.status.success(), "{level}: {err}");
        assert!(took < Duration::from_secs(60), "{level}: took {took:?}");
        assert!(err.contains("forks="), "{level}: the probe ran: {err}");
        assert!(err.contains("errno=EAGAIN"), "{level}: {err}");
        assert!(
            err.contains("Dockerfile:3:1: RUN failed: the pids limit was reached"),
            "{level}: {err}"
        );
        assert!(err.contains("--pids-limit 64)"), "{level}: {err}");
        assert_no_leftovers();
        let bombs = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                fs::read(e.path().join("cmdline")).is_ok_and(|c| c.starts_with(b"/probe\0forkbomb"))
            })
            .count();
        assert_eq!(bombs, 0, "{level}: fork bomb processes survived");
    }
    // The host is fine: it can still fork.
    run_ok(&mut Command::new("true"));
}

/// At the chroot level (no PID namespace) a process that left the RUN's
/// session still holds its output; the cgroup is how it is found and
/// ended when the RUN's command exits.
#[test]
fn chroot_level_ends_what_left_the_session() {
    let _g = serial();
    let case = Case::new(r#"["/probe", "escape"]"#);
    let start = Instant::now();
    let o = case
        .command("chroot", &["--pids-limit", "100"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("escaped"));
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "waited for the escaped process: {:?}",
        start.elapsed()
    );
    assert_no_leftovers();
}

#[test]
fn memory_hog_is_killed_with_the_oom_message() {
    let _g = serial();
    let case = Case::new(r#"["/probe", "hog", "200"]"#);
    let o = case.build(&["--memory", "32m"]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(!err.contains("hogged="), "the hog finished: {err}");
    assert!(
        err.contains("Dockerfile:3:1: RUN was killed: out of memory (--memory 32 MiB)"),
        "{err}"
    );
    assert!(err.contains("exit code: 137"), "{err}");
    assert_no_leftovers();
}

/// Starts a build whose RUN prints its limits and cgroups and sleeps;
/// returns the child and the `controller -> host path` of its cgroups as
/// soon as they are printed (the RUN is alive then).
fn start_show(
    case: &Case,
    isolation: &str,
    args: &[&str],
) -> (std::process::Child, Vec<(String, String)>, Vec<String>) {
    let mut child = case
        .command(isolation, args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut cgroups = Vec::new();
    let reader = BufReader::new(child.stderr.take().unwrap());
    for line in reader.lines() {
        let line = line.unwrap();
        // `#3 0.012 4:memory:/process_api/…/builder-run-123`
        if let Some(rest) = line.split_whitespace().last() {
            let f: Vec<&str> = rest.splitn(3, ':').collect();
            if f.len() == 3 && f[0].parse::<u32>().is_ok() {
                cgroups.push((f[1].to_string(), f[2].to_string()));
                if f[0] == "0" {
                    break; // The last line of /proc/self/cgroup.
                }
            }
        }
        lines.push(line);
    }
    (child, cgroups, lines)
}

/// The host dir of the run's cgroup with `controller` (v2: the one cgroup).
fn cgroup_dir(cgroups: &[(String, String)], controller: &str) -> PathBuf {
    let v2 = unified();
    let path = cgroups
        .iter()
        .find(|(c, _)| {
            if v2 {
                c.is_empty()
            } else {
                c.split(',').any(|x| x == controller)
            }
        })
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("no {controller} cgroup in {cgroups:?}"));
    assert!(path.contains("/builder-run-"), "{controller}: {path}");
    let mount = if v2 {
        PathBuf::from("/sys/fs/cgroup")
    } else {
        Path::new("/sys/fs/cgroup").join(controller)
    };
    mount.join(path.trim_start_matches('/'))
}

fn cgroup_file(cgroups: &[(String, String)], controller: &str, file: &str) -> String {
    let full = cgroup_dir(cgroups, controller).join(file);
    fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        .trim()
        .to_string()
}

#[test]
fn a_run_within_limits_succeeds_with_the_limits_asked_for() {
    let _g = serial();
    let case = Case::new(r#"["/probe", "show", "2"]"#);
    let (mut child, cgroups, lines) = start_show(
        &case,
        "namespaces",
        &[
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "100",
            "--ulimit",
            "nofile=1024:2048",
            "--ulimit",
            "core=-1",
        ],
    );
    // Read on the host while the RUN sleeps in its cgroups.
    assert_eq!(cgroup_file(&cgroups, "pids", "pids.max"), "100");
    if unified() {
        assert_eq!(cgroup_file(&cgroups, "memory", "memory.max"), "67108864");
        if cgroup_dir(&cgroups, "memory")
            .join("memory.swap.max")
            .exists()
        {
            assert_eq!(cgroup_file(&cgroups, "memory", "memory.swap.max"), "0");
        }
        // Docker's --cpus: quota N * 100000 per period 100000 µs.
        assert_eq!(cgroup_file(&cgroups, "cpu", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(
            cgroup_file(&cgroups, "memory", "memory.limit_in_bytes"),
            "67108864"
        );
        assert_eq!(
            cgroup_file(&cgroups, "memory", "memory.memsw.limit_in_bytes"),
            "67108864"
        );
        assert_eq!(cgroup_file(&cgroups, "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(cgroup_file(&cgroups, "cpu", "cpu.cfs_quota_us"), "50000");
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", lines.join("\n"));
    let text = lines.join("\n");
    let row = |name: &str| {
        text.lines()
            .find(|l| l.contains(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no {name} row in {text}"))
    };
    assert!(row("Max open files").contains("Max open files 1024 2048 files"));
    assert!(row("Max core file size").contains("unlimited unlimited"));
    assert_no_leftovers();
}

/// `--ulimit` needs no cgroup, so it works at the levels without one; no
/// cgroup is made for it.
#[test]
fn ulimit_works_at_the_rootless_and_chroot_levels() {
    let _g = serial();
    for level in ["rootless", "chroot"] {
        let case = Case::new(r#"["/probe", "rlimit"]"#);
        let o = case
            .command(level, &["--ulimit", "nofile=512:1024"])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(o.status.success(), "{level}: {err}");
        assert!(err.contains("nofile=512:1024"), "{level}: {err}");
        assert_no_leftovers();
    }
}

#[test]
fn bad_values_are_errors_before_any_work() {
    let _g = serial();
    let case = Case::new(r#"["/probe", "show"]"#);
    for (args, want) in [
        (
            vec!["--memory", "4m"],
            "minimum memory limit allowed is 6MB",
        ),
        (vec!["--memory", "lots"], "invalid size: 'lots'"),
        (vec!["--cpus", "0"], "range of CPUs is from 0.01"),
        (vec!["--cpus", "10000"], "range of CPUs is from 0.01"),
        (vec!["--cpus", "half"], "not a decimal number"),
        (vec!["--pids-limit", "-5"], "--pids-limit -5"),
        (
            vec!["--ulimit", "nofile=2048:1024"],
            "soft limit must be less than or equal to hard limit: 2048 > 1024",
        ),
        (vec!["--ulimit", "bogus=1"], "invalid ulimit type: bogus"),
        (vec!["--ulimit", "nofile"], "invalid ulimit argument"),
    ] {
        let o = case.build(&args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!case.store().exists(), "{args:?}: the store was opened");
    }
}

fn helper_of(builder: u32) -> Option<u32> {
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(builder) && String::from_utf8_lossy(&cmd).contains("__sandbox-child") {
            return Some(pid);
        }
    }
    None
}

#[test]
fn a_sigkilled_build_leaves_no_cgroup_after_the_next_build() {
    let _g = serial();
    let case = Case::new(r#"["/probe", "show", "60"]"#);
    let (mut child, cgroups, _) = start_show(&case, "namespaces", &["--pids-limit", "50"]);
    let path = cgroup_dir(&cgroups, "pids");
    assert!(path.is_dir());
    // SIGKILL the helper and builder: nothing of theirs can clean up.
    let helper = helper_of(child.id()).expect("the sandbox helper");
    for pid in [helper, child.id()] {
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    child.wait().unwrap();
    // The run's init dies with its helper (parent-death signal); its cgroup stays.
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::read_to_string(path.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty()) {
        assert!(Instant::now() < deadline, "the run outlived its helper");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(path.is_dir(), "a SIGKILLed helper cannot remove its cgroup");
    // The next build (even one without limits) reclaims it.
    let next = Case::new(r#"["/probe", "show"]"#);
    let o = next.build(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!path.exists(), "{} was left", path.display());
    assert_no_leftovers();

    // A build killed with SIGKILL alone: its helper cleans up by itself.
    let (mut child, cgroups, _) = start_show(&case, "namespaces", &["--pids-limit", "50"]);
    let path = cgroup_dir(&cgroups, "pids");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while path.exists() {
        assert!(Instant::now() < deadline, "{} was left", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A rootless builder on this cgroup v1 host cannot make cgroups: the
/// flags are refused before any work, saying why and what to do.
#[test]
fn rootless_user_is_told_why_memory_cannot_be_limited() {
    let _g = serial();
    let case = Case::new(r#"["/probe", "show"]"#);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(case.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let home = case.dir.path().join("home");
    fs::create_dir(&home).unwrap();
    run_ok(Command::new("chown").arg("65534:65534").arg(&home));
    let o = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_builder"))
        .env_remove("BUILDER_ISOLATION")
        .env("HOME", &home)
        .env("BUILDER_ROOT", home.join("store"))
        .args(["build", "--memory", "64m"])
        .arg(case.dir.path().join("ctx"))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("--memory need a cgroup"), "{err}");
    assert!(err.contains("rootless builder (host uid 65534)"), "{err}");
    let why = if unified() {
        "not delegated"
    } else {
        "cgroup v1"
    };
    assert!(err.contains(why), "{err}");
    assert!(err.contains("--ulimit works at every level"), "{err}");
    assert!(!home.join("store").exists());
}

/// `builder run` takes the same flags: the hog ends with 137, as with
/// `docker run --memory`, and a line says why.
#[test]
fn builder_run_limits_the_container() {
    let _g = serial();
    let case = Case::new(r#"["/probe", "rlimit"]"#);
    let o = case.build(&["-t", "limits-probe"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = |args: &[&str]| {
        support::builder(&case.store(), &case.dir.path().join("docker"))
            .env_remove("BUILDER_ISOLATION")
            .arg("run")
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["--memory", "32m", "limits-probe", "/probe", "hog", "200"]);
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("was killed: out of memory (--memory 32 MiB)"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "--ulimit",
        "nofile=300:400",
        "limits-probe",
        "/probe",
        "rlimit",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("nofile=300:400"));
    assert_no_leftovers();
}
