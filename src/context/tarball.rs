//! Extracting a build context sent as a tar stream (`builder build - < ctx.tar`).
//!
//! Like Docker, the stream may be plain or compressed with gzip, bzip2, xz or
//! zstd (detected by magic bytes). Entries are extracted into a private
//! directory: absolute names are made relative, names with `..` are refused,
//! and writes through symlinks that point outside are refused by the tar
//! crate's `unpack_in` checks. Symlinks are kept as symlinks.

use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path};

use super::error::{ContextError, Result};

/// Wraps `reader` in the decompressor its first bytes call for.
pub fn decompress<'r>(reader: impl Read + 'r) -> Result<Box<dyn Read + 'r>> {
    let mut buf = BufReader::with_capacity(256 * 1024, reader);
    let head = buf
        .fill_buf()
        .map_err(|e| ContextError::io(Path::new("<context stream>"), e))?
        .to_vec();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(buf))
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::read::MultiBzDecoder::new(buf))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Box::new(xz2::read::XzDecoder::new_multi_decoder(buf))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let dec = zstd::stream::read::Decoder::with_buffer(buf)
            .map_err(|e| ContextError::io(Path::new("<context stream>"), e))?;
        Box::new(dec)
    } else {
        Box::new(buf)
    })
}

/// Checks an entry name and returns it relative (leading `/` dropped).
fn safe_relative(name: &Path) -> Result<std::path::PathBuf> {
    let mut out = std::path::PathBuf::new();
    for comp in name.components() {
        match comp {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(ContextError::UnsafeTarEntry {
                    entry: name.display().to_string(),
                })
            }
            Component::Normal(c) => out.push(c),
        }
    }
    Ok(out)
}

/// Extracts a (possibly compressed) tar stream into `dst`, which must exist.
pub fn extract(reader: impl Read, dst: &Path) -> Result<()> {
    let stream = decompress(reader)?;
    let mut archive = tar::Archive::new(stream);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    archive.set_preserve_ownerships(nix::unistd::geteuid().is_root());
    let tar_err = |e| ContextError::io(Path::new("<context tar>"), e);
    // Directories last, so read-only modes do not block their own contents.
    let mut directories = Vec::new();
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let name = entry.path().map_err(tar_err)?.into_owned();
        let rel = safe_relative(&name)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_hard_link() {
            if let Some(target) = entry.link_name().map_err(tar_err)? {
                safe_relative(&target)?;
            }
        }
        if kind.is_dir() {
            directories.push(entry);
            continue;
        }
        let unpacked = entry
            .unpack_in(dst)
            .map_err(|e| ContextError::io(&dst.join(&rel), e))?;
        if !unpacked {
            return Err(ContextError::UnsafeTarEntry {
                entry: name.display().to_string(),
            });
        }
    }
    directories.sort_by(|a, b| b.path_bytes().cmp(&a.path_bytes()));
    for mut dir in directories {
        let name = dir.path().map_err(tar_err)?.into_owned();
        dir.unpack_in(dst)
            .map_err(|e| ContextError::io(&dst.join(&name), e))?;
    }
    Ok(())
}
