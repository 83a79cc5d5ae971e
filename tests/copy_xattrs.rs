//! Extended attributes through RUN and COPY, as Docker 26.1 keeps them: the
//! layers it makes carry `security.capability` only (`user.*`, `trusted.*`,
//! `security.selinux` are dropped), a file capability survives a RUN's
//! copy-up and `COPY --from` (file and directory sources, with `--chown`
//! too), a copied directory's destination dir gets none, and build-context
//! files lose it while context directories keep it. The base image is
//! served by a local registry with a layer whose PAX headers carry all four
//! namespaces; every expectation below was recorded from Docker building
//! the same Dockerfile on the same base. Built on both COPY paths. Needs
//! root, docker-registry, skopeo and busybox-static.

mod support;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::{run_ok, Auth, Registry};

const CAP: [u8; 20] = [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

fn setxattr(p: &Path, name: &str, value: &[u8]) {
    let (path, n) = (
        CString::new(p.as_os_str().as_bytes()).unwrap(),
        CString::new(name).unwrap(),
    );
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let r = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(r, 0, "{name} on {}", p.display());
}

fn getxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let (path, n) = (
        CString::new(p.as_os_str().as_bytes()).unwrap(),
        CString::new(name).unwrap(),
    );
    let mut buf = vec![0u8; 256];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let r = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            n.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (r >= 0).then(|| buf[..r as usize].to_vec())
}

/// `xd/`, `xd/g`, `xf`, each with a capability, `user.foo`, `trusted.foo`
/// and `security.selinux`.
fn xattr_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, dir) in [("xd/", true), ("xd/g", false), ("xf", false)] {
        b.append_pax_extensions([
            ("SCHILY.xattr.security.capability", &CAP[..]),
            (
                "SCHILY.xattr.security.selinux",
                b"system_u:object_r:bin_t:s0",
            ),
            ("SCHILY.xattr.trusted.foo", b"t"),
            ("SCHILY.xattr.user.foo", b"bar"),
        ])
        .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_mtime(1000);
        h.set_uid(0);
        h.set_gid(0);
        if dir {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, name, &[][..]).unwrap();
        } else {
            h.set_mode(0o644);
            h.set_size(2);
            b.append_data(&mut h, name, &b"x\n"[..]).unwrap();
        }
    }
    b.into_inner().unwrap()
}

/// Pushes busybox + the xattr layer as `REG/xattrs:1`.
fn push_base(reg: &Registry) -> String {
    let layout = tempfile::tempdir().unwrap();
    let p = layout.path();
    fs::create_dir_all(p.join("blobs/sha256")).unwrap();
    fs::write(p.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |bytes: &[u8]| {
        let d = support::digest(bytes);
        fs::write(p.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
        json!({"digest": d, "size": bytes.len()})
    };
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in [support::busybox_layer_tar(), xattr_layer()] {
        diff_ids.push(json!(support::digest(&tar)));
        let mut l = put(&support::gzip(&tar));
        l["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
        layers.push(l);
    }
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let mut c = put(config.to_string().as_bytes());
    c["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let manifest = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": c, "layers": layers});
    let mut m = put(manifest.to_string().as_bytes());
    m["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    m["annotations"] = json!({"org.opencontainers.image.ref.name": "1"});
    fs::write(
        p.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [m]}).to_string(),
    )
    .unwrap();
    let name = format!("{}/xattrs:1", reg.addr);
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:1", p.display()))
            .arg(format!("docker://{name}")),
    );
    name
}

/// Each layer of an OCI archive: entry name → (uid:gid, sorted xattr names).
fn layers(archive: &Path) -> Vec<BTreeMap<String, String>> {
    let blobs = support::tar_files(archive);
    let blob = |d: &Value| &blobs[&format!("blobs/sha256/{}", &d.as_str().unwrap()[7..])];
    let index: Value = serde_json::from_slice(&blobs["index.json"]).unwrap();
    let manifest: Value = serde_json::from_slice(blob(&index["manifests"][0]["digest"])).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let mut out = BTreeMap::new();
            let mut data = blob(&l["digest"]).clone();
            if data.starts_with(&[0x1f, 0x8b]) {
                // The pulled base layer stays gzip.
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(&data[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                data = plain;
            }
            let mut t = tar::Archive::new(&data[..]);
            for e in t.entries().unwrap() {
                let mut e = e.unwrap();
                let mut x: Vec<String> = e
                    .pax_extensions()
                    .unwrap()
                    .into_iter()
                    .flatten()
                    .map(|p| p.unwrap().key().unwrap().to_string())
                    .filter_map(|k| k.strip_prefix("SCHILY.xattr.").map(str::to_string))
                    .collect();
                x.sort();
                let h = e.header();
                let owner = format!("{}:{}", h.uid().unwrap(), h.gid().unwrap());
                let name = String::from_utf8_lossy(&e.path_bytes()).to_string();
                out.insert(name, format!("{owner} {x:?}"));
            }
            out
        })
        .collect()
}

