//! Per-case base images: recipes that start from the busybox rootfs of
//! scripts/mkrootfs-busybox.sh and add generated layers, written as an OCI layout (ref `latest`)
//! that the recorder pushes to `127.0.0.1:5000/library/NAME:latest` (Docker's `FROM NAME` pulls it
//! through its docker.io mirror) and the comparison pushes to a registry it starts for builder.
//! The same rootfs gives the same bytes on both sides (layers gzipped here, so nothing recompresses
//! them on the way).
//!
//! - `dup-layers`: busybox, then a one-file layer twice and the empty layer (a tar of only its
//!   end-of-archive blocks) twice: `diff_ids` that repeat, as classic-builder images have.
//! - `layers-100`: busybox plus 99 one-file layers: 100 layers.
//! - `xattrs`: busybox plus a layer whose files and directory carry PAX `SCHILY.xattr.*` records
//!   (`security.capability`, `user.*`).
//! - `busybox-arm64`, `busybox-armv7`: the same rootfs made from Debian's `busybox-static` for
//!   arm64 / armhf (support::multiarch), one layer, config `arm64`+`v8` / `arm`+`v7`, for the
//!   cases built with a foreign `platform` (RUN through QEMU user emulation).

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Every recipe name.
pub const RECIPES: &[&str] = &[
    "dup-layers",
    "layers-100",
    "xattrs",
    "busybox-arm64",
    "busybox-armv7",
];

/// A foreign-architecture busybox recipe: (Debian architecture, OCI architecture, variant).
fn foreign(name: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match name {
        "busybox-arm64" => Some(("arm64", "arm64", "v8")),
        "busybox-armv7" => Some(("armhf", "arm", "v7")),
        _ => None,
    }
}

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `security.capability` (VFS_CAP_REVISION_2, effective) granting cap_net_bind_service.
pub const CAP_NET_BIND_SERVICE: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn check(name: &str) -> Result<()> {
    if !RECIPES.contains(&name) {
        bail!("unknown base image recipe {name:?} (known: {RECIPES:?})");
    }
    Ok(())
}

/// The recipe's history: one entry per layer, none empty.
pub fn history(name: &str) -> Result<Vec<(String, bool)>> {
    check(name)?;
    if let Some((deb, ..)) = foreign(name) {
        let by = format!("parity base {name}: busybox-static:{deb} rootfs");
        return Ok(vec![(by, false)]);
    }
    let mut h = vec![("parity base: busybox rootfs".to_string(), false)];
    let mut add = |s: &str| h.push((format!("parity base {name}: {s}"), false));
    match name {
        "dup-layers" => {
            add("/dup/a.txt");
            add("/dup/a.txt again");
            add("empty layer");
            add("empty layer again");
        }
        "layers-100" => {
            for i in 1..100 {
                add(&format!("/layers/{i:03}.txt"));
            }
        }
        _ => add("files with xattrs"),
    }
    Ok(h)
}

/// Extended attributes of one entry: (name, value).
type Xattrs<'a> = &'a [(&'a str, &'a [u8])];
/// A file of a generated layer: path, mode, content, xattrs.
type GenFile<'a> = (&'a str, u32, &'a [u8], Xattrs<'a>);

