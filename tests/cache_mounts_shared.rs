//! `RUN --mount=type=cache` contents in the shared cache
//! (`--cache-to …,cache-mounts=true`, restored by `--cache-from`), through
//! a real registry (Debian's docker-registry) with separate store roots
//! standing in for separate CI runners. Needs root (overlay mounts,
//! namespaces), docker-registry and busybox-static
//! (`scripts/install-deps.sh`); the gcc timing test also the Debian mirror
//! (`scripts/mkbase-debian.sh`, apt-get in a RUN).

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use support::{run, run_ok, Auth, Registry};

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SOURCES: [&str; 5] = ["alpha", "beta", "gamma", "delta", "epsilon"];
/// Bytes of random data each "object" holds: the mount's base layer is
/// about 5 of these, a one-object delta about one.
const OBJ: u64 = 1_000_000;
const MOUNT_INDEX_TYPE: &str = "application/vnd.builder.cache.mount-index.v1+json+zstd";

/// A "compiler" that writes an object per source only when the cached
/// object was made from other source bytes (as ccache decides by content),
/// and says so: `compiled NAME`.
fn busybox_dockerfile(base: &str) -> String {
    format!(
        "FROM {base}\n\
         COPY src/ /src/\n\
         RUN --mount=type=cache,target=/cache,id=objs,sharing=locked \
         sh -c 'for s in /src/*.c; do n=$(basename $s .c); \
         if ! cmp -s $s /cache/$n.src; then head -c {OBJ} /dev/urandom > /cache/$n.o && \
         cp $s /cache/$n.src && echo \"compiled $n\"; fi; done; ls /cache > /objects'\n"
    )
}

struct Fleet {
    reg: Registry,
    dir: tempfile::TempDir,
}

struct Machine {
    root: PathBuf,
    home: PathBuf,
    regcfg: PathBuf,
}

impl Fleet {
    fn new(base_rootfs: &Path, base_name: &str, cmd: &str) -> Fleet {
        let reg = Registry::start(Auth::Plain);
        let dir = tempfile::Builder::new()
            .prefix("cache-mounts-")
            .tempdir()
            .unwrap();
        let f = Fleet { reg, dir };
        fs::write(
            f.path("registries.toml"),
            format!("[registry.\"{}\"]\ninsecure = true\n", f.reg.addr),
        )
        .unwrap();
        let base = f.image(base_name);
        let pusher = f.machine("pusher");
        run_ok(
            pusher
                .builder()
                .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
                .args(["--cmd", cmd, "-t", &base])
                .arg(base_rootfs),
        );
        run_ok(
            pusher
                .builder()
                .args(["push", "--registry-config"])
                .arg(f.path("registries.toml"))
                .arg(&base),
        );
        fs::remove_dir_all(f.path("pusher")).unwrap();
        fs::create_dir_all(f.path("ctx/src")).unwrap();
        f
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn image(&self, name: &str) -> String {
        format!("{}/library/{name}", self.reg.addr)
    }

    fn cache_ref(&self, tag: &str) -> String {
        format!("{}/cache/app:{tag}", self.reg.addr)
    }

    fn machine(&self, name: &str) -> Machine {
        Machine {
            root: self.path(name).join("store"),
            home: self.path(name).join("docker"),
            regcfg: self.path("registries.toml"),
        }
    }

    fn write_source(&self, name: &str, text: &str) {
        fs::write(self.path("ctx/src").join(format!("{name}.c")), text).unwrap();
    }

    /// A registry GET, body only (200 expected).
    fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let (status, _, body) =
            support::http(&self.reg.addr, "GET", path, &[("Accept", accept)], b"").unwrap();
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        body
    }

    /// The cache manifest and config at `tag`.
    fn cache(&self, tag: &str) -> (serde_json::Value, serde_json::Value) {
        let m: serde_json::Value = serde_json::from_slice(&self.get(
            &format!("/v2/cache/app/manifests/{tag}"),
            "application/vnd.oci.image.manifest.v1+json",
        ))
        .unwrap();
        let digest = m["config"]["digest"].as_str().unwrap();
        let c = serde_json::from_slice(&self.get(&format!("/v2/cache/app/blobs/{digest}"), "*/*"))
            .unwrap();
        (m, c)
    }

