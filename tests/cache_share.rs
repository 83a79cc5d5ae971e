//! A build cache shared between machines: `--cache-to` / `--cache-from`
//! through a real registry (Debian's docker-registry) and through a local
//! OCI layout, with separate store roots standing in for separate CI
//! machines. Needs root (overlay mounts, namespaces), docker-registry and
//! busybox-static (`scripts/install-deps.sh`).

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use support::{run, run_ok, Auth, Registry};

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Bytes of random data the intermediate stage writes: its layer is larger
/// than anything the result needs, so its absence can be checked by size.
const BIG: usize = 3_000_000;

fn rootfs() -> PathBuf {
    support::busybox_rootfs("cache-share-busybox-rootfs")
}

/// A registry holding the base image, a registries.toml for it, and a
/// build context whose result needs only some of the layers built.
struct Fleet {
    reg: Registry,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Fleet {
        let reg = Registry::start(Auth::Plain);
        let dir = tempfile::Builder::new()
            .prefix("cache-share-")
            .tempdir()
            .unwrap();
        let f = Fleet { reg, dir };
        fs::write(
            f.path("registries.toml"),
            format!("[registry.\"{}\"]\ninsecure = true\n", f.reg.addr),
        )
        .unwrap();
        let base = f.base();
        let pusher = f.machine("pusher");
        run_ok(
            pusher
                .builder()
                .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
                .args(["--cmd", "sh", "-t", &base])
                .arg(rootfs()),
        );
        run_ok(
            pusher
                .builder()
                .args(["push", "--registry-config"])
                .arg(f.path("registries.toml"))
                .arg(&base),
        );
        let ctx = f.path("ctx");
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("file.txt"), "from the context\n").unwrap();
        fs::write(
            ctx.join("Dockerfile"),
            format!(
                "FROM {base} AS build\n\
                 RUN head -c {BIG} /dev/urandom > /big && echo small > /small\n\
                 FROM {base}\n\
                 COPY --from=build /small /small\n\
                 COPY file.txt /file.txt\n\
                 RUN cat /small /file.txt > /done\n\
                 CMD [\"cat\", \"/done\"]\n"
            ),
        )
        .unwrap();
        f
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn base(&self) -> String {
        format!("{}/library/busybox:1", self.reg.addr)
    }

    fn cache_ref(&self) -> String {
        format!("{}/cache/app:buildcache", self.reg.addr)
    }

    /// A machine: its own store root and docker config.
    fn machine(&self, name: &str) -> Machine {
        Machine {
            root: self.path(name).join("store"),
            home: self.path(name).join("docker"),
            regcfg: self.path("registries.toml"),
        }
    }
}

struct Machine {
    root: PathBuf,
    home: PathBuf,
    regcfg: PathBuf,
}

/// One build's outcome.
struct Built {
    log: String,
    image_id: String,
}

impl Built {
    /// The instruction lines of the plain log with whether each was CACHED.
    fn steps(&self) -> Vec<(String, bool)> {
        let mut steps: Vec<(String, String)> = Vec::new();
        let mut cached: Vec<String> = Vec::new();
        for line in self.log.lines() {
            let Some(rest) = line.strip_prefix('#') else {
                continue;
            };
            let Some((id, what)) = rest.split_once(' ') else {
                continue;
            };
            if what.starts_with('[') && (what.contains("] RUN") || what.contains("] COPY")) {
                steps.push((id.to_string(), what.to_string()));
            } else if what == "CACHED" {
                cached.push(id.to_string());
            }
        }
        steps
            .into_iter()
            .map(|(id, what)| {
                let c = cached.contains(&id);
                (what, c)
            })
            .collect()
    }
}

impl Machine {
    fn builder(&self) -> Command {
        support::builder(&self.root, &self.home)
    }

    fn try_build(&self, fleet: &Fleet, args: &[&str]) -> Output {
        let iid = self.root.with_extension("iid");
        run(self
            .builder()
            .args(["build", "--progress", "plain", "--registry-config"])
            .arg(&self.regcfg)
            .arg("--iidfile")
            .arg(&iid)
            .args(args)
            .args(["-t", "app:latest"])
            .arg(fleet.path("ctx")))
    }

    fn build(&self, fleet: &Fleet, args: &[&str]) -> Built {
        let log = support::output_ok(&self.try_build(fleet, args), "build");
        Built {
            log,
            image_id: fs::read_to_string(self.root.with_extension("iid")).unwrap(),
        }
    }

