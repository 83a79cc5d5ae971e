//! A scratch world for tests that drive the real `builder` binary: a temp
//! dir holding the store (`store/`), the docker config dir (`docker/`) and
//! build contexts, optionally with the busybox rootfs imported as an image.
//! Test files add their own `impl World` blocks for helpers only they use.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `PATH` Docker sets in images that do not set one.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A temp dir with a store and docker config of its own; removed on drop.
pub struct World {
    /// The temp dir everything lives in.
    pub dir: tempfile::TempDir,
}

impl World {
    /// An empty world in a temp dir named `prefix…`.
    pub fn new(prefix: &str) -> World {
        World {
            dir: tempfile::Builder::new().prefix(prefix).tempdir().unwrap(),
        }
    }

    /// A world whose store holds `busybox` (env [`PATH_ENV`], cmd `sh`),
    /// imported from the busybox rootfs made once as `{prefix}busybox-rootfs`.
    pub fn with_busybox(prefix: &str) -> World {
        let w = World::new(prefix);
        w.import_busybox(PATH_ENV, "busybox", &format!("{prefix}busybox-rootfs"));
        w
    }

    /// Imports the busybox rootfs (made once as `rootfs_name`, see
    /// [`super::busybox_rootfs`]) into `store/` as `tag`, with env `path_env`,
    /// cmd `sh` and `--source-date-epoch 0`.
    pub fn import_busybox(&self, path_env: &str, tag: &str, rootfs_name: &str) {
        super::run_ok(
            self.builder()
                .args(["import", "--source-date-epoch", "0", "--env", path_env])
                .args(["--cmd", "sh", "-t", tag])
                .arg(super::busybox_rootfs(rootfs_name)),
        );
    }

    /// `rel` inside the world's dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A `builder` command on the world's `store/` and `docker/` config.
    pub fn builder(&self) -> Command {
        super::builder(&self.path("store"), &self.path("docker"))
    }

    /// A context dir `name` holding `Dockerfile` and `files` (relative
    /// paths; parent dirs are made).
    pub fn context(
        &self,
        name: &str,
        dockerfile: impl AsRef<[u8]>,
        files: &[(&str, &str)],
    ) -> PathBuf {
        let ctx = self.path(name);
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        for (p, content) in files {
            let f = ctx.join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, content).unwrap();
        }
        ctx
    }

    /// `builder build --progress plain ARGS CTX` (no `--progress plain`
    /// when `args` name a progress mode), without checking the outcome.
    pub fn build(&self, args: &[&str], ctx: &Path) -> Output {
        let mut c = self.builder();
        c.arg("build");
        // `-q` with a progress display is an error, as in buildx.
        if !args
            .iter()
            .any(|a| ["--progress", "-q", "--quiet"].contains(a))
        {
            c.args(["--progress", "plain"]);
        }
        super::run(c.args(args).arg(ctx))
    }
}
