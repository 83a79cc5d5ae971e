//! Self-tests of the suite's own machinery on hand-made archives: the lister (whiteouts, opaque
//! directories, hardlinks, xattrs), the comparison, Docker error parsing and the base recipes.

use super::{bases, compare, failure, lister};
use anyhow::Result;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;

/// A tar entry for the hand-made layers.
enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, u32, &'a [u8]),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn layer_tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::Dir(p, m) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*m);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::File(p, m, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*m);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Link(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hard(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A docker-archive with the given layers (the second one gzipped, to cover both).
fn archive(layers: &[Vec<u8>], config: Value) -> tempfile::NamedTempFile {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let blob = if i == 1 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(l).unwrap();
            gz.finish().unwrap()
        } else {
            l.clone()
        };
        let name = format!("blobs/sha256/{}", hex::encode(Sha256::digest(&blob)));
        add(&name, &blob);
        names.push(name);
    }
    let cfg = serde_json::to_vec(&config).unwrap();
    add("blobs/sha256/config", &cfg);
    let manifest =
        json!([{"Config": "blobs/sha256/config", "RepoTags": ["t:latest"], "Layers": names}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&b.into_inner().unwrap()).unwrap();
    f
}

#[test]
fn lister_applies_whiteouts_and_opaque_dirs() -> Result<()> {
    let l1 = layer_tar(&[
        E::Dir("etc/", 0o755),
        E::File("etc/group", 0o644, b"root:x:0:\n"),
        E::File("etc/passwd", 0o644, b"root\n"),
        E::Dir("home/", 0o755),
        E::Dir("home/old/", 0o700),
        E::File("home/old/f", 0o600, b"x"),
        E::File("home/top", 0o644, b"y"),
        E::Dir("var/", 0o755),
        E::File("var/gone", 0o644, b"z"),
    ]);
    let l2 = layer_tar(&[
        E::Dir("etc/", 0o755),
        E::File("etc/.wh.group", 0o600, b""),
        E::Dir("home/", 0o711),
        // The opaque marker after a new entry of the same layer must not delete it.
        E::File("home/new", 0o4755, b"new"),
        E::File("home/.wh..wh..opq", 0o600, b""),
        E::File(".wh.var", 0o600, b""),
        E::Link("bin", "usr/bin"),
    ]);
    let cfg = json!({"architecture": "amd64", "os": "linux",
        "config": {"Env": ["A=1"], "Cmd": ["sh"], "Volumes": {}, "ArgsEscaped": false},
        "history": [{"created_by": "base"}, {"created_by": "RUN x", "empty_layer": false},
                    {"created_by": "ENV A=1", "empty_layer": true}]});
    let ar = archive(&[l1, l2], cfg);
    let l = lister::list_archive(ar.path())?;
    let paths: Vec<&str> = l.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        ["/bin", "/etc", "/etc/passwd", "/home", "/home/new"],
        "whiteouts resolved"
    );
    assert_eq!(l.files["/home"].mode, 0o711, "upper dir metadata wins");
    assert_eq!(l.files["/home/new"].mode, 0o4755, "suid kept");
    assert_eq!(l.files["/bin"].link.as_deref(), Some("usr/bin"));
    assert_eq!(l.layers, 2);
    assert_eq!(l.config["Volumes"], Value::Null, "empty map folded to null");
    assert_eq!(l.config["ArgsEscaped"], Value::Null);
    let doc = l.to_json("x", &[("base".to_string(), false)]);
    assert_eq!(doc["base_history_entries"], json!(1));
    assert_eq!(
        doc["history"],
        json!([{"created_by": "RUN x", "empty_layer": false},
               {"created_by": "ENV A=1", "empty_layer": true}])
    );
    // render() output parses back to the same document.
    let back: Value = serde_json::from_str(&compare::render(&doc))?;
    assert_eq!(back, doc);
    Ok(())
}

