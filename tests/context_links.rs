//! Context entries recorded from Docker 26.1 (BuildKit 0.13, buildx 0.13.1;
//! issue 18, item 4), on both COPY paths (direct and
//! `BUILDER_COPY_VIA_OVERLAY=1`):
//!
//! - a context symlink to a dir outside the context, used by a glob
//!   (`COPY dirlink/vic* /out/`), resolves inside the context as BuildKit
//!   scopes symlinks to the context root, so the build fails: Docker said
//!   `lstat <ctx>/tmp/…/outside: no such file or directory` for an absolute
//!   link and `lstat <ctx>/outside: …` for `../outside`; a link to a dir
//!   inside the context works;
//! - a Unix socket in the context is copied as an empty regular file with
//!   the socket's permission bits (Docker: `-rwxr-xr-x 0/0 0 out/sock` for
//!   `srwxr-xr-x`), by `COPY .` and by name.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

fn build(dir: &Path, ctx: &Path, overlay: bool) -> Output {
    let out = dir.join("out.tar");
    let _ = fs::remove_file(&out);
    let mut c = Command::new(env!("CARGO_BIN_EXE_builder"));
    c.env("BUILDER_ROOT", dir.join("store"))
        .args(["build", "--no-cache", "--progress", "plain", "--output"])
        .arg(format!("type=tar,dest={}", out.display()))
        .arg(ctx);
    if overlay {
        c.env("BUILDER_COPY_VIA_OVERLAY", "1");
    } else {
        c.env_remove("BUILDER_COPY_VIA_OVERLAY");
    }
    c.output().unwrap()
}

/// (path, mode, size, is regular file) of every entry in the output tar.
fn entries(tar_path: &Path) -> Vec<(String, u32, u64, bool)> {
    let mut a = tar::Archive::new(fs::File::open(tar_path).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                h.mode().unwrap() & 0o7777,
                h.size().unwrap(),
                h.entry_type().is_file(),
            )
        })
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `ctx/dirlink` -> `target` and a Dockerfile copying `dirlink/vic*`.
fn glob_through_link(ctx: &Path, target: &Path) {
    symlink(target, ctx.join("dirlink")).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY dirlink/vic* /out/\n",
    )
    .unwrap();
}

#[test]
fn glob_through_a_symlink_leading_outside_errors() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("victim.txt"), "secret\n").unwrap();
    for (name, target, want) in [
        (
            "abs",
            outside.clone(),
            format!("{}: no such file or directory", outside.display()),
        ),
        (
            "rel",
            "../outside".into(),
            "/outside: no such file or directory".to_string(),
        ),
    ] {
        let ctx = dir.path().join(name);
        fs::create_dir(&ctx).unwrap();
        glob_through_link(&ctx, &target);
        for overlay in [false, true] {
            let o = build(dir.path(), &ctx, overlay);
            let err = stderr(&o);
            assert!(
                !o.status.success(),
                "{name} overlay={overlay}: built\n{err}"
            );
            assert!(
                err.contains("lstat") && err.contains(&want),
                "{name}: {err}"
            );
            assert!(err.contains("Dockerfile:2"), "{err}");
            assert!(!err.contains("secret"));
        }
    }
    // A link to a dir inside the context is followed.
    let ctx = dir.path().join("inside");
    fs::create_dir_all(ctx.join("d")).unwrap();
    fs::write(ctx.join("d/victim-in.txt"), "in\n").unwrap();
    glob_through_link(&ctx, Path::new("d"));
    for overlay in [false, true] {
        let o = build(dir.path(), &ctx, overlay);
        assert!(o.status.success(), "{}", stderr(&o));
        let got = entries(&dir.path().join("out.tar"));
        assert!(
            got.iter().any(|e| e.0 == "out/victim-in.txt" && e.2 == 3),
            "{got:?}"
        );
    }
}

#[test]
fn a_context_socket_is_copied_as_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    fs::create_dir(&ctx).unwrap();
    fs::write(ctx.join("a.txt"), "a\n").unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(ctx.join("sock")).unwrap();
    fs::set_permissions(ctx.join("sock"), fs::Permissions::from_mode(0o755)).unwrap();
    for df in ["COPY . /out/", "COPY sock /out/"] {
        fs::write(ctx.join("Dockerfile"), format!("FROM scratch\n{df}\n")).unwrap();
        for overlay in [false, true] {
            let o = build(dir.path(), &ctx, overlay);
            assert!(o.status.success(), "{df}: {}", stderr(&o));
            let got = entries(&dir.path().join("out.tar"));
            assert!(
                got.contains(&("out/sock".to_string(), 0o755, 0, true)),
                "{df} overlay={overlay}: {got:?}"
            );
        }
    }
}
