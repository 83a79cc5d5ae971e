//! Export → restore round trips on real files, and hostile layers refused.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use super::apply::{apply_layer, Budget};
use super::*;
use crate::plan::Sharing;
use crate::store::Store;

fn used(id: &str) -> MountUse {
    MountUse {
        id: id.to_string(),
        target: "/cache".to_string(),
        sharing: Sharing::Locked,
        uid: 0,
        gid: 0,
        mode: 0o755,
    }
}

fn budget() -> Budget {
    Budget {
        bytes: MAX_MOUNT_BYTES,
        entries: MAX_ENTRIES,
    }
}

/// Every path under `root` with kind, mode, size, mtime and content.
fn tree(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        let md = e.path().symlink_metadata().unwrap();
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        let what = if md.is_dir() {
            format!("dir {:o}", md.mode() & 0o7777)
        } else if md.file_type().is_symlink() {
            format!("link {}", fs::read_link(e.path()).unwrap().display())
        } else {
            format!(
                "file {:o} {} {}.{} {:?}",
                md.mode() & 0o7777,
                md.len(),
                md.mtime(),
                md.mtime_nsec(),
                fs::read(e.path()).unwrap()
            )
        };
        out.push((rel, what));
    }
    out
}

#[test]
fn export_restore_round_trip_with_deltas_whiteouts_and_squash() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(&dir.path().join("a")).unwrap();
    let u = used("round-trip");
    let key = Digest::of(u.id.as_bytes());
    let m = mount_dir(&a, &key);
    fs::create_dir_all(m.join("sub/deep")).unwrap();
    fs::write(m.join("sub/deep/obj.o"), vec![7u8; 10_000]).unwrap();
    fs::write(m.join("keep"), "keep").unwrap();
    fs::write(m.join("gone"), "gone").unwrap();
    fs::create_dir(m.join("gone-dir")).unwrap();
    fs::write(m.join("gone-dir/x"), "x").unwrap();
    symlink("sub/deep/obj.o", m.join("link")).unwrap();
    fs::set_permissions(m.join("keep"), fs::Permissions::from_mode(0o600)).unwrap();
    let first = export_mount(&a, &u).unwrap().unwrap();
    assert_eq!(first.record.layers.len(), 1);
    // Unchanged: the same chain, no layer.
    let same = export_mount(&a, &u).unwrap().unwrap();
    assert_eq!((same.new_layer_bytes, &same.record), (0, &first.record));
    // A change, a deletion, a new file: one small delta.
    fs::write(m.join("sub/deep/new"), "new").unwrap();
    fs::remove_file(m.join("gone")).unwrap();
    fs::remove_dir_all(m.join("gone-dir")).unwrap();
    let second = export_mount(&a, &u).unwrap().unwrap();
    assert_eq!(second.record.layers.len(), 2);
    assert_eq!(second.record.layers[0], first.record.layers[0]);
    assert!(second.new_layer_bytes < 1_000, "{}", second.new_layer_bytes);

    // Another store restores base + delta: the same tree, mtimes included.
    let b = Store::open(&dir.path().join("b")).unwrap();
    for d in second.record.blobs() {
        b.put_blob_file(&a.blob_path(&d.digest), Some(&d.digest))
            .unwrap();
    }
    assert!(restore(&b, &second.record, &u).unwrap());
    assert_eq!(tree(&mount_dir(&b, &key)), tree(&m));
    // An existing mount is never overwritten.
    assert!(!restore(&b, &second.record, &u).unwrap());

    // Past MAX_CHAIN layers the next export is a new single base.
    let mut lengths = Vec::new();
    for i in 0..MAX_CHAIN {
        fs::write(m.join("keep"), format!("v{i}")).unwrap();
        lengths.push(export_mount(&a, &u).unwrap().unwrap().record.layers.len());
    }
    assert!(lengths.contains(&1), "squashed: {lengths:?}");
    assert!(lengths.iter().all(|&n| n <= MAX_CHAIN), "{lengths:?}");
}

/// Name, type, data, link target.
type Raw<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);

fn e<'a>(name: &'a [u8], kind: tar::EntryType, data: &'a [u8], link: &'a [u8]) -> Raw<'a> {
    (name, kind, data, link)
}

/// A zstd tar of raw entries (name bytes written as they are, so hostile
/// names the tar crate would refuse can be made); returns blob and diffID.
fn raw_layer(entries: &[Raw<'_>]) -> (Vec<u8>, Digest) {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, kind, data, link) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(*kind);
        h.set_mode(0o6755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_cksum();
        tar.append(&h, *data).unwrap();
    }
    let raw = tar.into_inner().unwrap();
    let diff_id = Digest::of(&raw);
    (zstd::encode_all(&raw[..], 3).unwrap(), diff_id)
}

fn apply(root: &Path, layer: &(Vec<u8>, Digest)) -> anyhow::Result<()> {
    apply_layer(root, &layer.0[..], &layer.1, &mut budget())
}

#[test]
fn hostile_layers_are_refused_and_stay_inside_the_mount() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let root = dir.path().join("mount");
    fs::create_dir(&root).unwrap();
    let file = tar::EntryType::Regular;
    for (entries, want) in [
        (vec![e(b"../escape", file, b"x", b"")], "leaves the mount"),
        (vec![e(b"/abs", file, b"x", b"")], "absolute"),
        (
            vec![
                e(b"l", tar::EntryType::Symlink, b"", b"../outside"),
                e(b"l/pwned", file, b"x", b""),
            ],
            "not a directory",
        ),
        (
            vec![e(b"h", tar::EntryType::Link, b"", b"/etc/passwd")],
            "not allowed",
        ),
        (
            vec![e(b"dev", tar::EntryType::Char, b"", b"")],
            "not allowed",
        ),
        (vec![e(b"a/.wh..wh..opq", file, b"", b"")], "opaque"),
    ] {
        let err = format!("{:#}", apply(&root, &raw_layer(&entries)).unwrap_err());
        assert!(err.contains(want), "{want}: {err}");
    }
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);

    // A diffID that is not the content's, a file past the byte budget.
    let (blob, _) = raw_layer(&[e(b"f", file, b"data", b"")]);
    let err = apply_layer(&root, &blob[..], &Digest::of(b"other"), &mut budget()).unwrap_err();
    assert!(format!("{err:#}").contains("not its diffID"), "{err:#}");
    let (blob, diff_id) = raw_layer(&[e(b"big", file, &[1u8; 100], b"")]);
    let mut small = Budget {
        bytes: 10,
        entries: 10,
    };
    let err = apply_layer(&root, &blob[..], &diff_id, &mut small).unwrap_err();
    assert!(format!("{err:#}").contains("bound"), "{err:#}");

    // Accepted: setuid/setgid dropped, whiteouts remove.
    let ok = raw_layer(&[e(b"d/tool", file, b"#!/bin/sh\n", b"")]);
    apply(&root, &ok).unwrap();
    let mode = fs::metadata(root.join("d/tool")).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o755);
    apply(&root, &raw_layer(&[e(b"d/.wh.tool", file, b"", b"")])).unwrap();
    assert!(!root.join("d/tool").exists());
}
