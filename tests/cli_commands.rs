//! Issue 13 item 2 through the real binary: archives on stdout, `--load`,
//! `builder load`, `history`, `images` (columns, `--filter`, `--format`),
//! `inspect --format`, image IDs wherever a reference goes, `system df`,
//! `version`. Expected tables were recorded from Docker 26.1.5 (`docker
//! history`, `docker images`, `docker image inspect --format`) on the same
//! image, loaded into it with `builder build --load`. Needs root and
//! busybox-static.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use support::world::World;
use support::{run, run_ok};

const DOCKERFILE: &str = "FROM busybox\nLABEL a=b\nRUN echo hi > /x && mkdir /d && head -c 5000 /dev/zero > /d/f\nENV FOO=bar\nCMD [\"sh\"]\n";

/// A world whose store holds `busybox` and whose `ctx/` holds [`DOCKERFILE`].
fn world() -> World {
    let w = World::new("cli-cmds-");
    w.import_busybox("PATH=/bin", "busybox", "cli-commands-busybox");
    std::fs::create_dir_all(w.ctx()).unwrap();
    std::fs::write(w.ctx().join("Dockerfile"), DOCKERFILE).unwrap();
    w
}

impl World {
    fn ctx(&self) -> PathBuf {
        self.path("ctx")
    }
    /// A `builder` command on a second store `store` in the world's dir.
    fn builder_at(&self, store: &str) -> Command {
        support::builder(&self.path(store), &self.path("docker"))
    }
    fn build_ctx(&self, extra: &[&str]) -> std::process::Output {
        run(self
            .builder()
            .arg("build")
            // `-q` with a progress display is an error, as in buildx.
            .args(if extra.contains(&"-q") {
                &[][..]
            } else {
                &["--progress", "plain"]
            })
            .args(["--source-date-epoch", "0"])
            .args(extra)
            .arg(self.ctx()))
    }
    /// The image ID of the Dockerfile's image (`build -q`).
    fn id(&self) -> String {
        let o = self.build_ctx(&["-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
    fn ok(&self, args: &[&str]) -> String {
        run_ok(self.builder().args(args))
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn archives_on_stdout_and_load_round_trip() {
    let w = world();
    let id = w.id();
    let o = w.build_ctx(&["-t", "app:1", "-o", "type=docker,dest=-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let archive = w.path("app.tar");
    std::fs::write(&archive, &o.stdout).unwrap();
    // Into another store through stdin, as `| docker load`.
    let mut load = w
        .builder_at("store2")
        .arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut load.stdin.take().unwrap(), &o.stdout).unwrap();
    let out = load.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Loaded image: app:1\n"
    );
    let listed = run_ok(w.builder_at("store2").args([
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]));
    assert_eq!(listed, format!("app:1 {}\n", &id[7..19]));
    // `-o -` is the rootfs tar.
    let o = w.build_ctx(&["-o", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut names = Vec::new();
    for e in tar::Archive::new(&o.stdout[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        names.iter().any(|n| n == "d/f") && names.iter().any(|n| n == "bin/busybox"),
        "{names:?}"
    );
    // Refused before building: stdout to a terminal (through script's pty), local to stdout, two.
    let o = run(Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{} build --root {} -o type=tar,dest=- {}",
            env!("CARGO_BIN_EXE_builder"),
            w.path("store").display(),
            w.ctx().display()
        ))
        .arg("/dev/null"));
    let all = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success() && all.contains("refusing to write an archive to the terminal"),
        "{all}"
    );
    assert!(!all.contains("#1 "), "built before refusing: {all}");
    let o = w.build_ctx(&["-o", "type=local,dest=-"]);
    assert!(
        stderr(&o).contains("dest=- (stdout) is for type=tar, oci or docker"),
        "{}",
        stderr(&o)
    );
    let o = w.build_ctx(&["-o", "-", "-o", "type=oci,dest=-"]);
    assert!(
        stderr(&o).contains("only one output can write to stdout"),
        "{}",
        stderr(&o)
    );
    // A legacy docker-archive (manifest.json naming Config and Layers files).
    let layer = support::busybox_layer_tar();
    let diff = support::digest(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#
    );
    let manifest = r#"[{"Config":"cfg.json","RepoTags":["legacy:1"],"Layers":["l1/layer.tar"]}]"#;
    let mut t = tar::Builder::new(Vec::new());
    for (p, b) in [
        ("cfg.json", config.as_bytes()),
        ("l1/layer.tar", &layer[..]),
        ("manifest.json", manifest.as_bytes()),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, p, b).unwrap();
    }
    std::fs::write(w.path("legacy.tar"), t.into_inner().unwrap()).unwrap();
    let out = w.ok(&["load", "-i", w.path("legacy.tar").to_str().unwrap()]);
    assert_eq!(out, "Loaded image: legacy:1\n");
    let cmd = w.ok(&[
        "inspect",
        "--format",
        "{{.Config.Cmd}} {{.RootFS.Layers}}",
        "legacy:1",
    ]);
    assert_eq!(cmd, format!("[sh] [{diff}]\n"));
    let bad = run(w
        .builder()
        .args(["load", "-i"])
        .arg(w.ctx().join("Dockerfile")));
    assert!(!bad.status.success());
}

#[test]
fn load_flag_pipes_into_docker_or_says_why_not() {
    let w = world();
    // No docker CLI on PATH: refused before the first step.
    let empty = w.path("emptybin");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run(w
        .builder()
        .env("PATH", &empty)
        .args(["build", "--progress", "plain", "--load", "-t", "x:1"])
        .arg(w.ctx()));
    let err = stderr(&o);
    assert!(
        !o.status.success() && err.contains("no docker CLI is on PATH"),
        "{err}"
    );
    assert!(!err.contains("#1 "), "built before refusing: {err}");
    let docker_up = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !docker_up {
        eprintln!("no dockerd: --load into Docker not exercised");
        return;
    }
    let want = w.id();
    let tag = format!("builder-cli-load-{}:1", std::process::id());
    let o = w.build_ctx(&["--load", "-t", &tag]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = run_ok(Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", &tag]));
    let _ = run(Command::new("docker").args(["rmi", &tag]));
    assert_eq!(id.trim(), want);
}

/// `docker history builder-cc-rec:1` on Docker 26.1.5.
const DOCKER_HISTORY: &str = "\
IMAGE          CREATED   CREATED BY                                      SIZE      COMMENT
9076f2ef8151   N/A       CMD [\"sh\"]                                      0B        buildkit.dockerfile.v0
<missing>      N/A       ENV FOO=bar                                     0B        buildkit.dockerfile.v0
<missing>      N/A       RUN /bin/sh -c echo hi > /x && mkdir /d && h…   5kB       buildkit.dockerfile.v0
<missing>      N/A       LABEL a=b                                       0B        buildkit.dockerfile.v0
<missing>      N/A       builder import                                  1.99MB    
";
/// `docker history -H=false builder-cc-rec:1` on Docker 26.1.5.
const DOCKER_HISTORY_RAW: &str = "\
IMAGE          CREATED AT             CREATED BY                                      SIZE      COMMENT
9076f2ef8151   1970-01-01T00:00:00Z   CMD [\"sh\"]                                      0         buildkit.dockerfile.v0
<missing>      1970-01-01T00:00:00Z   ENV FOO=bar                                     0         buildkit.dockerfile.v0
<missing>      1970-01-01T00:00:00Z   RUN /bin/sh -c echo hi > /x && mkdir /d && h…   5003      buildkit.dockerfile.v0
<missing>      1970-01-01T00:00:00Z   LABEL a=b                                       0         buildkit.dockerfile.v0
<missing>      1970-01-01T00:00:00Z   builder import                                  1985699   
";

#[test]
fn history_images_inspect_as_docker_shows_them() {
    let w = world();
    let o = w.build_ctx(&["-t", "app:1", "--provenance=false", "--sbom=false"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Both off: the store keeps a plain manifest (tests/attestations.rs has them on).
    assert!(!stderr(&o).contains("attestations yet"), "{}", stderr(&o));
    let id = w.id();
    #[allow(non_snake_case)]
    let ID = id.as_str();
    // Docker's tables, with this store's image ID (the busybox rootfs differs per machine).
    let recorded = |t: &str| t.replace("9076f2ef8151", &id[7..19]);
    assert_eq!(w.ok(&["history", "app:1"]), recorded(DOCKER_HISTORY));
    assert_eq!(
        w.ok(&["history", "-H=false", "app:1"]),
        recorded(DOCKER_HISTORY_RAW)
    );
    // `docker images` columns plus PLATFORM.
    assert_eq!(
        w.ok(&["images", "app"]),
        recorded(
            "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE      PLATFORM\n\
             app          1         9076f2ef8151   56 years ago   1.99MB    linux/amd64\n"
        )
    );
    // `docker image inspect --format` on Docker 26.1.5.
    assert_eq!(
        w.ok(&[
            "inspect",
            "--format",
            "{{.Config.Env}}|{{json .Config.Labels}}|{{.Os}}/{{.Architecture}}|{{.Size}}",
            "app:1"
        ]),
        "[PATH=/bin FOO=bar]|{\"a\":\"b\"}|linux/amd64|1990702\n"
    );
    // IDs wherever a reference goes: short, full, without sha256:.
    let short = &ID[7..19];
    assert_eq!(w.ok(&["inspect", "--format", "{{.Id}}", short]).trim(), ID);
    assert_eq!(
        w.ok(&["inspect", "--format", "{{.Id}}", &ID[7..]]).trim(),
        ID
    );
    w.ok(&["tag", short, "other:2"]);
    assert!(w.ok(&["history", "-q", ID]).starts_with(short));
    w.ok(&["save", "-o", w.path("s.tar").to_str().unwrap(), short]);
    let o = run(w.builder().args(["rmi", short]));
    assert!(
        !o.status.success() && stderr(&o).contains("referenced in multiple repositories"),
        "{}",
        stderr(&o)
    );
    // Filters and formats.
    let f = |args: &[&str]| {
        w.ok(&[
            &["images", "--format", "{{.Repository}}:{{.Tag}}"][..],
            args,
        ]
        .concat())
    };
    assert_eq!(f(&["--filter", "reference=app"]), "app:1\n");
    assert_eq!(f(&["--filter", "reference=o*:2"]), "other:2\n");
    assert_eq!(
        f(&["--filter", "label=a=b", "--filter", "reference=busybox"]),
        ""
    );
    assert_eq!(f(&["--filter", "label=a"]).lines().count(), 2);
    assert_eq!(f(&["--filter", "dangling=true"]), "");
    let json = w.ok(&["images", "--format", "json", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        (
            v["Repository"].as_str(),
            v["Size"].as_str(),
            v["VirtualSize"].as_str()
        ),
        (Some("busybox"), Some("1.99MB"), Some("1.986MB"))
    );
    assert_eq!(v["CreatedAt"], "1970-01-01 00:00:00 +0000 UTC");
    let o = run(w.builder().args(["images", "--filter", "colour=red"]));
    assert!(!o.status.success() && stderr(&o).contains("invalid filter"));
    w.ok(&["rmi", "other:2"]);
    let out = w.ok(&["rmi", short]);
    assert_eq!(out, "Untagged: docker.io/library/app:1\n");
    // system df rows and version.
    let df = w.ok(&["system", "df"]);
    let types: Vec<&str> = df.lines().map(|l| l.split("  ").next().unwrap()).collect();
    assert_eq!(
        types,
        [
            "TYPE",
            "Images",
            "Build Cache",
            "Snapshots",
            "Snapshot Deltas"
        ],
        "{df}"
    );
    assert!(w.ok(&["version", "--format", "{{.Version}}"]).trim() == env!("CARGO_PKG_VERSION"));
}