#[test]
fn lister_describes_hardlinks_order_independently() -> Result<()> {
    let a = layer_tar(&[
        E::Dir("d/", 0o755),
        E::File("d/z", 0o640, b"same"),
        E::Hard("d/a", "d/z"),
    ]);
    let b = layer_tar(&[
        E::Dir("d/", 0o755),
        E::File("d/a", 0o640, b"same"),
        E::Hard("d/z", "d/a"),
    ]);
    let cfg = json!({"architecture": "amd64", "os": "linux", "config": {}});
    let la = lister::list_archive(archive(&[a], cfg.clone()).path())?;
    let lb = lister::list_archive(archive(&[b], cfg).path())?;
    assert_eq!(la.files, lb.files);
    assert_eq!(la.files["/d/a"].kind, "file");
    assert_eq!(la.files["/d/z"].kind, "hardlink");
    assert_eq!(la.files["/d/z"].link.as_deref(), Some("/d/a"));
    assert_eq!(la.files["/d/z"].mode, 0o640);
    // A later layer that rewrites one name breaks the link.
    let c = layer_tar(&[E::Dir("d/", 0o755), E::File("d/z", 0o644, b"other")]);
    let base = layer_tar(&[
        E::Dir("d/", 0o755),
        E::File("d/a", 0o640, b"same"),
        E::Hard("d/z", "d/a"),
    ]);
    let lc = lister::list_archive(archive(&[base, c], json!({"config": {}})).path())?;
    assert_eq!(lc.files["/d/a"].kind, "file");
    assert_eq!(lc.files["/d/z"].kind, "file");
    assert_eq!(lc.files["/d/z"].size, 5);
    Ok(())
}

#[test]
fn diff_reports_fields_and_files() {
    let e = json!({"layers": 2, "config": {"Cmd": ["sh"], "User": null},
        "files": [{"path": "/a", "type": "file", "mode": "0644"}, {"path": "/b", "type": "dir"}]});
    let a = json!({"layers": 3, "config": {"Cmd": ["sh"], "User": "app"},
        "files": [{"path": "/a", "type": "file", "mode": "0600"}, {"path": "/c", "type": "dir"}]});
    let d = compare::diff(&e, &a);
    let all = d.join("\n");
    assert!(all.contains("layers: expected 2, got 3"), "{all}");
    assert!(
        all.contains("config.User: expected null, got \"app\""),
        "{all}"
    );
    assert!(all.contains("file /a: mode \"0644\" ≠ \"0600\""), "{all}");
    assert!(all.contains("file /b: missing"), "{all}");
    assert!(all.contains("file /c: unexpected"), "{all}");
    assert_eq!(d.len(), 5, "{all}");
    assert!(compare::diff(&e, &e).is_empty());
}

/// A tiny stand-in rootfs for the recipe self-tests (the real one is the busybox tree).
fn tiny_rootfs() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("etc")).unwrap();
    std::fs::write(d.path().join("etc/hostname"), "x\n").unwrap();
    std::os::unix::fs::symlink("etc", d.path().join("link")).unwrap();
    d
}

#[test]
fn lister_records_xattrs_only_where_present() -> Result<()> {
    let rootfs = tiny_rootfs();
    let layers = bases::layers("xattrs", rootfs.path())?;
    let cfg = json!({"architecture": "amd64", "os": "linux", "config": {}});
    let l = lister::list_archive(archive(&layers, cfg).path())?;
    let cap = hex::encode(bases::CAP_NET_BIND_SERVICE);
    let x = |p: &str| l.files[p].xattrs.clone().into_iter().collect::<Vec<_>>();
    assert_eq!(
        x("/x/cap"),
        [("security.capability".to_string(), cap.clone())]
    );
    assert_eq!(
        x("/x/user"),
        [
            ("user.empty".to_string(), String::new()),
            ("user.foo".to_string(), hex::encode("bar"))
        ]
    );
    assert_eq!(x("/x"), [("user.dir".to_string(), hex::encode("d"))]);
    assert!(l.files["/x/plain"].xattrs.is_empty());
    assert!(l.files["/etc/hostname"].xattrs.is_empty());
    assert_eq!(l.files["/link"].link.as_deref(), Some("etc"));
    // In JSON: present on /x/both, absent (not `{}`) on plain files.
    let doc = l.to_json("x", &[]);
    let files = doc["files"].as_array().unwrap();
    let get = |p: &str| {
        files
            .iter()
            .find(|f| f["path"] == json!(p))
            .unwrap()
            .clone()
    };
    assert_eq!(get("/x/both")["xattrs"]["security.capability"], json!(cap));
    assert_eq!(
        get("/x/both")["xattrs"]["user.foo"],
        json!(hex::encode("both"))
    );
    assert!(get("/x/plain").get("xattrs").is_none());
    Ok(())
}

