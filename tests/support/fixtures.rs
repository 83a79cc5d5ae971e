//! Small fixtures several tests share: a temp dir holding a build context,
//! a store with the busybox rootfs imported, shell commands that must work.

use std::fs;
use std::process::Command;

/// A temp dir (named `prefix…`) holding `ctx/` with `dockerfile` as its
/// Dockerfile and `file` (`content\n`) for COPY steps.
pub fn context_dir(prefix: &str, dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    fs::write(ctx.join("file"), "content\n").unwrap();
    dir
}

/// Imports the busybox rootfs (made once as `rootfs_name`, see
/// [`super::busybox_rootfs`]) as `tag` with `builder`, a `builder` command
/// set up for the store.
pub fn import_busybox(builder: &mut Command, rootfs_name: &str, tag: &str) {
    let rootfs = super::busybox_rootfs(rootfs_name);
    super::run_ok_all(builder.args(["import", "-t", tag]).arg(&rootfs));
}

/// Runs `cmd` with `sh -c`; panics with its stderr when it fails.
pub fn sh(cmd: &str) {
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}