#[test]
fn layers_keep_file_capabilities_only() {
    let reg = Registry::start(Auth::Plain);
    let base = push_base(&reg);
    let w = tempfile::Builder::new()
        .prefix("xattrs-")
        .tempdir()
        .unwrap();
    let regcfg = w.path().join("registries.toml");
    fs::write(
        &regcfg,
        format!("[registry.\"{}\"]\ninsecure = true\n", reg.addr),
    )
    .unwrap();
    let ctx = w.path().join("ctx");
    fs::create_dir_all(ctx.join("capdir/sub")).unwrap();
    fs::write(ctx.join("cap"), "c\n").unwrap();
    fs::write(ctx.join("capdir/inner"), "i\n").unwrap();
    for p in ["cap", "capdir", "capdir/sub", "capdir/inner"] {
        setxattr(&ctx.join(p), "security.capability", &CAP);
        setxattr(&ctx.join(p), "user.foo", b"bar");
    }
    fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {base} AS x\n\
             RUN chmod 600 /xf && touch /xd/g\n\
             FROM x\n\
             COPY --from=x /xf /f1\n\
             COPY --from=x /xd /d1\n\
             COPY --from=x --chown=5:5 /xf /f2\n\
             COPY cap /cap\n\
             COPY capdir /capdir\n"
        ),
    )
    .unwrap();
    let cap = r#"["security.capability"]"#;
    let want: Vec<Vec<(&str, String)>> = vec![
        vec![
            ("etc/", "0:0 []".into()),
            ("xd/", format!("0:0 {cap}")),
            ("xd/g", format!("0:0 {cap}")),
            ("xf", format!("0:0 {cap}")),
        ],
        vec![("f1", format!("0:0 {cap}"))],
        vec![("d1/", "0:0 []".into()), ("d1/g", format!("0:0 {cap}"))],
        vec![("f2", format!("5:5 {cap}"))],
        vec![("cap", "0:0 []".into())],
        vec![
            ("capdir/", "0:0 []".into()),
            ("capdir/inner", "0:0 []".into()),
            ("capdir/sub/", format!("0:0 {cap}")),
        ],
    ];
    let mut built = Vec::new();
    for overlay_only in [false, true] {
        let archive = w.path().join(format!("out-{overlay_only}.tar"));
        let rootfs = w.path().join(format!("rootfs-{overlay_only}"));
        let mut c = support::builder(&w.path().join("store"), &w.path().join("docker"));
        if overlay_only {
            c.env("BUILDER_COPY_VIA_OVERLAY", "1");
        } else {
            c.env_remove("BUILDER_COPY_VIA_OVERLAY");
        }
        run_ok(
            c.args(["build", "--no-cache", "--registry-config"])
                .arg(&regcfg)
                .arg("--output")
                .arg(format!(
                    "type=oci,dest={},compression=uncompressed",
                    archive.display()
                ))
                .arg("--output")
                .arg(format!("type=local,dest={}", rootfs.display()))
                .arg(&ctx),
        );
        let got = layers(&archive);
        // The base's own layer still carries everything (it is not rewritten).
        assert!(got[1]["xf"].contains("user.foo") && got[1]["xf"].contains("trusted.foo"));
        let made: Vec<Vec<(&str, String)>> = got[2..]
            .iter()
            .map(|l| l.iter().map(|(k, v)| (k.as_str(), v.clone())).collect())
            .collect();
        assert_eq!(made, want, "overlay only: {overlay_only}");
        // Snapshots and the local output keep the capability.
        for p in ["xf", "f1", "d1/g", "f2"] {
            assert_eq!(
                getxattr(&rootfs.join(p), "security.capability").as_deref(),
                Some(&CAP[..]),
                "{p}"
            );
        }
        built.push(got);
    }
    assert_eq!(built[0], built[1], "direct vs overlay");
}
