//! A store on overlayfs, as a container's own root is when no volume is
//! given for the store (issue 11): builds work at every level, through
//! copies and diffs instead of overlay mounts, with whiteouts kept as
//! `.wh.` files, and give the same layers as level 1 on an ordinary store.
//! The overlay here is mounted by the test; `tests/containers.rs` does the
//! same inside podman, where the store sits on the container's root.

mod support;

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{run, run_ok, run_ok_all};

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Deletions (whiteouts), dirs replaced (opaque), owners, setuid,
/// hardlinks, symlinks, a fifo; COPY and WORKDIR; a RUN --mount of each
/// kind that needs no socket.
const DOCKERFILE: &str = r#"FROM busybox
RUN mkdir -p /a/b /r/x /gone/deep && echo hi > /a/b/f && echo 1 > /r/x/old \
 && touch /gone/deep/g && echo k > /keep && ln /keep /keep2 && echo d > /d2f \
 && ln -s /a/b/f /link && mkfifo /fifo && rm /bin/cat
RUN rm -rf /gone /r && mkdir -p /r/y && echo new > /r/y/n && chown 1000:1000 /a/b/f \
 && chmod 4755 /a/b/f && rm /d2f && mkdir /d2f && ln -sf /keep /link && rm /keep2
COPY file /a/
WORKDIR /w/x
RUN --mount=type=secret,id=tok --mount=type=tmpfs,target=/scratch --mount=type=cache,target=/c \
    wc -c < /run/secrets/tok > /w/x/n && echo 1 >> /c/n && touch /scratch/t
"#;

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(prefix: &str) -> World {
        let w = World {
            dir: support::fixtures::context_dir(prefix, DOCKERFILE),
        };
        fs::write(w.path("tok"), "s3cr3t").unwrap();
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Mounts an overlay at `ovl/m` (upper dir on the host's filesystem):
    /// what a container's root looks like from inside it.
    fn mount_overlay(&self) -> Mounted {
        for d in ["ovl/l", "ovl/u", "ovl/w", "ovl/m"] {
            fs::create_dir_all(self.path(d)).unwrap();
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            self.path("ovl/l").display(),
            self.path("ovl/u").display(),
            self.path("ovl/w").display()
        );
        run_ok(
            Command::new("mount")
                .args(["-t", "overlay", "overlay", "-o", &opts])
                .arg(self.path("ovl/m")),
        );
        Mounted(self.path("ovl/m"))
    }

    fn builder(&self, store: &Path) -> Command {
        let mut c = support::builder(store, &self.path("docker"));
        c.env_remove("BUILDER_ISOLATION");
        c
    }

    /// Imports busybox and builds the context at `isolation`; the log.
    fn build(&self, store: &Path, isolation: &str) -> String {
        run_ok(
            self.builder(store)
                .args(["import", "--source-date-epoch", "0"])
                .args(["--env", PATH_ENV, "--cmd", "sh", "-t", "busybox"])
                .arg(support::busybox_rootfs("ovlstore-busybox-rootfs")),
        );
        run_ok_all(
            self.builder(store)
                .args(["build", "--progress", "plain", "--source-date-epoch", "0"])
                .args(["--isolation", isolation, "-t", "t", "--secret"])
                .arg(format!("id=tok,src={}", self.path("tok").display()))
                .arg(self.path("ctx")),
        )
    }

    fn diff_ids(&self, store: &Path) -> Vec<String> {
        let out = run_ok(self.builder(store).args(["inspect", "t"]));
        support::diff_ids(&out)
    }
}

struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Every snapshot entry of `store` that is an overlay whiteout device
/// (there must be none: overlayfs cannot hold them) and the `.wh.` files.
fn whiteouts(store: &Path) -> (usize, usize) {
    let (mut devs, mut files) = (0, 0);
    let mut stack = vec![store.join("snapshots")];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_char_device() {
                devs += 1;
            } else if e.file_name().to_string_lossy().starts_with(".wh.") {
                files += 1;
            }
        }
    }
    (devs, files)
}

#[test]
fn a_store_on_overlayfs_builds_at_every_level_with_level_1s_layers() {
    let w = World::new("ovlstore-");
    let reference = w.path("ref");
    w.build(&reference, "auto");
    let want = w.diff_ids(&reference);
    assert_eq!(want.len(), 6, "{want:?}");
    let _m = w.mount_overlay();
    for level in ["auto", "rootless", "chroot"] {
        let store = w.path(&format!("ovl/m/store-{level}"));
        let info = run_ok(
            w.builder(&store)
                .args(["info", "--isolation", level])
                .env("BUILDER_ROOT", &store),
        );
        assert!(
            info.contains("store filesystem: 0x794c7630 (overlayfs: steps work on copies"),
            "{info}"
        );
        let log = w.build(&store, level);
        // Only the network's warning (RUN shares the host's network at the chroot
        // level, or where /dev/net/tun is root-only) is expected.
        assert!(
            log.lines()
                .filter(|l| l.contains("warning"))
                .all(|l| l.contains("share the host's network")),
            "{log}"
        );
        assert_eq!(w.diff_ids(&store), want, "level {level}:\n{log}");
        let (devs, files) = whiteouts(&store);
        assert_eq!(devs, 0, "no whiteout devices on overlayfs");
        assert!(files >= 4, "whiteouts and opaque markers as files: {files}");
        let out = run_ok(w.builder(&store).args([
            "run",
            "--isolation",
            level,
            "--rm",
            "t",
            "sh",
            "-c",
            "busybox cat /w/x/n /a/file; stat -c '%a %u' /a/b/f; readlink /link; \
             ls -d /gone /r/x /keep2 /bin/cat /scratch /run/secrets/tok 2>&1; ls /r /d2f; true",
        ]));
        for want in [
            "6\ncontent\n4755 1000\n/keep\n",
            "/gone: No such file",
            "/r/x: No such file",
            "/keep2: No such file",
            "/bin/cat: No such file",
            "/scratch: No such file",
            "/run/secrets/tok: No such file",
            "y\n",
        ] {
            assert!(
                out.contains(want),
                "level {level}: missing {want:?} in:\n{out}"
            );
        }
        support::verify_store(&store);
    }
    let _ = run;
}