#[test]
fn base_recipes_match_their_history() -> Result<()> {
    let rootfs = tiny_rootfs();
    for name in bases::RECIPES {
        let layers = bases::layers(name, rootfs.path())?;
        assert_eq!(layers.len(), bases::history(name)?.len(), "{name}");
        // The same rootfs gives the same layout bytes (both sides must pull the same image).
        let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
        bases::write_layout(name, rootfs.path(), &a.path().join("l"))?;
        bases::write_layout(name, rootfs.path(), &b.path().join("l"))?;
        let idx = |d: &tempfile::TempDir| std::fs::read(d.path().join("l/index.json")).unwrap();
        assert_eq!(idx(&a), idx(&b), "{name}: layout not deterministic");
    }
    let dup = bases::layers("dup-layers", rootfs.path())?;
    let ids: Vec<String> = dup.iter().map(|l| hex::encode(Sha256::digest(l))).collect();
    assert_eq!(ids[1], ids[2], "one-file layer repeated");
    assert_eq!(
        ids[3], "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
        "the classic empty layer"
    );
    assert_eq!(ids[3], ids[4]);
    assert_eq!(bases::layers("layers-100", rootfs.path())?.len(), 100);
    assert!(bases::history("nope").is_err());
    Ok(())
}

const DOCKER_LOG: &str = "#6 [2/2] COPY missing/*.sh /dst/
#6 ERROR: lstat /var/lib/docker/tmp/buildkit-mount1/missing: no such file or directory
------
 > [2/2] COPY missing/*.sh /dst/:
------
Dockerfile:12
--------------------
  10 |     FROM busybox
  11 |     RUN true
  12 | >>> COPY missing/*.sh /dst/
  13 |
--------------------
ERROR: failed to solve: lstat /var/lib/docker/tmp/buildkit-mount1/missing: no such file or directory
";

#[test]
fn docker_errors_parse_and_builder_errors_are_checked() -> Result<()> {
    let (err, source, line) = failure::parse_docker_log(DOCKER_LOG)?;
    assert_eq!(
        err,
        "ERROR: failed to solve: lstat /var/lib/docker/tmp/buildkit-mount1/missing: no such file or directory"
    );
    assert_eq!(line, Some(12));
    assert_eq!(source.len(), 7);
    assert_eq!(source[4], "  12 | >>> COPY missing/*.sh /dst/");
    let (_, source, line) = failure::parse_docker_log("x\nERROR: failed to solve: bad\n")?;
    assert!(source.is_empty() && line.is_none());
    assert!(failure::parse_docker_log("all good\n").is_err());
    let long = format!(
        "Dockerfile:2\n--------------------\n   2 | >>> RUN {}\n--------------------\nERROR: failed to solve: x\n",
        "a".repeat(1000)
    );
    let (_, source, _) = failure::parse_docker_log(&long)?;
    assert_eq!(
        source[2].len(),
        failure::MAX_SOURCE_LINE + "…".len(),
        "long lines cut"
    );

    assert!(failure::names_line("e/Dockerfile:12:1: COPY failed", 12));
    assert!(!failure::names_line("Dockerfile:123: x", 12));
    assert!(failure::names_line("at Dockerfile:12", 12));
    let expected = json!({"error": "ERROR: failed to solve: lstat x: no such file or directory",
        "line": 12, "builder_must_contain": ["no such file or directory", "missing"]});
    assert!(failure::check(
        &expected,
        false,
        "Dockerfile:12: lstat /missing: no such file or directory"
    )
    .is_empty());
    let d = failure::check(&expected, false, "Dockerfile:13: missing: not found");
    assert!(
        d.iter()
            .any(|l| l.contains("lacks \"no such file or directory\"")),
        "{d:?}"
    );
    assert!(
        d.iter().any(|l| l.contains("does not name Dockerfile:12")),
        "{d:?}"
    );
    assert!(failure::check(&expected, true, "")[0].starts_with("builder built it"));
    Ok(())
}

#[test]
fn case_numbers_select_one_case() {
    use super::cases::selects;
    assert!(selects("10", "10-copy-empty-dir"));
    assert!(!selects("10", "100-scratch-chown"));
    assert!(selects("100", "100-scratch-chown"));
    assert!(selects("01", "01-copy-file-to-dir"));
    assert!(selects("1", "1-x") && !selects("1", "10-x"));
    assert!(selects("deep", "deep-x") && !selects("deep", "62-deep"));
}
