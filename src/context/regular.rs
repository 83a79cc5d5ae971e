//! Reading small files the build takes whole (the Dockerfile, `.dockerignore`, secrets):
//! only regular files, only up to a size bound.
//!
//! A FIFO named by `-f` would block `open` until a writer came (a hang); a device such as
//! `/dev/zero` never ends; a socket cannot be opened at all. So the path is `stat`ed first and
//! anything but a regular file (after symlinks) is refused with an error naming it, and the
//! open itself is non-blocking in case the path changed in between. Sizes are bounded before
//! reading and again while reading (the file may grow).

use std::io::Read;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

use super::error::{ContextError, Result};

/// The largest Dockerfile read (32 MiB): 100,000 instructions take about 3 MiB.
pub const MAX_DOCKERFILE_BYTES: u64 = crate::dockerfile::limits::MAX_DOCKERFILE_BYTES as u64;

/// The largest `.dockerignore` read (8 MiB).
pub const MAX_DOCKERIGNORE_BYTES: u64 = 8 << 20;

/// The largest secret (`--secret src=…`): BuildKit's `MaxSecretSize`, 500 KiB.
pub const MAX_SECRET_BYTES: u64 = 500 * 1024;

/// What kind of file `ft` is, in words, for errors.
pub fn kind_name(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

/// The bytes of the regular file at `path` (symlinks followed), at most `max` of them.
/// `what` names the file in errors ("Dockerfile", ".dockerignore", …). Errors: not found or
/// unreadable ([`ContextError::Io`], `NotFound` kept as the source's kind), not a regular
/// file ([`ContextError::NotRegular`]), larger than `max` ([`ContextError::TooLarge`]).
pub fn read_regular(path: &Path, what: &str, max: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| ContextError::io(path, e))?;
    check(path, what, max, &meta)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| ContextError::io(path, e))?;
    // The path may have been replaced since the stat: check what was opened.
    let meta = file.metadata().map_err(|e| ContextError::io(path, e))?;
    check(path, what, max, &meta)?;
    read_limited(file, path, what, max)
}

/// Reads at most `max` bytes of `reader` (stdin, an opened file): more is
/// [`ContextError::TooLarge`].
pub fn read_limited(reader: impl Read, path: &Path, what: &str, max: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ContextError::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(too_large(path, what, max));
    }
    Ok(bytes)
}

/// Opens the regular file at `path` for reading without following a final symlink and
/// without blocking: a context file that was regular when listed but is now a FIFO or a
/// device (replaced during the build) is an error naming it, never a blocked `open` or an
/// endless read.
pub fn open_regular_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file (changed during the build?)",
                path.display(),
                kind_name(ft)
            ),
        ));
    }
    Ok(file)
}

fn check(path: &Path, what: &str, max: u64, meta: &std::fs::Metadata) -> Result<()> {
    if !meta.file_type().is_file() {
        return Err(ContextError::NotRegular {
            what: what.to_string(),
            path: path.to_path_buf(),
            kind: kind_name(meta.file_type()),
        });
    }
    if meta.len() > max {
        return Err(too_large(path, what, max));
    }
    Ok(())
}

fn too_large(path: &Path, what: &str, max: u64) -> ContextError {
    ContextError::TooLarge {
        what: what.to_string(),
        path: path.to_path_buf(),
        limit: max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_special_files_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let e = read_regular(&fifo, "Dockerfile", 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a FIFO") && e.contains("fifo"), "{e}");
        let e = read_regular(dir.path(), "Dockerfile", 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), "Dockerfile", 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a character device"), "{e}");
        let sock = dir.path().join("sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = read_regular(&sock, "Dockerfile", 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a socket"), "{e}");
    }

    #[test]
    fn bounds_size() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"0123456789").unwrap();
        assert_eq!(read_regular(&f, "x", 10).unwrap(), b"0123456789");
        let e = read_regular(&f, "Dockerfile", 9).unwrap_err().to_string();
        assert!(e.contains("larger than 9 bytes"), "{e}");
        let e = read_limited(&b"0123456789"[..], Path::new("-"), "Dockerfile", 9).unwrap_err();
        assert!(matches!(e, ContextError::TooLarge { limit: 9, .. }));
    }
}
