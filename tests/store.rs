//! Store safety under concurrency and crashes, against a real registry:
//! parallel pulls (threads and processes) into one root, a pull killed
//! mid-blob, concurrent snapshot extraction. `cargo test --test store`.

mod support;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use builder::registry::{
    self, DockerConfig, PullOptions, Reference, RegistriesConfig, RegistryClient,
};
use builder::store::{Digest, Store};
use serde_json::Value;
use support::*;

fn tags(root: &Path) -> Vec<String> {
    let idx: Value = serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn parallel_pulls_in_threads_and_processes_give_a_consistent_store() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(300_000);
    let src = format!("{}/library/busybox:par", reg.addr);
    let src2 = format!("{}/library/busybox:par2", reg.addr);
    img.push("amd64", &src, false, None);
    img.push("amd64", &src2, false, None);
    let root = tempfile::tempdir().unwrap();

    // Threads, each with its own Store handle and runtime (as separate
    // builds in one process would).
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (root, r) = (
                root.path().to_path_buf(),
                if i % 2 == 0 {
                    src.clone()
                } else {
                    src2.clone()
                },
            );
            std::thread::spawn(move || {
                let store = Store::open(&root).unwrap();
                let client = RegistryClient::new(
                    RegistriesConfig::default(),
                    DockerConfig::load(Path::new("/nonexistent/config.json")).unwrap(),
                )
                .unwrap();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(registry::pull(
                    &client,
                    &store,
                    &Reference::parse(&r).unwrap(),
                    &PullOptions::default(),
                ))
                .unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().manifest.digest.to_string(), img.amd64);
    }
    assert_eq!(verify_store(root.path()), 4, "manifest, config, 2 layers");
    let mut t = tags(root.path());
    t.sort();
    assert_eq!(t, vec![src.clone(), src2.clone()]);

    // Processes, into a fresh root, with different tags racing on index.json.
    let root2 = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    for i in 0..6 {
        let r = format!(
            "{}/library/busybox:par{}",
            reg.addr,
            if i % 2 == 0 { "" } else { "2" }
        );
        children.push(
            builder(root2.path(), home.path())
                .args(["pull", "-q", &r])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), img.amd64);
    }
    assert_eq!(verify_store(root2.path()), 4);
    assert_eq!(tags(root2.path()).len(), 2);
    assert_eq!(fs::read_dir(root2.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn a_pull_killed_mid_blob_leaves_nothing_trusted_and_can_be_repeated() {
    let reg = Registry::start(Auth::Plain);
    let img = make_base_image(3_000_000);
    let src = format!("{}/library/busybox:kill", reg.addr);
    img.push("amd64", &src, false, None);
    let proxy = Proxy::start(&reg.addr, ProxyMode::Throttle(400_000));
    let root = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let slow = format!("{}/library/busybox:kill", proxy.addr);
    let mut child = builder(root.path(), home.path())
        .args(["pull", &slow])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a blob is partly written (in the pull's temp area), then kill -9.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if temp_files(root.path()).iter().any(|(_, n)| *n > 200_000) {
            break;
        }
        assert!(Instant::now() < deadline, "no partial blob appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "pull finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Nothing partial is visible as a blob, and no tag was written.
    let blobs = verify_store(root.path());
    assert!(blobs < 4, "the pull should not have completed");
    assert!(tags(root.path()).is_empty());
    let left = temp_files(root.path());
    assert!(
        left.iter().any(|(p, n)| *n > 200_000
            && p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("blob-")),
        "expected a partial blob: {left:?}"
    );

    // Repeating the pull succeeds (directly this time, for speed) and
    // removes what the killed one left.
    let home2 = tempfile::tempdir().unwrap();
    let out = run_ok(builder(root.path(), home2.path()).args(["pull", "-q", &src]));
    assert_eq!(out.trim(), img.amd64);
    assert_eq!(verify_store(root.path()), 4);
    assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    // A leftover planted as the killed pull left it goes with prune, which
    // keeps the image.
    fs::create_dir(root.path().join("tmp/area-1-dead")).unwrap();
    fs::write(root.path().join("tmp/area-1-dead/blob-x"), b"partial").unwrap();
    fs::write(root.path().join("tmp/area-1-dead.lock"), b"").unwrap();
    let store = Store::open(root.path()).unwrap();
    let r = store.prune(&Default::default()).unwrap();
    assert!(r.temp_removed == 1 && r.blobs_removed == 0, "{r:?}");
    assert_eq!(verify_store(root.path()), 4);
    drop(store);
    assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
}

/// Every file under `ROOT/tmp` (temp areas included) with its size.
fn temp_files(root: &Path) -> Vec<(std::path::PathBuf, u64)> {
    walkdir::WalkDir::new(root.join("tmp"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().to_path_buf(),
                e.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn snapshots_are_extracted_once_under_concurrency() {
    let tar = busybox_layer_tar();
    let gz = gzip(&tar);
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let blob = store.put_blob_bytes(&gz, None).unwrap();
    let diff_id = Digest::of(&tar);
    let calls = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (root, blob, diff_id, calls) = (
                root.path().to_path_buf(),
                blob.clone(),
                diff_id.clone(),
                calls.clone(),
            );
            std::thread::spawn(move || {
                let store = Store::open(&root).unwrap();
                let mut ex = |r: &mut dyn Read, dir: &Path| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let mut ar = tar::Archive::new(r);
                    ar.set_preserve_permissions(true);
                    ar.unpack(dir)?;
                    Ok(())
                };
                store.ensure_snapshot(&diff_id, &blob, &mut ex).unwrap()
            })
        })
        .collect();
    for h in handles {
        let p = h.join().unwrap();
        assert!(p.join("bin/busybox").is_file());
        assert_eq!(
            fs::read_link(p.join("bin/sh")).unwrap(),
            Path::new("../bin/busybox")
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let meta = fs::metadata(store.snapshot_path(&diff_id).join("tmp")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
        0o1777
    );
}
