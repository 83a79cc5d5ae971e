//! Base images and archives for COPY/ADD tests: a merged-/usr rootfs with
//! every kind of symlink a destination can meet, small tar archives.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A merged-/usr rootfs (`/bin -> usr/bin`) with every kind of symlink a
/// destination can meet: absolute and relative, to a directory, to a file,
/// dangling. The same tree Docker was given as its base (an image built
/// FROM scratch with these links) when the layers below were recorded.
pub fn merged_usr_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("merged");
    super::run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(super::busybox_rootfs(concat!(
                "busybox-for-",
                env!("CARGO_CRATE_NAME")
            )))
            .arg(&root),
    );
    for e in fs::read_dir(root.join("bin")).unwrap() {
        let e = e.unwrap();
        let to = root.join("usr/bin").join(e.file_name());
        if fs::symlink_metadata(&to).is_err() {
            fs::rename(e.path(), to).unwrap();
        }
    }
    fs::remove_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("usr/lib/sub")).unwrap();
    fs::write(root.join("etc/afile"), "hello\n").unwrap();
    for (link, target) in [
        ("bin", "usr/bin"),
        ("abslib", "/usr/lib"),
        ("usr/rellib", "../usr/lib"),
        ("absfile", "/etc/afile"),
        ("relfile", "etc/afile"),
        ("absdang", "/nowhere"),
        ("reldang", "nowhere-rel"),
    ] {
        symlink(target, root.join(link)).unwrap();
    }
    root
}

/// A tar archive of `(name, is_dir)` entries (files hold "x\n").
pub fn tar_archive(path: &Path, entries: &[(&str, bool)]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, dir) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(1000);
        if *dir {
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
    b.finish().unwrap();
}