/// A tar header with fixed owner and mtime.
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// A layer of directories (`name/`) and files (name, mode, content, xattrs).
fn layer(dirs: &[(&str, Xattrs)], files: &[GenFile]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let pax = |b: &mut tar::Builder<Vec<u8>>, x: Xattrs| {
        if !x.is_empty() {
            let recs: Vec<(String, &[u8])> = x
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
                .collect();
            b.append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), *v)))
                .unwrap();
        }
    };
    for (d, x) in dirs {
        pax(&mut b, x);
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        b.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    for (f, mode, data, x) in files {
        pax(&mut b, x);
        let mut h = header(tar::EntryType::Regular, *mode, data.len() as u64);
        b.append_data(&mut h, f, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// The rootfs directory as a layer tar: sorted paths, owners and modes from the tree, mtime 0.
pub fn rootfs_layer(rootfs: &Path) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for e in walkdir::WalkDir::new(rootfs)
        .min_depth(1)
        .sort_by_file_name()
    {
        let e = e.with_context(|| format!("walking {}", rootfs.display()))?;
        let rel = e
            .path()
            .strip_prefix(rootfs)?
            .to_string_lossy()
            .into_owned();
        let md = e.path().symlink_metadata()?;
        let mode = md.mode() & 0o7777;
        let ft = e.file_type();
        let mut h = if ft.is_dir() {
            header(tar::EntryType::Directory, mode, 0)
        } else if ft.is_symlink() {
            header(tar::EntryType::Symlink, mode, 0)
        } else if ft.is_file() {
            header(tar::EntryType::Regular, mode, md.len())
        } else {
            bail!(
                "{}: unsupported file type in the base rootfs",
                e.path().display()
            );
        };
        h.set_uid(md.uid().into());
        h.set_gid(md.gid().into());
        if ft.is_dir() {
            b.append_data(&mut h, format!("{rel}/"), std::io::empty())?;
        } else if ft.is_symlink() {
            b.append_link(&mut h, &rel, std::fs::read_link(e.path())?)?;
        } else {
            b.append_data(&mut h, &rel, std::fs::File::open(e.path())?)?;
        }
    }
    Ok(b.into_inner()?)
}

/// The recipe's layer tars (uncompressed), the busybox rootfs first.
pub fn layers(name: &str, rootfs: &Path) -> Result<Vec<Vec<u8>>> {
    check(name)?;
    if let Some((deb, ..)) = foreign(name) {
        // Not `rootfs` (the host's busybox): the same tree from the foreign package.
        return Ok(vec![rootfs_layer(
            &crate::support::multiarch::busybox_rootfs_for(deb),
        )?]);
    }
    let mut out = vec![rootfs_layer(rootfs)?];
    match name {
        "dup-layers" => {
            let a = layer(&[("dup/", &[])], &[("dup/a.txt", 0o644, b"a\n", &[])]);
            let empty = vec![0u8; 1024];
            out.extend([a.clone(), a, empty.clone(), empty]);
        }
        "layers-100" => {
            for i in 1..100 {
                let f = format!("layers/{i:03}.txt");
                let data = format!("{i}\n");
                out.push(layer(
                    &[("layers/", &[])],
                    &[(&f, 0o644, data.as_bytes(), &[])],
                ));
            }
        }
        _ => out.push(layer(
            &[("x/", &[("user.dir", b"d")])],
            &[
                (
                    "x/cap",
                    0o755,
                    b"cap\n",
                    &[("security.capability", &CAP_NET_BIND_SERVICE)],
                ),
                (
                    "x/user",
                    0o644,
                    b"user\n",
                    &[("user.foo", b"bar"), ("user.empty", b"")],
                ),
                (
                    "x/both",
                    0o755,
                    b"both\n",
                    &[
                        ("security.capability", &CAP_NET_BIND_SERVICE),
                        ("user.foo", b"both"),
                    ],
                ),
                ("x/plain", 0o644, b"plain\n", &[]),
            ],
        )),
    }
    Ok(out)
}

fn put_blob(layout: &Path, bytes: &[u8]) -> Result<Value> {
    let hex = hex::encode(Sha256::digest(bytes));
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes)?;
    Ok(json!({"digest": format!("sha256:{hex}"), "size": bytes.len()}))
}

fn gzip(b: &[u8]) -> Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b)?;
    Ok(e.finish()?)
}

/// Writes recipe `name` as an OCI layout at `dir` (must not exist), ref `latest`.
pub fn write_layout(name: &str, rootfs: &Path, dir: &Path) -> Result<()> {
    let layers = layers(name, rootfs)?;
    let history = history(name)?;
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in &layers {
        diff_ids.push(format!("sha256:{}", hex::encode(Sha256::digest(l))));
        let mut d = put_blob(dir, &gzip(l)?)?;
        d["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
        descs.push(d);
    }
    let epoch = "1970-01-01T00:00:00Z";
    let (arch, variant) = foreign(name).map_or(("amd64", ""), |(_, a, v)| (a, v));
    let mut config = json!({
        "created": epoch,
        "architecture": arch,
        "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history.iter().map(|(c, _)| json!({"created": epoch, "created_by": c})).collect::<Vec<_>>(),
    });
    if !variant.is_empty() {
        config["variant"] = json!(variant);
    }
    let mut cd = put_blob(dir, config.to_string().as_bytes())?;
    cd["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cd,
        "layers": descs,
    });
    let mut md = put_blob(dir, manifest.to_string().as_bytes())?;
    md["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    md["annotations"] = json!({"org.opencontainers.image.ref.name": "latest"});
    let index = json!({"schemaVersion": 2, "manifests": [md]});
    std::fs::write(dir.join("index.json"), index.to_string())?;
    Ok(())
}
