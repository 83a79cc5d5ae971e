//! Issue 18, item 4: a store on a read-only file system can still be read
//! (`images`, `inspect`, `run`, `save` take no write lock and put their temp
//! files outside it), and `SOURCE_DATE_EPOCH=` / `BUILDER_ROOT=` (set but
//! empty) act as unset, as in Docker. Needs root (bind mounts, namespaces)
//! and busybox-static.

mod support;

use std::path::Path;
use std::process::Command;

fn builder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_builder"))
}

/// A read-only bind mount of `src` at `dst`, unmounted on drop.
struct RoMount<'a>(&'a Path);

impl<'a> RoMount<'a> {
    fn new(src: &Path, dst: &'a Path) -> RoMount<'a> {
        std::fs::create_dir_all(dst).unwrap();
        support::run_ok(Command::new("mount").arg("--bind").arg(src).arg(dst));
        let m = RoMount(dst);
        support::run_ok(
            Command::new("mount")
                .args(["-o", "remount,bind,ro"])
                .arg(dst),
        );
        m
    }
}

impl Drop for RoMount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn a_read_only_store_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let rootfs = support::busybox_rootfs("readonly-busybox");
    support::run_ok_all(
        builder()
            .args(["import", "--root"])
            .arg(&store)
            .args(["-t", "bb:1"])
            .arg(&rootfs),
    );
    let ro = dir.path().join("ro");
    let _m = RoMount::new(&store, &ro);
    assert!(
        std::fs::write(ro.join("probe"), b"x").is_err(),
        "the mount is writable"
    );
    let images = support::run_ok_all(builder().args(["images", "--root"]).arg(&ro));
    assert!(images.contains("bb"), "{images}");
    let inspect = support::run_ok_all(builder().args(["inspect", "--root"]).arg(&ro).arg("bb:1"));
    assert!(inspect.contains("sha256:"), "{inspect}");
    let out = support::run_ok_all(builder().args(["run", "--rm", "--root"]).arg(&ro).args([
        "bb:1",
        "echo",
        "hello from ro",
    ]));
    assert!(out.contains("hello from ro"), "{out}");
    let tar = dir.path().join("bb.tar");
    support::run_ok_all(
        builder()
            .args(["save", "--root"])
            .arg(&ro)
            .arg("-o")
            .arg(&tar)
            .arg("bb:1"),
    );
    assert!(std::fs::metadata(&tar).unwrap().len() > 100_000);
}

#[test]
fn empty_env_values_act_as_unset() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let rootfs = support::busybox_rootfs("emptyenv-busybox");
    // An empty SOURCE_DATE_EPOCH is no clamp, not an error.
    support::run_ok_all(
        builder()
            .env("SOURCE_DATE_EPOCH", "")
            .args(["import", "--root"])
            .arg(&store)
            .args(["-t", "bb:1"])
            .arg(&rootfs),
    );
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM bb:1\nRUN echo x > /x\n").unwrap();
    support::run_ok_all(
        builder()
            .env("SOURCE_DATE_EPOCH", "")
            .args(["build", "--progress", "plain", "--root"])
            .arg(&store)
            .arg(&ctx),
    );
    // An empty BUILDER_ROOT is the default root (XDG_DATA_HOME for a
    // non-root user; root's is /var/lib/builder), not an error.
    let o = support::run(builder().env("BUILDER_ROOT", "").args([
        "images",
        "--format",
        "{{.Repository}}",
    ]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("a value is required"), "{err}");
    let o = support::run(builder().env("BUILDER_ROOT", "").arg("images"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
