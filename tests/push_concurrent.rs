//! Issue 16 item 4: eight `builder push` processes pushing the same image
//! to the same tag at once all succeed, 10 rounds, against the real local
//! registry (distribution v2.8): blobs uploaded by racing processes (an
//! imported image) and blobs mounted from another repository (a pulled one).

mod support;

use std::process::{Child, Command, Stdio};

use support::*;

fn push_all(env_root: &std::path::Path, home: &std::path::Path, src: &str, dest: &str) {
    let children: Vec<Child> = (0..8)
        .map(|_| {
            builder(env_root, home)
                .args(["push", src, dest])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "push to {dest} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn eight_concurrent_pushes_of_one_tag_succeed() {
    let reg = Registry::start(Auth::Plain);
    let root = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let img = make_base_image(0);
    let pulled = format!("{}/library/busybox:latest", reg.addr);
    img.push("amd64", &pulled, false, None);
    run_ok(builder(root.path(), home.path()).args(["pull", &pulled]));
    run_ok(
        builder(root.path(), home.path())
            .args(["import", "--source-date-epoch", "0", "-t", "imported"])
            .arg(busybox_rootfs("push-concurrent-rootfs")),
    );
    for round in 0..10 {
        // A fresh repository each round, so every blob is raced for.
        let (src, dest) = if round % 2 == 0 {
            (
                "imported".to_string(),
                format!("{}/race/up{round}:t", reg.addr),
            )
        } else {
            (pulled.clone(), format!("{}/race/mount{round}:t", reg.addr))
        };
        push_all(root.path(), home.path(), &src, &dest);
        let digest = run_ok(
            Command::new("skopeo")
                .args(["inspect", "--tls-verify=false", "--raw"])
                .arg(format!("docker://{dest}")),
        );
        assert!(digest.contains("\"layers\""), "{dest}: {digest}");
    }
}
