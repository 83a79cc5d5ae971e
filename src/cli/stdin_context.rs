//! `builder build -`: stdin holds either the context (a tar, maybe
//! compressed) or, as in `docker build - < Dockerfile`, just a Dockerfile
//! and no context. Like the docker CLI (`build.GetContextFromReader`), the
//! first 512 bytes decide: a compression magic or a tar header means a
//! context archive.

use std::io::Read;

use anyhow::{Context as _, Result};

/// What `-` on stdin turned out to be.
pub enum StdinContext {
    /// A Dockerfile; the build has an empty context.
    Dockerfile(Vec<u8>),
    /// A context archive: the bytes read so far (to be chained before the
    /// rest of stdin).
    Archive(Vec<u8>),
}

/// Reads up to 512 bytes of stdin and tells which it is; a Dockerfile is
/// read to its end.
pub fn read() -> Result<StdinContext> {
    let mut stdin = std::io::stdin().lock();
    let mut head = Vec::with_capacity(512);
    (&mut stdin)
        .take(512)
        .read_to_end(&mut head)
        .context("reading stdin")?;
    if is_archive(&head) {
        return Ok(StdinContext::Archive(head));
    }
    stdin
        .read_to_end(&mut head)
        .context("reading the Dockerfile from stdin")?;
    Ok(StdinContext::Dockerfile(head))
}

/// gzip, bzip2, xz or zstd magic, or a ustar/GNU tar header.
fn is_archive(head: &[u8]) -> bool {
    const MAGICS: [&[u8]; 4] = [
        &[0x1f, 0x8b],
        b"BZh",
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ];
    MAGICS.iter().any(|m| head.starts_with(m)) || head.get(257..262) == Some(b"ustar")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tells_tars_from_dockerfiles() {
        assert!(!super::is_archive(b"FROM busybox\nRUN true\n"));
        assert!(super::is_archive(&[0x1f, 0x8b, 8, 0]));
        let mut h = tar::Header::new_ustar();
        h.set_path("Dockerfile").unwrap();
        h.set_cksum();
        assert!(super::is_archive(h.as_bytes()));
    }
}
