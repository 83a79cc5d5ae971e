//! COPY from the context written straight into a layer tar
//! (`engine::direct_copy`) must give the image the overlay path gives:
//! every COPY shape here is built both ways and the layers (entry by entry:
//! path, type, mode, owner, size, content, link) and the final root file
//! systems compared. Needs root (overlay mounts) and busybox-static.

mod support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::run_ok;

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn world() -> tempfile::TempDir {
    support::ensure_packages();
    let dir = tempfile::Builder::new()
        .prefix("direct-copy-")
        .tempdir()
        .unwrap();
    run_ok(
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkrootfs-busybox.sh"))
            .arg(dir.path().join("rootfs")),
    );
    dir
}

fn builder(dir: &Path, overlay_only: bool) -> Command {
    let mut c = support::builder(&dir.join("store"), &dir.join("docker"));
    if overlay_only {
        c.env("BUILDER_COPY_VIA_OVERLAY", "1");
    } else {
        c.env_remove("BUILDER_COPY_VIA_OVERLAY");
    }
    c
}

/// A context with the shapes COPY meets: nested and empty dirs, hardlinks
/// inside a dir, symlinks, special modes, files named like ones in the base.
fn context(dir: &Path) -> PathBuf {
    let ctx = dir.join("ctx");
    fs::create_dir_all(ctx.join("tree/sub/deeper")).unwrap();
    fs::create_dir_all(ctx.join("tree/empty")).unwrap();
    fs::write(ctx.join("tree/a.txt"), "a\n").unwrap();
    fs::write(ctx.join("tree/sub/b.txt"), "bb\n").unwrap();
    fs::write(ctx.join("tree/sub/deeper/c.bin"), vec![7u8; 70_000]).unwrap();
    fs::hard_link(ctx.join("tree/a.txt"), ctx.join("tree/sub/a-link.txt")).unwrap();
    symlink("sub/b.txt", ctx.join("tree/rel-link")).unwrap();
    symlink("/etc/passwd", ctx.join("tree/abs-link")).unwrap();
    fs::write(ctx.join("tree/suid"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(ctx.join("tree/suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(ctx.join("tree/sub"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::write(ctx.join("one.txt"), "one\n").unwrap();
    fs::write(ctx.join("two.txt"), "two\n").unwrap();
    fs::write(ctx.join("hosts"), "127.0.0.1 copied\n").unwrap();
    symlink("one.txt", ctx.join("top-link")).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM base:1 AS src\n\
         RUN mkdir -p /out/d/e /out/empty && echo x > /out/d/f && ln /out/d/f /out/d/g \\\n\
             && ln -s f /out/d/l && echo y > /out/d/e/y && chown 5:6 /out/d/f /out/d/e \\\n\
             && chmod 4711 /out/d/f && chmod 700 /out/d/e\n\
         FROM base:1\n\
         COPY --from=src /out /from-stage\n\
         COPY --from=src /out/d/f /single-from\n\
         COPY --from=src /out/d/ /etc/\n\
         COPY --chown=3:4 --from=src /out /from-chowned/\n\
         COPY tree /fresh/\n\
         COPY tree /deep/new/path\n\
         WORKDIR /app\n\
         COPY . .\n\
         COPY one.txt two.txt ./multi/\n\
         COPY *.txt /globbed/\n\
         COPY one.txt /single-file\n\
         COPY top-link /etc/\n\
         COPY hosts /etc/hosts\n\
         COPY --chmod=0640 --chown=7:8 tree /chowned\n\
         COPY tree/ /usr/\n\
         COPY tree/sub /bin/\n\
         COPY tree /\n",
    )
    .unwrap();
    ctx
}

/// Builds the context with one of the two paths; returns the OCI archive
/// (uncompressed layers) and the root file system directory.
fn build(dir: &Path, ctx: &Path, overlay_only: bool) -> (PathBuf, PathBuf) {
    let name = if overlay_only { "overlay" } else { "direct" };
    let archive = dir.join(format!("{name}.tar"));
    let rootfs = dir.join(format!("{name}-rootfs"));
    let _ = fs::remove_dir_all(&rootfs);
    run_ok(
        builder(dir, overlay_only)
            .args(["build", "--no-cache", "--source-date-epoch", "1000"])
            .arg("--output")
            .arg(format!(
                "type=oci,dest={},compression=uncompressed",
                archive.display()
            ))
            .arg("--output")
            .arg(format!("type=local,dest={}", rootfs.display()))
            .arg(ctx),
    );
    (archive, rootfs)
}

/// Every layer of an OCI archive as a list of entry descriptions.
fn layers(archive: &Path) -> Vec<Vec<String>> {
    let blobs = support::tar_files(archive);
    let json = |p: &str| -> Value { serde_json::from_slice(&blobs[p]).unwrap() };
    let blob = |d: &Value| {
        format!(
            "blobs/sha256/{}",
            d.as_str().unwrap().trim_start_matches("sha256:")
        )
    };
    let index = json("index.json");
    let manifest = json(&blob(&index["manifests"][0]["digest"]));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let mut out = Vec::new();
            let data = &blobs[&blob(&l["digest"])];
            let mut t = tar::Archive::new(&data[..]);
            for e in t.entries().unwrap() {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut content = Vec::new();
                e.read_to_end(&mut content).unwrap();
                out.push(format!(
                    "{} {:?} {:o} {}:{} {} {} {:?}",
                    String::from_utf8_lossy(&e.path_bytes()),
                    h.entry_type(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    content.len(),
                    support::digest(&content),
                    h.link_name_bytes()
                        .map(|l| String::from_utf8_lossy(&l).to_string()),
                ));
            }
            out
        })
        .collect()
}

#[test]
fn direct_copies_make_the_layers_the_overlay_makes() {
    let w = world();
    run_ok(
        builder(w.path(), false)
            .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
            .args(["--cmd", "sh", "-t", "base:1"])
            .arg(w.path().join("rootfs")),
    );
    let ctx = context(w.path());
    let (direct, direct_root) = build(w.path(), &ctx, false);
    let (overlay, overlay_root) = build(w.path(), &ctx, true);
    let (d, o) = (layers(&direct), layers(&overlay));
    assert_eq!(d.len(), o.len(), "layer count");
    for (i, (dl, ol)) in d.iter().zip(&o).enumerate() {
        assert_eq!(dl, ol, "layer {i} differs (direct vs overlay)");
    }
    // And the root file systems (everything but mtimes) agree.
    let list = |root: &Path| -> Vec<String> {
        let mut v: Vec<String> = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                let m = fs::symlink_metadata(e.path()).unwrap();
                use std::os::unix::fs::MetadataExt;
                let content = if m.is_file() {
                    support::digest(&fs::read(e.path()).unwrap())
                } else {
                    String::new()
                };
                format!(
                    "{} {:o} {}:{} {}",
                    e.path().strip_prefix(root).unwrap().display(),
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    content
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(list(&direct_root), list(&overlay_root));
    // The shapes were really exercised: the fresh copy holds the tree.
    assert!(direct_root.join("fresh/sub/deeper/c.bin").is_file());
    assert!(direct_root.join("from-stage/d/e/y").is_file());
    assert_eq!(
        fs::read_link(direct_root.join("deep/new/path/rel-link")).unwrap(),
        Path::new("sub/b.txt")
    );
}

/// The entry names of each layer after the base (`name -> target` for symlinks).
fn names(layers: &[Vec<String>]) -> Vec<Vec<String>> {
    layers[1..]
        .iter()
        .map(|l| {
            l.iter()
                .map(|e| {
                    let name = e.split(' ').next().unwrap().to_string();
                    match e.split_once(" Symlink ") {
                        Some((_, rest)) => {
                            let target = rest.rsplit("Some(\"").next().unwrap();
                            format!("{name} -> {}", target.trim_end_matches("\")"))
                        }
                        None => name,
                    }
                })
                .collect()
        })
        .collect()
}

/// COPY and ADD onto paths with a symlink component, built with both COPY
/// paths. Every layer's entries are what Docker 26.1 (BuildKit 0.13) wrote
/// for the same step on the same base (recorded one shape per build; the
/// shapes here are ordered so that none changes another's outcome): the
/// destination is resolved in the image (`/bin/x` lands in `usr/bin/x`),
/// `/bin` stays a symlink, a dangling link names the path it creates, a
/// file replaces a symlink; an archive's directory entry replaces a symlink
/// (opaque directory), a file entry replaces a whole directory.
#[test]
fn symlinked_destinations_resolve_as_in_docker() {
    let w = world();
    let base = support::images::merged_usr_rootfs(w.path());
    run_ok(
        builder(w.path(), false)
            .args(["import", "--source-date-epoch", "0", "--env", PATH_ENV])
            .args(["--cmd", "sh", "-t", "merged:1"])
            .arg(&base),
    );
    let ctx = w.path().join("ctx");
    fs::create_dir_all(ctx.join("dir/sub")).unwrap();
    fs::write(ctx.join("dir/sub/x"), "x\n").unwrap();
    fs::write(ctx.join("dir/y"), "y\n").unwrap();
    fs::write(ctx.join("f.sh"), "f\n").unwrap();
    fs::write(ctx.join("g.sh"), "g\n").unwrap();
    fs::create_dir_all(ctx.join("rootfs-file")).unwrap();
    fs::write(ctx.join("rootfs-file/bin"), "t\n").unwrap();
    fs::create_dir_all(ctx.join("rootfs-link")).unwrap();
    symlink("/usr/lib", ctx.join("rootfs-link/bin")).unwrap();
    support::images::tar_archive(&ctx.join("q2.tar"), &[("bin/q", false)]);
    support::images::tar_archive(&ctx.join("q3.tar"), &[("abslib/x", false)]);
    support::images::tar_archive(&ctx.join("q8.tar"), &[("sub/x", false)]);
    support::images::tar_archive(
        &ctx.join("q9.tar"),
        &[("absfile", true), ("absfile/x", false)],
    );
    support::images::tar_archive(&ctx.join("q1.tar"), &[("bin", true), ("bin/q", false)]);
    support::images::tar_archive(&ctx.join("q4.tar"), &[("usr", false)]);
    let first = "FROM merged:1 AS src\n\
         RUN mkdir -p /src/sub && echo r > /src/sub/r && echo o > /src/o\n\
         FROM merged:1\n\
         COPY f.sh /bin/f.sh\n\
         COPY g.sh /bin\n\
         COPY f.sh g.sh /bin/\n\
         COPY dir/ /bin/\n\
         COPY dir /bin\n\
         COPY f.sh /absfile\n\
         COPY f.sh /absdang/x\n\
         COPY dir /absdang\n\
         COPY f.sh /reldang/x\n\
         COPY f.sh /usr/rellib/sub/f\n\
         COPY f.sh /bin/newdir/f\n\
         COPY --from=src /src /bin/\n\
         RUN ln -s /usr/lib /mylink\n\
         COPY f.sh /mylink/\n\
         WORKDIR /bin\n\
         COPY f.sh .\n\
         COPY rootfs-file /\n\
         COPY rootfs-link /\n";
    let second = "FROM merged:1\n\
         COPY f.sh /absdang\n\
         ADD q2.tar /\n\
         ADD q3.tar /\n\
         ADD q8.tar /bin/\n\
         ADD q9.tar /\n\
         ADD q1.tar /\n\
         ADD q4.tar /\n";
    let usr_bin = |more: &[&str]| -> Vec<String> {
        let mut v = vec!["usr/".to_string(), "usr/bin/".to_string()];
        v.extend(more.iter().map(|m| format!("usr/bin/{m}")));
        v
    };
    let want_first: Vec<Vec<String>> = vec![
        usr_bin(&["f.sh"]),
        usr_bin(&["g.sh"]),
        usr_bin(&["f.sh", "g.sh"]),
        usr_bin(&["sub/", "sub/x", "y"]),
        usr_bin(&["sub/", "sub/x", "y"]),
        vec!["etc/".into(), "etc/afile".into()],
        vec!["nowhere/".into(), "nowhere/x".into()],
        ["nowhere/", "nowhere/sub/", "nowhere/sub/x", "nowhere/y"]
            .map(String::from)
            .to_vec(),
        vec!["nowhere-rel/".into(), "nowhere-rel/x".into()],
        ["usr/", "usr/lib/", "usr/lib/sub/", "usr/lib/sub/f"]
            .map(String::from)
            .to_vec(),
        usr_bin(&["newdir/", "newdir/f"]),
        usr_bin(&["o", "sub/", "sub/r"]),
        // The RUN's layer: Docker's RUN layers hold `etc/` too.
        vec!["etc/".into(), "mylink -> /usr/lib".into()],
        ["usr/", "usr/lib/", "usr/lib/f.sh"]
            .map(String::from)
            .to_vec(),
        usr_bin(&["f.sh"]),
        vec!["bin".into()],
        vec!["bin -> /usr/lib".into()],
    ];
    let want_second: Vec<Vec<String>> = vec![
        vec!["nowhere".into()],
        usr_bin(&["q"]),
        ["usr/", "usr/lib/", "usr/lib/x"].map(String::from).to_vec(),
        usr_bin(&["sub/", "sub/x"]),
        ["absfile/", "absfile/.wh..wh..opq", "absfile/x"]
            .map(String::from)
            .to_vec(),
        ["bin/", "bin/.wh..wh..opq", "bin/q"]
            .map(String::from)
            .to_vec(),
        vec!["usr".into()],
    ];
    for (dockerfile, want) in [(first, want_first), (second, want_second)] {
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        let (direct, _) = build(w.path(), &ctx, false);
        let (overlay, _) = build(w.path(), &ctx, true);
        let (d, o) = (layers(&direct), layers(&overlay));
        assert_eq!(d, o, "direct vs overlay");
        let got = names(&d);
        // The WORKDIR layer (an existing directory through /bin) is empty
        // in both builders and left out.
        let got: Vec<Vec<String>> = got.into_iter().filter(|l| !l.is_empty()).collect();
        assert_eq!(got, want);
    }
}