    /// Every blob the registry stores: digest hex → size.
    fn registry_blobs(&self) -> BTreeMap<String, u64> {
        let dir = self.reg.data_dir().join("docker/registry/v2/blobs/sha256");
        let mut out = BTreeMap::new();
        for e in walkdir(&dir) {
            if e.file_name().and_then(|n| n.to_str()) == Some("data") {
                let hex = e
                    .parent()
                    .and_then(|p| p.file_name())
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                out.insert(hex, fs::metadata(&e).unwrap().len());
            }
        }
        out
    }
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

impl Machine {
    fn builder(&self) -> Command {
        support::builder(&self.root, &self.home)
    }

    fn try_build(&self, fleet: &Fleet, args: &[&str]) -> Output {
        run(self
            .builder()
            .args(["build", "--progress", "plain", "--registry-config"])
            .arg(&self.regcfg)
            .args(args)
            .args(["-t", "app:latest"])
            .arg(fleet.path("ctx")))
    }

    /// Builds; returns the whole log.
    fn build(&self, fleet: &Fleet, args: &[&str]) -> String {
        support::output_ok(&self.try_build(fleet, args), "build")
    }
}

/// The names the build's own output says it compiled, sorted.
fn compiled(log: &str) -> Vec<String> {
    let mut out: Vec<String> = log
        .lines()
        .filter_map(|l| {
            // `#N 0.123 compiled NAME`; the step's own title quotes the
            // command (`echo "compiled $n"`), which is not a name.
            let (_, name) = l.rsplit_once("compiled ")?;
            let name = name.trim();
            (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()))
                .then(|| name.to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Seconds of the step whose title contains `what` (`#N DONE 1.2s`) and
/// of the cache mount restore (0 when there was none).
fn step_secs(log: &str, what: &str) -> f64 {
    let Some(n) = log.lines().find_map(|l| {
        let (id, title) = l.split_once(' ')?;
        title.contains(what).then(|| id.to_string())
    }) else {
        return 0.0;
    };
    log.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{n} DONE "))?
                .strip_suffix('s')?
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

fn all_sources() -> Vec<String> {
    let mut v: Vec<String> = SOURCES.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn big_blobs(blobs: &BTreeMap<String, u64>, at_least: u64) -> usize {
    blobs.values().filter(|&&n| n >= at_least).count()
}

/// A fleet on the busybox base whose context builds every source of
/// [`SOURCES`] (each `return 1`) through the compile cache mount.
fn busybox_fleet() -> Fleet {
    let fleet = Fleet::new(
        &support::busybox_rootfs("cache-mounts-busybox-rootfs"),
        "busybox:1",
        "sh",
    );
    fs::write(
        fleet.path("ctx/Dockerfile"),
        busybox_dockerfile(&fleet.image("busybox:1")),
    )
    .unwrap();
    for s in SOURCES {
        fleet.write_source(s, &format!("int {s}(void) {{ return 1; }}\n"));
    }
    fleet
}

#[test]
fn a_second_runner_restores_the_mount_and_compiles_only_the_changed_source() {
    let fleet = busybox_fleet();
    let a = fleet.machine("a");

    // Without the attribute the export carries no mount: no config entry,
    // no blob the size of the mount's content in the registry.
    let plain = format!("type=registry,ref={},mode=max", fleet.cache_ref("plain"));
    let log = a.build(&fleet, &["--cache-to", &plain]);
    assert_eq!(compiled(&log), all_sources(), "{log}");
    let (manifest, config) = fleet.cache("plain");
    assert!(config.get("mounts").is_none(), "{config}");
    assert!(
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["mediaType"] != MOUNT_INDEX_TYPE),
        "{manifest}"
    );
    let mount_size = SOURCES.len() as u64 * OBJ;
    assert_eq!(big_blobs(&fleet.registry_blobs(), mount_size), 0);

    // With it, a fully cached build still exports the mount its RUN uses.
    let to = format!(
        "type=registry,ref={},mode=max,cache-mounts=true",
        fleet.cache_ref("shared")
    );
    let log = a.build(&fleet, &["--cache-to", &to]);
    assert!(compiled(&log).is_empty(), "{log}");
    assert!(log.contains("1 cache mounts"), "{log}");
    let (_, config) = fleet.cache("shared");
    let mounts = config["mounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 1, "{config}");
    let m = &mounts[0];
    assert_eq!(
        (
            m["id"].as_str(),
            m["target"].as_str(),
            m["sharing"].as_str()
        ),
        (Some("objs"), Some("/cache"), Some("locked"))
    );
    assert_eq!(
        (m["mode"].as_u64(), m["uid"].as_u64()),
        (Some(0o755), Some(0))
    );
    let base_layer = m["layers"][0]["blob"].clone();
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert!(base_layer["size"].as_u64().unwrap() >= mount_size, "{m}");
    let blobs_after_base = fleet.registry_blobs();
    assert_eq!(big_blobs(&blobs_after_base, mount_size), 1);

    // Runner b, another store: one source changed, the mount restored from
    // the registry, so only that source compiles. Its export uploads one
    // small delta layer on top of the base it restored.
    fleet.write_source("gamma", "int gamma(void) { return 2; }\n");
    let b = fleet.machine("b");
    let from = format!("type=registry,ref={}", fleet.cache_ref("shared"));
    let log = b.build(&fleet, &["--cache-from", &from, "--cache-to", &to]);
    assert!(log.contains("restoring cache mount objs"), "{log}");
    assert_eq!(compiled(&log), vec!["gamma".to_string()], "{log}");
    let (_, config) = fleet.cache("shared");
    let layers = config["mounts"][0]["layers"].as_array().unwrap().clone();
    assert_eq!(layers.len(), 2, "{config}");
    assert_eq!(layers[0]["blob"], base_layer, "the base is reused");
    let delta = layers[1]["blob"]["size"].as_u64().unwrap();
    assert!(
        (OBJ..OBJ + OBJ / 2).contains(&delta),
        "the delta holds one object: {delta} bytes"
    );
    let blobs = fleet.registry_blobs();
    let new: Vec<u64> = blobs
        .iter()
        .filter(|(d, _)| !blobs_after_base.contains_key(*d))
        .map(|(_, &n)| n)
        .collect();
    assert_eq!(
        new.iter().filter(|&&n| n >= OBJ).count(),
        1,
        "one object-sized upload: {new:?}"
    );
    assert!(
        new.iter().sum::<u64>() < OBJ + OBJ / 2,
        "b uploaded {new:?}"
    );

    // The same export again: nothing changed in the mount, no new blob
    // the size of an object.
    b.build(&fleet, &["--cache-to", &to]);
    let again = fleet.registry_blobs();
    assert_eq!(
        big_blobs(&again, OBJ),
        big_blobs(&blobs, OBJ),
        "an unchanged mount uploads nothing new"
    );

    // Runner c restores base + delta: nothing to compile but the next change.
    fleet.write_source("delta", "int delta(void) { return 2; }\n");
    let c = fleet.machine("c");
    let log = c.build(&fleet, &["--cache-from", &from]);
    assert_eq!(compiled(&log), vec!["delta".to_string()], "{log}");

    // `cache-mounts=false` on import: the mount starts empty.
    fleet.write_source("beta", "int beta(void) { return 2; }\n");
    let d = fleet.machine("d");
    let cold = format!("{from},cache-mounts=false");
    let log = d.build(&fleet, &["--cache-from", &cold]);
    assert_eq!(compiled(&log), all_sources(), "{log}");

    // A tampered base layer in the registry: the restore is refused with a
    // warning and the build runs cold, as BuildKit treats a bad cache.
    let hex = base_layer["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let data = fleet
        .reg
        .data_dir()
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(&hex)
        .join("data");
    let mut bytes = fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&data, bytes).unwrap();
    fleet.write_source("epsilon", "int epsilon(void) { return 2; }\n");
    let e = fleet.machine("e");
    let log = e.build(&fleet, &["--cache-from", &from]);
    assert!(
        log.contains("warning: cache mount objs not restored") && log.contains("digest"),
        "{log}"
    );
    assert_eq!(compiled(&log), all_sources(), "{log}");

    // Runner b's store: its blobs verify, and `prune` removes the mount
    // with its chain state and GC roots.
    support::verify_store(&b.root);
    let state = b.root.join("cache/mount-state");
    assert_eq!(fs::read_dir(&state).unwrap().count(), 1);
    let out = run_ok(b.builder().arg("prune"));
    assert!(out.contains("(cache mount)"), "{out}");
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0, "{out}");
    let roots: Vec<_> = fs::read_dir(b.root.join("cache/roots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("mount-"))
        .collect();
    assert!(roots.is_empty(), "{roots:?}");
}

#[test]
fn a_local_cache_layout_carries_the_mounts_too() {
    let fleet = busybox_fleet();
    let dir = fleet.path("layout");
    let dest = format!("type=local,dest={},cache-mounts=true", dir.display());
    let log = fleet.machine("a").build(&fleet, &["--cache-to", &dest]);
    assert_eq!(compiled(&log), all_sources(), "{log}");
    fleet.write_source("alpha", "int alpha(void) { return 3; }\n");
    let src = format!("type=local,src={}", dir.display());
    let log = fleet.machine("b").build(&fleet, &["--cache-from", &src]);
    assert!(log.contains("restoring cache mount objs"), "{log}");
    assert_eq!(compiled(&log), vec!["alpha".to_string()], "{log}");
}

/// The Debian rootfs of scripts/mkbase-debian.sh (made once).
fn debian_rootfs() -> PathBuf {
    let rootfs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian-rootfs");
    support::run_ok_all(
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkbase-debian.sh"))
            .arg(&rootfs),
    );
    rootfs
}

/// Files of the gcc project and how many.
const C_FILES: usize = 50;

fn write_c_project(fleet: &Fleet, version: u32) {
    for i in 0..C_FILES {
        // Enough code per file that gcc -O2 takes a noticeable time.
        let mut text = format!("/* unit {i} */\n");
        for f in 0..60 {
            text.push_str(&format!(
                "double unit{i}_f{f}(double x) {{ double s = {version}; \
                 for (int k = 0; k < 100; k++) {{ s += x * k / (k + {f} + 1.0); \
                 if (s > 1e9) s = s / 3.0; }} return s; }}\n"
            ));
        }
        fs::write(fleet.path("ctx/src").join(format!("unit{i}.c")), text).unwrap();
    }
}

#[test]
fn gcc_on_a_warm_runner_compiles_one_file_and_saves_time() {
    let fleet = Fleet::new(&debian_rootfs(), "debian:bookworm", "bash");
    let base = fleet.image("debian:bookworm");
    // A ccache-like step: an object per source content hash, kept in the
    // cache mount; gcc runs only for sources not compiled before.
    fs::write(
        fleet.path("ctx/Dockerfile"),
        format!(
            "FROM {base}\n\
             RUN apt-get update -q && apt-get install -y -q --no-install-recommends gcc libc6-dev >/dev/null\n\
             COPY src/ /src/\n\
             RUN --mount=type=cache,target=/objcache,id=gcc-objs bash -c 'set -e; mkdir -p /out; \
             for s in /src/*.c; do h=$(sha256sum $s | cut -c1-32); n=$(basename $s .c); \
             if [ ! -f /objcache/$h.o ]; then gcc -O2 -c $s -o /objcache/$h.o; echo \"compiled $n\"; fi; \
             cp /objcache/$h.o /out/$n.o; done; gcc -shared -o /out/libunits.so /out/*.o'\n"
        ),
    )
    .unwrap();
    write_c_project(&fleet, 1);
    let to = format!(
        "type=registry,ref={},mode=max,cache-mounts=true",
        fleet.cache_ref("gcc")
    );
    let a = fleet.machine("a");
    let log = a.build(&fleet, &["--cache-to", &to]);
    assert_eq!(compiled(&log).len(), C_FILES, "{log}");

    // One file changes; a warm runner and a cold one (same step cache, no
    // mount) build it.
    let text = fs::read_to_string(fleet.path("ctx/src/unit7.c")).unwrap();
    fs::write(
        fleet.path("ctx/src/unit7.c"),
        format!("{text}/* changed */\n"),
    )
    .unwrap();
    let from = format!("type=registry,ref={}", fleet.cache_ref("gcc"));
    let warm = fleet.machine("warm");
    let t = Instant::now();
    let warm_log = warm.build(&fleet, &["--cache-from", &from]);
    let warm_secs = t.elapsed().as_secs_f64();
    assert_eq!(compiled(&warm_log), vec!["unit7".to_string()], "{warm_log}");

    let cold = fleet.machine("cold");
    let cold_from = format!("{from},cache-mounts=false");
    let t = Instant::now();
    let log = cold.build(&fleet, &["--cache-from", &cold_from]);
    let cold_secs = t.elapsed().as_secs_f64();
    assert_eq!(compiled(&log).len(), C_FILES, "{log}");
    eprintln!(
        "gcc, {C_FILES} files, one changed: warm runner {warm_secs:.1} s (compile step {:.1} s, \
         mount restore {:.1} s), cold runner {cold_secs:.1} s (compile step {:.1} s)",
        step_secs(&warm_log, "--mount=type=cache"),
        step_secs(&warm_log, "restoring cache mount"),
        step_secs(&log, "--mount=type=cache"),
    );
    assert!(
        warm_secs < cold_secs,
        "warm {warm_secs:.1} s, cold {cold_secs:.1} s"
    );
}
