//! Materialise + diff on real directories (as root: whiteouts are 0:0
//! character devices, made with mknod).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::{tree, EtcFiles, Flat};

fn write(p: &Path, content: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

fn whiteout(p: &Path) {
    nix::sys::stat::mknod(
        p,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
}

fn opaque(p: &Path) -> bool {
    tree::is_opaque(p).unwrap()
}

#[test]
fn the_chain_is_merged_as_overlayfs_shows_it() {
    let d = tempfile::tempdir().unwrap();
    let (low, up) = (d.path().join("low"), d.path().join("up"));
    write(&low.join("a/old"), "1");
    write(&low.join("b/hidden"), "2");
    write(&low.join("keep"), "3");
    write(&up.join("b/new"), "4");
    crate::layer::xattrs::set(&up.join("b"), b"user.overlay.opaque", b"y").unwrap();
    whiteout(&up.join("keep"));
    write(&up.join("a/added"), "5");
    let flat = Flat::prepare(&[up, low], &d.path().join("root")).unwrap();
    let r = flat.root();
    assert!(r.join("a/old").exists() && r.join("a/added").exists());
    assert!(
        !r.join("b/hidden").exists(),
        "opaque dir hides the lower one"
    );
    assert!(r.join("b/new").exists());
    assert!(
        fs::symlink_metadata(r.join("keep")).is_err(),
        "whiteout deletes"
    );
}

#[test]
fn changes_become_an_overlay_upper_dir() {
    let d = tempfile::tempdir().unwrap();
    let low = d.path().join("low");
    write(&low.join("dir/f"), "x");
    write(&low.join("dir/g"), "y");
    write(&low.join("same"), "s");
    write(&low.join("untouched/u"), "u");
    write(&low.join("rep/child"), "c");
    let flat = Flat::prepare(std::slice::from_ref(&low), &d.path().join("root")).unwrap();
    let r = flat.root().to_path_buf();
    fs::write(r.join("dir/f"), "changed").unwrap();
    fs::remove_file(r.join("dir/g")).unwrap();
    // Rewritten with the same content and mtime: only the ctime moved.
    let before = fs::symlink_metadata(r.join("same")).unwrap();
    fs::write(r.join("same"), "s").unwrap();
    tree::set_mtime(&r.join("same"), &before).unwrap();
    fs::remove_dir_all(r.join("rep")).unwrap();
    write(&r.join("rep/other"), "o");
    write(&r.join("new/n"), "n");
    let upper = d.path().join("upper");
    fs::create_dir(&upper).unwrap();
    flat.diff_into(&upper).unwrap();

    assert_eq!(fs::read_to_string(upper.join("dir/f")).unwrap(), "changed");
    let wh = fs::symlink_metadata(upper.join("dir/g")).unwrap();
    assert!(tree::is_whiteout(&wh), "deletion is a 0:0 char device");
    assert!(!opaque(&upper.join("dir")), "a changed dir is not opaque");
    assert!(
        !upper.join("same").exists(),
        "same content: not in the layer"
    );
    assert!(!upper.join("untouched").exists());
    assert!(opaque(&upper.join("rep")), "a replaced dir is opaque");
    assert!(upper.join("rep/other").exists());
    assert!(
        !upper.join("rep/child").exists(),
        "no whiteouts under opaque"
    );
    assert!(upper.join("new/n").exists() && !opaque(&upper.join("new")));
    let (a, b) = (
        fs::symlink_metadata(r.join("dir")).unwrap(),
        fs::symlink_metadata(upper.join("dir")).unwrap(),
    );
    assert_eq!(
        (a.mtime(), a.mtime_nsec(), a.mode()),
        (b.mtime(), b.mtime_nsec(), b.mode()),
        "copied-up parents keep their metadata"
    );
}

#[test]
fn etc_files_are_put_back() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    write(&root.join("etc/hosts"), "image hosts\n");
    fs::set_permissions(root.join("etc/hosts"), fs::Permissions::from_mode(0o600)).unwrap();
    let meta = fs::symlink_metadata(root.join("etc/hosts")).unwrap();
    let etc = EtcFiles::install(root, &[("hosts", "gen\n"), ("hostname", "h\n")]).unwrap();
    assert_eq!(fs::read_to_string(root.join("etc/hosts")).unwrap(), "gen\n");
    assert_eq!(
        fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "h\n"
    );
    fs::write(root.join("etc/hosts"), "the RUN wrote this\n").unwrap();
    etc.restore().unwrap();
    let after = fs::symlink_metadata(root.join("etc/hosts")).unwrap();
    assert_eq!(
        fs::read_to_string(root.join("etc/hosts")).unwrap(),
        "image hosts\n"
    );
    assert_eq!(
        (after.mode(), after.mtime(), after.mtime_nsec()),
        (meta.mode(), meta.mtime(), meta.mtime_nsec())
    );
    assert!(!root.join("etc/hostname").exists(), "made for the RUN only");
}
