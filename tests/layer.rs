//! Layer tar writing, extraction (incl. hostile tars), overlay diffs and compression.
//! Needs root (chown, mknod, trusted.* xattrs, overlay mounts).

use builder::layer::{
    self, Compression, Digest, ExtractError, ExtractOptions, SourceKind, WriteOptions,
};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn setxattr(p: &Path, name: &str, value: &[u8]) {
    let n = CString::new(name).unwrap();
    let r = unsafe {
        libc::lsetxattr(
            c(p).as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "setxattr {name} on {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

fn getxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    let r = unsafe {
        libc::lgetxattr(
            c(p).as_ptr(),
            n.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

fn mknod(p: &Path, kind: libc::mode_t, mode: libc::mode_t, major: u32, minor: u32) {
    let r = unsafe { libc::mknod(c(p).as_ptr(), kind | mode, libc::makedev(major, minor)) };
    assert_eq!(
        r,
        0,
        "mknod {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

fn lchown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

fn set_mtime(p: &Path, secs: i64) {
    let t = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let ts = [t, t];
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c(p).as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0);
}

/// Capability set granting cap_net_bind_service (vfs_cap_data revision 2, effective).
const CAP_NET_BIND: [u8; 20] = [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// A tree with every kind of entry a layer may carry.
fn populate(root: &Path) {
    fs::create_dir_all(root.join("etc/deep")).unwrap();
    fs::write(root.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
    fs::write(root.join("big"), vec![0xabu8; 3 * 1024 * 1024 + 17]).unwrap();
    fs::write(root.join("a-b"), b"sorts before a/ in byte order").unwrap();
    fs::create_dir(root.join("a")).unwrap();
    fs::write(root.join("a/x"), b"x").unwrap();
    fs::hard_link(root.join("a/x"), root.join("etc/deep/x-link")).unwrap();
    symlink("../etc/passwd", root.join("a/rel-link")).unwrap();
    symlink("/nonexistent/abs", root.join("a/abs-link")).unwrap();
    fs::write(root.join("suid"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::create_dir(root.join("sticky")).unwrap();
    fs::set_permissions(root.join("sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(root.join("capbin"), b"\x7fELF").unwrap();
    setxattr(&root.join("capbin"), "security.capability", &CAP_NET_BIND);
    setxattr(&root.join("etc/passwd"), "user.note", b"hello <&>");
    mknod(&root.join("null"), libc::S_IFCHR, 0o666, 1, 3);
    mknod(&root.join("loop9"), libc::S_IFBLK, 0o660, 7, 9);
    mknod(&root.join("fifo"), libc::S_IFIFO, 0o644, 0, 0);
    let long_dir = root.join("l".repeat(120)).join("m".repeat(120));
    fs::create_dir_all(&long_dir).unwrap();
    fs::write(long_dir.join("n".repeat(90)), b"long path").unwrap();
    symlink("t".repeat(150), root.join("long-target")).unwrap();
    fs::write(root.join("owned"), b"o").unwrap();
    lchown(&root.join("owned"), 1234, 5678);
    fs::write(root.join("bigid"), b"b").unwrap();
    lchown(&root.join("bigid"), 3_000_000, 3_000_001);
    lchown(&root.join("a/rel-link"), 42, 43);
    for e in walk(root) {
        set_mtime(&root.join(&e), 1_600_000_000);
    }
    set_mtime(&root.join("owned"), 1_700_000_000);
    set_mtime(root, 1_600_000_000);
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap().path().strip_prefix(root).unwrap().to_path_buf())
        .collect();
    out.sort();
    out
}

/// A comparable description of every entry under `root` (hardlinks as shared inode groups).
fn describe(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut inodes: BTreeMap<u64, PathBuf> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for rel in walk(root) {
        let p = root.join(&rel);
        let m = fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let mut d = format!(
            "mode={:o} uid={} gid={} mtime={}",
            m.mode(),
            m.uid(),
            m.gid(),
            m.mtime()
        );
        if ft.is_file() {
            let data = fs::read(&p).unwrap();
            d += &format!(" size={} sha={}", data.len(), Digest::of(&data));
            if m.nlink() > 1 {
                let first = inodes.entry(m.ino()).or_insert(rel.clone());
                d += &format!(" inode-group={}", first.display());
            }
        } else if ft.is_symlink() {
            d += &format!(" -> {}", fs::read_link(&p).unwrap().display());
        } else if !ft.is_dir() {
            d += &format!(" rdev={:x}", m.rdev());
        }
        // `user.*` is not listed: layers keep only file capabilities (see below).
        for x in ["security.capability", "trusted.overlay.opaque"] {
            if let Some(v) = getxattr(&p, x) {
                d += &format!(" {x}={v:?}");
            }
        }
        out.insert(rel, d);
    }
    out
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(tar);
    ar.entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect()
}

#[test]
fn write_then_extract_preserves_everything() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    populate(&src);

    let w = layer::write(&src, t.path(), &WriteOptions::default()).unwrap();
    let tar = fs::read(&w.path).unwrap();
    assert_eq!(Digest::of(&tar), w.diff_id);
    assert_eq!(tar.len() as u64, w.size);

    // Depth-first in name-byte order (a/ and its subtree before a-b), directories with a trailing
    // slash, no root entry.
    let names = tar_names(&tar);
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| x == n)
            .unwrap_or_else(|| panic!("{n} missing in {names:?}"))
    };
    assert!(pos("a/") < pos("a/abs-link"));
    assert!(pos("a/x") < pos("a-b"));
    assert!(pos("etc/") < pos("etc/deep/"));
    assert!(!names.iter().any(|n| n == "./" || n == "/"));

    // The second occurrence of an inode is a Link entry.
    let mut ar = tar::Archive::new(&tar[..]);
    let mut link_seen = false;
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        if &*e.path_bytes() == b"etc/deep/x-link" {
            assert_eq!(h.entry_type(), tar::EntryType::Link);
            assert_eq!(&*e.link_name_bytes().unwrap(), b"a/x");
            link_seen = true;
        }
    }
    assert!(link_seen);

    let dest = t.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let got = layer::extract(
        fs::File::open(&w.path).unwrap(),
        &dest,
        &ExtractOptions {
            expected_diff_id: Some(w.diff_id),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(got.diff_id, w.diff_id);
    assert_eq!(got.blob_digest, w.diff_id);
    assert_eq!(got.format, layer::StreamFormat::Plain);
    let want = describe(&src);
    assert_eq!(want, describe(&dest));

    // Unhashed (the store hashes the stream itself): the same tree, the size still counted,
    // no digest; asking it to check a diffID is refused before any work.
    let bare = t.path().join("bare");
    fs::create_dir(&bare).unwrap();
    let unhashed = ExtractOptions {
        unhashed: true,
        ..Default::default()
    };
    let got = layer::extract(fs::File::open(&w.path).unwrap(), &bare, &unhashed).unwrap();
    assert_eq!(
        got.diff_id.to_string(),
        format!("sha256:{}", "0".repeat(64))
    );
    assert_eq!(got.size, fs::metadata(&w.path).unwrap().len());
    assert_eq!(want, describe(&bare));
    let refused = ExtractOptions {
        expected_diff_id: Some(w.diff_id),
        unhashed: true,
    };
    let never = t.path().join("never");
    fs::create_dir(&never).unwrap();
    assert!(layer::extract(fs::File::open(&w.path).unwrap(), &never, &refused).is_err());
    assert_eq!(fs::read_dir(&never).unwrap().count(), 0);
    // Guard against a vacuous comparison: the interesting properties are really in there.
    let get = |k: &str| {
        want.get(Path::new(k))
            .unwrap_or_else(|| panic!("{k} missing"))
            .clone()
    };
    assert!(
        get("capbin").contains("security.capability=[1, 0, 0, 2, 0, 4"),
        "{}",
        get("capbin")
    );
    // Docker's layer writer keeps `security.capability` only: the source's
    // `user.note` is not in the layer, so not in the extracted tree.
    assert!(getxattr(&src.join("etc/passwd"), "user.note").is_some());
    assert!(getxattr(&dest.join("etc/passwd"), "user.note").is_none());
    assert!(get("suid").starts_with("mode=104755"));
    assert!(get("sticky").starts_with("mode=41777"));
    assert!(get("bigid").contains("uid=3000000 gid=3000001"));
    assert!(
        get("a/rel-link").contains("uid=42 gid=43")
            && get("a/rel-link").contains("-> ../etc/passwd")
    );
    assert!(get("null").contains("rdev=103"), "{}", get("null"));
    assert!(
        get("loop9").starts_with("mode=6064") && get("loop9").contains("rdev=709"),
        "{}",
        get("loop9")
    );
    assert!(get("etc/deep/x-link").contains("inode-group=a/x"));
    assert!(get("owned").contains("mtime=1700000000"));
    assert_eq!(want.len(), 22, "{want:#?}");

    // Rewriting the extracted tree gives the same bytes.
    let w2 = layer::write(&dest, t.path(), &WriteOptions::default()).unwrap();
    assert_eq!(w2.diff_id, w.diff_id);
}

#[test]
fn output_is_deterministic_and_clamped() {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    let b = t.path().join("b");
    for (dir, mtime) in [(&a, 1_500_000_000), (&b, 1_800_000_000)] {
        fs::create_dir_all(dir.join("d")).unwrap();
        // Created in different orders so readdir order differs.
        if mtime == 1_500_000_000 {
            fs::write(dir.join("d/one"), b"1").unwrap();
            fs::write(dir.join("d/two"), b"2").unwrap();
        } else {
            fs::write(dir.join("d/two"), b"2").unwrap();
            fs::write(dir.join("d/one"), b"1").unwrap();
        }
        for e in walk(dir) {
            set_mtime(&dir.join(e), mtime);
        }
    }
    let opts = WriteOptions {
        source_date_epoch: Some(1_400_000_000),
        ..Default::default()
    };
    let (da, _, _) = layer::write_to(&a, Vec::new(), &opts).unwrap();
    let (db, _, tar) = layer::write_to(&b, Vec::new(), &opts).unwrap();
    assert_eq!(da, db);
    let mut ar = tar::Archive::new(&tar[..]);
    for e in ar.entries().unwrap() {
        assert_eq!(e.unwrap().header().mtime().unwrap(), 1_400_000_000);
    }
    // Without clamping the mtimes differ, and so do the digests.
    let (da, _, _) = layer::write_to(&a, Vec::new(), &WriteOptions::default()).unwrap();
    let (db, _, _) = layer::write_to(&b, Vec::new(), &WriteOptions::default()).unwrap();
    assert_ne!(da, db);
}

fn mount_overlay(lower: &str, upper: &Path, work: &Path, merged: &Path) {
    let opts = format!(
        "lowerdir={lower},upperdir={},workdir={},redirect_dir=off,metacopy=off,index=off",
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        merged,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    )
    .expect("mount overlay (needs root)");
}

fn umount(p: &Path) {
    nix::mount::umount(p).unwrap();
}

#[test]
fn overlay_upper_becomes_oci_diff_and_back() {
    let t = tempfile::tempdir().unwrap();
    let p = |s: &str| t.path().join(s);
    for d in [
        "lower", "upper", "work", "merged", "snap", "work2", "upper2", "merged2",
    ] {
        fs::create_dir(p(d)).unwrap();
    }
    fs::write(p("lower/gone"), b"old").unwrap();
    fs::create_dir_all(p("lower/d/sub")).unwrap();
    fs::write(p("lower/d/x"), b"x").unwrap();
    fs::write(p("lower/keep"), b"keep").unwrap();

    mount_overlay(
        p("lower").to_str().unwrap(),
        &p("upper"),
        &p("work"),
        &p("merged"),
    );
    let m = p("merged");
    fs::remove_file(m.join("gone")).unwrap();
    fs::remove_dir_all(m.join("d")).unwrap();
    fs::create_dir(m.join("d")).unwrap();
    fs::write(m.join("d/new"), b"new").unwrap();
    fs::write(m.join("added"), b"added").unwrap();
    umount(&m);

    let opts = WriteOptions {
        kind: SourceKind::OverlayUpper,
        ..Default::default()
    };
    let (diff_id, _, tar) = layer::write_to(&p("upper"), Vec::new(), &opts).unwrap();
    let names = tar_names(&tar);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [".wh.gone", "added", "d/", "d/.wh..wh..opq", "d/new"]
    );
    for want in [".wh.gone", "added", "d/", "d/.wh..wh..opq", "d/new"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    // The opaque marker directly follows its directory; no overlay xattrs leak.
    let d = names.iter().position(|n| n == "d/").unwrap();
    assert_eq!(names[d + 1], "d/.wh..wh..opq");
    let mut ar = tar::Archive::new(&tar[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if let Some(pax) = e.pax_extensions().unwrap() {
            for x in pax {
                assert!(!x.unwrap().key().unwrap().contains("overlay"));
            }
        }
    }

    // Back into overlay format: a 0:0 char device and the opaque xattr.
    let got = layer::extract(
        &tar[..],
        &p("snap"),
        &ExtractOptions {
            expected_diff_id: Some(diff_id),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(got.diff_id, diff_id);
    let wh = fs::symlink_metadata(p("snap/gone")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &wh.file_type()
    ));
    assert_eq!((wh.rdev(), wh.uid(), wh.gid()), (0, 0, 0));
    assert_eq!(
        getxattr(&p("snap/d"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );

    // And the kernel agrees: stacking the snapshot on the lower gives the changed view.
    let lowers = format!("{}:{}", p("snap").display(), p("lower").display());
    mount_overlay(&lowers, &p("upper2"), &p("work2"), &p("merged2"));
    let m2 = p("merged2");
    let view = (
        m2.join("gone").exists(),
        fs::read_dir(m2.join("d"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>(),
        fs::read(m2.join("keep")).unwrap(),
        fs::read(m2.join("added")).unwrap(),
    );
    umount(&m2);
    assert!(!view.0);
    assert_eq!(view.1, vec![std::ffi::OsString::from("new")]);
    assert_eq!(view.2, b"keep");
    assert_eq!(view.3, b"added");
}

// ---- hostile tars -------------------------------------------------------------------------

/// One raw tar entry; the name goes into the header bytes unchecked (the tar crate's setters
/// refuse `..`, which is exactly what these tests need).
fn raw_entry(out: &mut Vec<u8>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(data.len() as u64);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&[0u8; 1024]);
    out
}

struct Sandbox {
    _t: tempfile::TempDir,
    dest: PathBuf,
    sentinel: PathBuf,
    base: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().to_path_buf();
        let dest = base.join("dest");
        let sentinel = base.join("sentinel");
        fs::create_dir(&dest).unwrap();
        fs::create_dir(&sentinel).unwrap();
        fs::write(sentinel.join("secret"), b"secret").unwrap();
        Sandbox {
            _t: t,
            dest,
            sentinel,
            base,
        }
    }

    /// Nothing outside `dest` changed: the base holds only dest and sentinel, and the sentinel
    /// still holds exactly its one untouched file.
    fn assert_untouched(&self) {
        let top: Vec<_> = fs::read_dir(&self.base)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(top.len(), 2, "unexpected entries next to dest: {top:?}");
        let inside: Vec<_> = fs::read_dir(&self.sentinel)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(inside, vec![std::ffi::OsString::from("secret")]);
        let m = fs::symlink_metadata(self.sentinel.join("secret")).unwrap();
        assert_eq!(m.nlink(), 1);
        assert_eq!(m.mode() & 0o7777, 0o644);
        assert_eq!(fs::read(self.sentinel.join("secret")).unwrap(), b"secret");
        assert!(getxattr(&self.sentinel, "trusted.overlay.opaque").is_none());
    }

    fn extract(&self, tar: &[u8]) -> anyhow::Result<layer::Extracted> {
        layer::extract(tar, &self.dest, &ExtractOptions::default())
    }
}

fn unsafe_refusal(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<ExtractError>(),
            Some(ExtractError::Unsafe { .. })
        )
    })
}

#[test]
fn dotdot_is_refused() {
    let s = Sandbox::new();
    let mut t = Vec::new();
    raw_entry(
        &mut t,
        "../sentinel/evil",
        tar::EntryType::Regular,
        "",
        b"pwned",
    );
    let e = s.extract(&finish(t)).unwrap_err();
    assert!(unsafe_refusal(&e), "{e:#}");
    s.assert_untouched();

    let mut t = Vec::new();
    raw_entry(
        &mut t,
        "a/../../sentinel/evil",
        tar::EntryType::Regular,
        "",
        b"pwned",
    );
    assert!(s.extract(&finish(t)).is_err());
    s.assert_untouched();
}

#[test]
fn absolute_names_stay_inside() {
    let s = Sandbox::new();
    let abs = format!("{}/evil", s.sentinel.display());
    let mut t = Vec::new();
    raw_entry(&mut t, &abs, tar::EntryType::Regular, "", b"inside");
    s.extract(&finish(t)).unwrap();
    s.assert_untouched();
    assert_eq!(
        fs::read(s.dest.join(abs.trim_start_matches('/'))).unwrap(),
        b"inside"
    );
}

#[test]
fn symlinked_parent_cannot_write_outside() {
    let s = Sandbox::new();
    let mut t = Vec::new();
    raw_entry(
        &mut t,
        "lnk",
        tar::EntryType::Symlink,
        s.sentinel.to_str().unwrap(),
        b"",
    );
    raw_entry(&mut t, "lnk/evil", tar::EntryType::Regular, "", b"pwned");
    raw_entry(
        &mut t,
        "rel",
        tar::EntryType::Symlink,
        "../../../../../../../../sentinel",
        b"",
    );
    raw_entry(&mut t, "rel/evil2", tar::EntryType::Regular, "", b"pwned");
    raw_entry(&mut t, "lnk/.wh..wh..opq", tar::EntryType::Regular, "", b"");
    raw_entry(&mut t, "lnk/.wh.secret", tar::EntryType::Regular, "", b"");
    let r = s.extract(&finish(t));
    s.assert_untouched();
    // Resolution is confined: the writes land inside dest, under the link's in-root meaning.
    r.unwrap();
    let inner = s.dest.join(s.sentinel.strip_prefix("/").unwrap());
    assert_eq!(fs::read(inner.join("evil")).unwrap(), b"pwned");
    assert_eq!(fs::read(s.dest.join("sentinel/evil2")).unwrap(), b"pwned");
}

#[test]
fn symlink_chain_cannot_write_outside() {
    let s = Sandbox::new();
    let mut t = Vec::new();
    raw_entry(&mut t, "a", tar::EntryType::Symlink, "b", b"");
    raw_entry(&mut t, "b", tar::EntryType::Symlink, "c/../..", b"");
    raw_entry(&mut t, "c", tar::EntryType::Symlink, "/../../..", b"");
    raw_entry(
        &mut t,
        "a/sentinel/evil",
        tar::EntryType::Regular,
        "",
        b"pwned",
    );
    raw_entry(&mut t, "loop1", tar::EntryType::Symlink, "loop2", b"");
    raw_entry(&mut t, "loop2", tar::EntryType::Symlink, "loop1", b"");
    let r = s.extract(&finish(t.clone()));
    s.assert_untouched();
    r.unwrap();
    assert_eq!(fs::read(s.dest.join("sentinel/evil")).unwrap(), b"pwned");

    // A symlink loop used as a parent is an error, not a hang.
    raw_entry(&mut t, "loop1/x", tar::EntryType::Regular, "", b"x");
    assert!(s.extract(&finish(t)).is_err());
    s.assert_untouched();
}

#[test]
fn overwriting_a_symlink_replaces_it() {
    let s = Sandbox::new();
    let target = s.sentinel.join("secret");
    let mut t = Vec::new();
    raw_entry(
        &mut t,
        "f",
        tar::EntryType::Symlink,
        target.to_str().unwrap(),
        b"",
    );
    raw_entry(&mut t, "f", tar::EntryType::Regular, "", b"pwned");
    raw_entry(
        &mut t,
        "d",
        tar::EntryType::Symlink,
        s.sentinel.to_str().unwrap(),
        b"",
    );
    raw_entry(&mut t, "d/", tar::EntryType::Directory, "", b"");
    s.extract(&finish(t)).unwrap();
    s.assert_untouched();
    assert_eq!(fs::read(s.dest.join("f")).unwrap(), b"pwned");
    assert!(fs::symlink_metadata(s.dest.join("d")).unwrap().is_dir());
}

#[test]
fn hardlinks_outside_are_refused() {
    let s = Sandbox::new();
    for target in [
        "../sentinel/secret".to_string(),
        s.sentinel.join("secret").to_str().unwrap().to_string(),
    ] {
        let mut t = Vec::new();
        raw_entry(&mut t, "hl", tar::EntryType::Link, &target, b"");
        let e = s.extract(&finish(t)).unwrap_err();
        assert!(unsafe_refusal(&e), "{target}: {e:#}");
        s.assert_untouched();
    }
    // Through a symlinked directory: resolved inside dest, where the target does not exist.
    let mut t = Vec::new();
    raw_entry(
        &mut t,
        "s",
        tar::EntryType::Symlink,
        s.sentinel.to_str().unwrap(),
        b"",
    );
    raw_entry(&mut t, "hl", tar::EntryType::Link, "s/secret", b"");
    assert!(s.extract(&finish(t)).is_err());
    s.assert_untouched();
    // A hardlink to a symlink links the symlink itself, never its target.
    let mut t = Vec::new();
    raw_entry(
        &mut t,
        "sl",
        tar::EntryType::Symlink,
        s.sentinel.join("secret").to_str().unwrap(),
        b"",
    );
    raw_entry(&mut t, "hl2", tar::EntryType::Link, "sl", b"");
    s.extract(&finish(t)).unwrap();
    s.assert_untouched();
    assert!(fs::symlink_metadata(s.dest.join("hl2"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn bad_whiteouts_are_refused_and_overlay_xattrs_dropped() {
    let s = Sandbox::new();
    let mut t = Vec::new();
    raw_entry(&mut t, "x/.wh...", tar::EntryType::Regular, "", b"");
    let e = s.extract(&finish(t)).unwrap_err();
    assert!(unsafe_refusal(&e), "{e:#}");
    let mut t = Vec::new();
    raw_entry(&mut t, "../.wh.sentinel", tar::EntryType::Regular, "", b"");
    assert!(s.extract(&finish(t)).is_err());
    s.assert_untouched();

    // A layer cannot smuggle overlay xattrs (e.g. a redirect) into a snapshot.
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([
        ("SCHILY.xattr.trusted.overlay.redirect", &b"/etc"[..]),
        ("SCHILY.xattr.user.ok", b"1"),
    ])
    .unwrap();
    // uid/gid/mtime left empty on purpose: Go reads empty numeric fields as 0, and so do we.
    let mut h = tar::Header::new_ustar();
    h.set_path("dir/").unwrap();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let tar = b.into_inner().unwrap();
    s.extract(&tar).unwrap();
    assert!(getxattr(&s.dest.join("dir"), "trusted.overlay.redirect").is_none());
    assert_eq!(
        getxattr(&s.dest.join("dir"), "user.ok").as_deref(),
        Some(&b"1"[..])
    );
}

// ---- compression ------------------------------------------------------------------------

#[test]
fn compressed_layers_extract_with_the_same_diff_id() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    populate(&src);
    let w = layer::write(&src, t.path(), &WriteOptions::default()).unwrap();

    let paths = vec![w.path.clone(), w.path.clone(), w.path.clone()];
    for c in [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Uncompressed,
    ] {
        let blobs = layer::compress_many(&paths, t.path(), c, None);
        let blobs: Vec<_> = blobs.into_iter().map(Result::unwrap).collect();
        // Deterministic: the same tar compresses to the same blob every time.
        assert!(blobs.iter().all(|b| b.digest == blobs[0].digest));
        let data = fs::read(&blobs[0].path).unwrap();
        assert_eq!(Digest::of(&data), blobs[0].digest);
        assert_eq!(data.len() as u64, blobs[0].size);

        let dest = t.path().join(format!("dest-{c}"));
        fs::create_dir(&dest).unwrap();
        let got = layer::extract(
            &data[..],
            &dest,
            &ExtractOptions {
                expected_diff_id: Some(w.diff_id),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(got.diff_id, w.diff_id);
        assert_eq!(got.blob_digest, blobs[0].digest);
        assert_eq!(describe(&dest), describe(&src));
    }
}

#[test]
fn diff_id_mismatch_is_reported() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("f"), b"f").unwrap();
    let (_, _, tar) = layer::write_to(t.path(), Vec::new(), &WriteOptions::default()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let wrong = Digest::of(b"not this");
    let e = layer::extract(
        &gz[..],
        dest.path(),
        &ExtractOptions {
            expected_diff_id: Some(wrong),
            ..Default::default()
        },
    )
    .unwrap_err();
    match e.downcast_ref::<ExtractError>() {
        Some(ExtractError::DiffIdMismatch { expected, actual }) => {
            assert_eq!(*expected, wrong);
            assert_eq!(*actual, Digest::of(&tar));
        }
        other => panic!("unexpected error {other:?}: {e:#}"),
    }
    // Trailing bytes after the end-of-archive marker are part of the diffID.
    let mut padded = tar.clone();
    padded.extend_from_slice(&[0u8; 8192]);
    let mut r = &padded[..];
    let dest2 = tempfile::tempdir().unwrap();
    let got = layer::extract(&mut r, dest2.path(), &ExtractOptions::default()).unwrap();
    assert_eq!(got.diff_id, Digest::of(&padded));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn gnu_tar_reads_our_layers_identically() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    populate(&src);
    let w = layer::write(&src, t.path(), &WriteOptions::default()).unwrap();
    let dest = t.path().join("gnu");
    fs::create_dir(&dest).unwrap();
    let out = std::process::Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf"])
        .arg(&w.path)
        .arg("-C")
        .arg(&dest)
        .output()
        .expect("GNU tar (Debian package `tar`)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(describe(&src), describe(&dest));
}

/// Timing of write / extract / compress on a real tree. Not a correctness test:
/// `BENCH_DIR=/some/tree cargo test --release --test layer bench -- --ignored --nocapture`
#[test]
#[ignore = "benchmark; needs BENCH_DIR"]
fn bench_layer_pipeline() {
    let src = PathBuf::from(std::env::var("BENCH_DIR").expect("BENCH_DIR"));
    let t = tempfile::tempdir_in(src.parent().unwrap()).unwrap();
    let time = |what: &str, f: &mut dyn FnMut()| {
        let start = std::time::Instant::now();
        f();
        eprintln!("{what}: {:.2?}", start.elapsed());
    };
    let mut w = None;
    time("write (tar + sha256)", &mut || {
        w = Some(layer::write(&src, t.path(), &WriteOptions::default()).unwrap());
    });
    let w = w.unwrap();
    eprintln!("  tar size {} MB", w.size / 1_000_000);
    let dest = t.path().join("x");
    fs::create_dir(&dest).unwrap();
    time("extract (plain)", &mut || {
        layer::extract(
            fs::File::open(&w.path).unwrap(),
            &dest,
            &ExtractOptions::default(),
        )
        .unwrap();
    });
    for c in [Compression::Gzip, Compression::Zstd] {
        time(&format!("compress {c}"), &mut || {
            let b = layer::compress_file(&w.path, t.path(), c, None).unwrap();
            eprintln!("  {c} size {} MB", b.size / 1_000_000);
        });
    }
    let paths = vec![w.path.clone(), w.path.clone()];
    time("compress_many gzip ×2 (both cores)", &mut || {
        for r in layer::compress_many(&paths, t.path(), Compression::Gzip, None) {
            r.unwrap();
        }
    });
}