    /// Sizes of every blob in the store.
    fn blob_sizes(&self) -> Vec<u64> {
        fs::read_dir(self.root.join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .collect()
    }

    fn snapshots(&self) -> usize {
        fs::read_dir(self.root.join("snapshots"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

#[test]
fn registry_cache_mode_max_runs_no_step_and_fetches_only_the_results_layers() {
    let fleet = Fleet::new();
    let a = fleet.machine("a");
    let to = format!("type=registry,ref={},mode=max", fleet.cache_ref());
    let first = a.build(&fleet, &["--cache-to", &to]);
    assert!(
        first.steps().iter().all(|(_, cached)| !cached),
        "a cold build runs everything:\n{}",
        first.log
    );
    assert!(first.log.contains("exported cache to"), "{}", first.log);
    assert!(
        a.blob_sizes().iter().any(|&n| n as usize >= BIG),
        "machine a should hold the big intermediate layer"
    );

    // Machine b: a fresh store, the same context, the cache from the registry.
    let b = fleet.machine("b");
    let from = format!("type=registry,ref={}", fleet.cache_ref());
    let second = b.build(&fleet, &["--cache-from", &from]);
    let steps = second.steps();
    assert_eq!(steps.len(), 4, "{}", second.log);
    for (what, cached) in &steps {
        assert!(cached, "{what} ran on machine b:\n{}", second.log);
    }
    assert_eq!(
        second.image_id, first.image_id,
        "same image on both machines"
    );
    assert_eq!(b.snapshots(), 0, "nothing was extracted on machine b");
    let sizes = b.blob_sizes();
    assert!(
        sizes.iter().all(|&n| (n as usize) < BIG),
        "machine b downloaded the intermediate stage's layer: {sizes:?}"
    );
    // The result is complete: it runs.
    let out = run_ok(b.builder().args(["run", "--rm", "app:latest"]));
    assert_eq!(out, "small\nfrom the context\n");

    // A second build on b without --cache-from: the result's records are
    // local now and hit; the intermediate stage's layer never came to b,
    // so that stage runs.
    let third = b.build(&fleet, &[]);
    for (what, cached) in third.steps() {
        assert_eq!(
            cached,
            !what.starts_with("[build"),
            "{what}:\n{}",
            third.log
        );
    }
    assert_eq!(third.image_id, first.image_id);
}

#[test]
fn local_cache_mode_min_covers_the_results_stages() {
    let fleet = Fleet::new();
    let a = fleet.machine("a");
    let dir = fleet.path("cache-dir");
    let dest = format!("type=local,dest={}", dir.display());
    let first = a.build(&fleet, &["--cache-to", &dest]);
    assert!(dir.join("oci-layout").is_file() && dir.join("index.json").is_file());

    // An export with nothing new leaves an identical layout.
    let index = fs::read(dir.join("index.json")).unwrap();
    a.build(&fleet, &["--cache-to", &dest]);
    assert_eq!(fs::read(dir.join("index.json")).unwrap(), index);

    let c = fleet.machine("c");
    let src = format!("type=local,src={}", dir.display());
    let second = c.build(&fleet, &["--cache-from", &src]);
    let steps = second.steps();
    assert_eq!(steps.len(), 4, "{}", second.log);
    for (what, cached) in &steps {
        // mode=min exports the result's stage only: the intermediate
        // stage runs again, the result's steps come from the cache.
        let in_result = !what.starts_with("[build");
        assert_eq!(*cached, in_result, "{what}:\n{}", second.log);
    }
    assert_eq!(second.image_id, first.image_id);
    let out = run_ok(c.builder().args(["run", "--rm", "app:latest"]));
    assert_eq!(out, "small\nfrom the context\n");
}

#[test]
fn a_missing_cache_is_a_warning_and_a_bad_spec_an_error() {
    let fleet = Fleet::new();
    let m = fleet.machine("m");
    let missing = format!("type=local,src={}", fleet.path("nothing-here").display());
    let unknown = format!("type=registry,ref={}/cache/none:x", fleet.reg.addr);
    let b = m.build(
        &fleet,
        &["--cache-from", &missing, "--cache-from", &unknown],
    );
    assert!(b.log.contains("no cache there yet"), "{}", b.log);
    assert!(b.steps().iter().all(|(_, c)| !c));

    let o = m.try_build(&fleet, &["--cache-to", "type=gha"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--cache-to type=gha") && err.contains("not supported"),
        "{err}"
    );

    // An image is not a cache.
    let o = m.try_build(&fleet, &["--cache-from", &fleet.base()]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("not a builder cache"), "{log}");
}
