//! Go modules compiled into Go binaries, from the build info the Go
//! linker embeds (the `.go.buildinfo` section; Go's `debug/buildinfo`):
//! a 32-byte header starting `\xff Go buildinf:` (16-byte aligned), then,
//! for Go >= 1.18 (header flag bit 2), the Go version and the module info
//! as uvarint-length-prefixed strings. The module info is Go's
//! `runtime/debug.BuildInfo` text between two 16-byte sentinels: tab-separated
//! lines `path`, `mod PATH VERSION SUM`, `dep PATH VERSION SUM`, and `=> PATH
//! VERSION SUM` replacing the dep before it (unless it is a local directory). Binaries of older Go (pointer
//! based build info) are not read.
//!
//! Packages as syft lists them: each dependency and the main module as
//! `pkg:golang/PATH@VERSION`, and the toolchain as `pkg:golang/stdlib@X.Y.Z`.

use std::path::Path;

use super::Package;

const MAGIC: &[u8] = b"\xff Go buildinf:";
const FLAGS_VERSION_INLINE: u8 = 0x2;

/// A module of a binary's build info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Module path (`golang.org/x/text`).
    pub path: String,
    /// Version (`v0.14.0`, `(devel)` for an untagged main module).
    pub version: String,
}

/// A Go binary's build info: its toolchain and modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// `go1.19.8`.
    pub go_version: String,
    /// The main module (`mod` line), if the binary was built in module mode.
    pub main: Option<Module>,
    /// Dependencies (`dep` lines, with `=>` replacements applied).
    pub deps: Vec<Module>,
}

/// Reads a uvarint-length-prefixed string at `at`; returns it and the
/// offset after it.
fn varint_string(b: &[u8], mut at: usize) -> Option<(&[u8], usize)> {
    let (mut n, mut shift) = (0u64, 0u32);
    loop {
        let byte = *b.get(at)?;
        at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = at.checked_add(usize::try_from(n).ok()?)?;
    Some((b.get(at..end)?, end))
}

/// The build info in the bytes of an executable, if it is a Go >= 1.18
/// binary: the first 16-byte-aligned header whose flags say inline strings.
pub fn parse(bin: &[u8]) -> Option<BuildInfo> {
    let mut from = 0;
    let header = loop {
        let at = from + memchr::memmem::find(bin.get(from..)?, MAGIC)?;
        if at % 16 == 0 && bin.len() >= at + 32 {
            break at;
        }
        from = at + 1;
    };
    if bin[header + 15] & FLAGS_VERSION_INLINE == 0 {
        return None;
    }
    let (version, next) = varint_string(bin, header + 32)?;
    let (modinfo, _) = varint_string(bin, next)?;
    // Sentinels: 16 bytes before and after the text (cmd/go's modinfo).
    let text = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        &modinfo[16..modinfo.len() - 16]
    } else {
        modinfo
    };
    let mut info = BuildInfo {
        go_version: String::from_utf8_lossy(version).into_owned(),
        main: None,
        deps: Vec::new(),
    };
    for line in String::from_utf8_lossy(text).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let module = || {
            Some(Module {
                path: f.get(1)?.to_string(),
                version: f.get(2).unwrap_or(&"").to_string(),
            })
        };
        match f[0] {
            "mod" => info.main = module(),
            "dep" => info.deps.extend(module()),
            // A replacement by a local directory (`=> ../fork`) has no
            // module path or version to name: the required module stays.
            "=>" if f
                .get(1)
                .is_some_and(|p| p.starts_with('.') || p.starts_with('/')) => {}
            "=>" => {
                if let (Some(last), Some(m)) = (info.deps.last_mut(), module()) {
                    *last = m;
                }
            }
            _ => {}
        }
    }
    Some(info)
}

/// Whether the file at `path` may be a Go binary worth reading: a regular,
/// executable ELF file.
fn is_elf_executable(path: &Path) -> bool {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 || meta.len() < 64 {
        return false;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

fn package(m: &Module, loc: &str) -> Package {
    Package {
        name: m.path.clone(),
        version: m.version.clone(),
        purl: super::purl("golang", None, &m.path, &m.version, &[]),
        kind: "go-module",
        location: loc.to_string(),
        supplier: None,
        source_info: format!("acquired package info from go module information: {loc}"),
    }
}

/// The Go modules of the binary at `path` (`loc` is its path in the
/// image); empty for anything else.
pub fn binary(path: &Path, loc: &str) -> Vec<Package> {
    if !is_elf_executable(path) {
        return Vec::new();
    }
    let Some(info) = super::read_small(path).and_then(|b| parse(&b)) else {
        return Vec::new();
    };
    let mut out: Vec<Package> = info
        .main
        .iter()
        .chain(&info.deps)
        .map(|m| package(m, loc))
        .collect();
    if let Some(v) = info.go_version.strip_prefix("go") {
        // `go1.21.0 X:boringcrypto` and the like: the version is the first word.
        let v = v.split_whitespace().next().unwrap_or(v);
        out.push(package(
            &Module {
                path: "stdlib".into(),
                version: v.to_string(),
            },
            loc,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vstr(s: &[u8]) -> Vec<u8> {
        let mut out = vec![s.len() as u8 | 0x80, (s.len() >> 7) as u8];
        out.extend_from_slice(s);
        out
    }

    #[test]
    fn inline_build_info() {
        let mut bin = vec![0u8; 48];
        let mut hdr = MAGIC.to_vec();
        hdr.extend_from_slice(&[8, FLAGS_VERSION_INLINE]);
        hdr.resize(32, 0);
        bin.extend(hdr);
        bin.extend(vstr(b"go1.19.8"));
        let mut modinfo = vec![b'x'; 16];
        modinfo.extend_from_slice(
            b"path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n\
              dep\tgolang.org/x/text\tv0.3.0\th1:x=\n=>\tgolang.org/x/text\tv0.3.8\th1:y=\n",
        );
        modinfo.extend_from_slice(&[b'y'; 16]);
        bin.extend(vstr(&modinfo));
        let info = parse(&bin).unwrap();
        assert_eq!(info.go_version, "go1.19.8");
        assert_eq!(info.main.unwrap().version, "(devel)");
        assert_eq!(
            info.deps,
            vec![Module {
                path: "golang.org/x/text".into(),
                version: "v0.3.8".into()
            }]
        );
        // A length running past the end is refused, not a panic.
        let n = bin.len();
        assert!(parse(&bin[..n - 20]).is_none());
    }
}
