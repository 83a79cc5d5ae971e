//! Go modules compiled into Go binaries, from the build info the Go linker
//! embeds ([`exe`]: both the inline layout of Go >= 1.18 and the pointer
//! layout of Go 1.13..1.17). The module info is Go's
//! `runtime/debug.BuildInfo` text: tab-separated lines `path PATH`,
//! `mod PATH VERSION SUM`, `dep PATH VERSION SUM`, `=> PATH VERSION SUM`
//! replacing the dep before it (unless it is a local directory), and
//! (Go >= 1.18) `build KEY=VALUE`, a value Go-quoted when it holds spaces
//! or quotes.
//!
//! Packages as syft 1.0 (the scanner of `docker/buildkit-syft-scanner`
//! when BuildKit 0.13 shipped) lists them, in its `golang` cataloger:
//! - every dependency and the main module as `pkg:golang/PATH@VERSION`,
//!   the path split as syft's `packageURL` splits it: one element is the
//!   name, two are namespace and name, more are namespace (the first two),
//!   name (the third) and the rest as the purl subpath
//!   (`github.com/a/b/v2` → `pkg:golang/github.com/a/b@v2.1.0#v2`);
//!   versions as they are (pseudo-versions, `+incompatible`), path-escaped;
//! - a main module without a `mod` line (`go build file.go`) named by the
//!   `path` line, version `(devel)`;
//! - the main module's `(devel)` replaced as syft's `findMainModuleVersion`
//!   does: a version set with `-ldflags -X …version=X.Y.Z` (or `…tag=`),
//!   else the pseudo-version `v0.0.0-YYYYMMDDhhmmss-REV12` of the
//!   `vcs.revision`/`vcs.time` build settings, else `(devel)` stays
//!   (`@%28devel%29`). syft 1.0 also guessed from semver-like strings in
//!   the binary's bytes; that guess is not made here (it can pick any
//!   version string the program contains, and later syft turns it off);
//! - the toolchain as `pkg:golang/stdlib@X.Y.Z`.

pub mod exe;

use std::path::Path;
use std::sync::LazyLock;

use super::Package;

/// The version Go gives a main module built from a checkout without a tag.
pub const DEVEL: &str = "(devel)";

/// A module of a binary's build info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Module path (`golang.org/x/text`).
    pub path: String,
    /// Version (`v0.14.0`, `(devel)` for an untagged main module).
    pub version: String,
}

/// A Go binary's build info: its toolchain, modules and build settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// `go1.19.8`.
    pub go_version: String,
    /// The main module (`mod` line, else the `path` line with `(devel)`).
    pub main: Option<Module>,
    /// Dependencies (`dep` lines, with `=>` replacements applied).
    pub deps: Vec<Module>,
    /// `build` lines, unquoted (`-ldflags`, `vcs.revision`, …), in order.
    pub settings: Vec<(String, String)>,
}

impl BuildInfo {
    fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The build info in the bytes of an executable, in either layout (see
/// [`exe::read`]); `None` for anything that is not a Go binary.
pub fn parse(bin: &[u8]) -> Option<BuildInfo> {
    exe::read(bin).map(from_raw)
}

/// The build info of raw strings: the module info lines parsed.
fn from_raw(raw: exe::RawBuildInfo) -> BuildInfo {
    let mut info = BuildInfo {
        go_version: raw.version,
        main: None,
        deps: Vec::new(),
        settings: Vec::new(),
    };
    let mut path = None;
    for line in raw.modinfo.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let module = || {
            Some(Module {
                path: f.get(1).filter(|p| !p.is_empty())?.to_string(),
                version: f.get(2).unwrap_or(&"").to_string(),
            })
        };
        match f[0] {
            "path" => path = f.get(1).map(|p| p.to_string()),
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
            "build" => info.settings.extend(line.get(6..).and_then(build_setting)),
            _ => {}
        }
    }
    if info.main.is_none() {
        info.main = path.filter(|p| !p.is_empty()).map(|path| Module {
            path,
            version: DEVEL.into(),
        });
    }
    info
}

/// `KEY=VALUE` of a `build` line, key and value unquoted when quoted
/// (Go's `debug.ParseBuildInfo`); `None` when malformed.
fn build_setting(kv: &str) -> Option<(String, String)> {
    let (key, raw) = if kv.starts_with(['"', '`']) {
        let (key, rest) = go_unquote_prefix(kv)?;
        (key, rest.strip_prefix('=')?)
    } else {
        let (k, v) = kv.split_once('=')?;
        (k.to_string(), v)
    };
    if key.is_empty() {
        return None;
    }
    let value = if raw.starts_with(['"', '`']) {
        go_unquote_prefix(raw)
            .filter(|(_, rest)| rest.is_empty())?
            .0
    } else {
        raw.to_string()
    };
    Some((key, value))
}

/// The Go string literal at the start of `s` (`"…"` with Go's escapes, or
/// a raw `` `…` ``), unquoted, and the text after it.
fn go_unquote_prefix(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix('`') {
        let end = rest.find('`')?;
        return Some((rest[..end].to_string(), &rest[end + 1..]));
    }
    let mut out: Vec<u8> = Vec::new();
    let b = s.as_bytes();
    let mut i = 1;
    let hex = |from: usize, n: usize| -> Option<u32> {
        u32::from_str_radix(s.get(from..from + n)?, 16).ok()
    };
    loop {
        match *b.get(i)? {
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), &s[i + 1..])),
            b'\\' => {
                let (len, bytes): (usize, Vec<u8>) = match *b.get(i + 1)? {
                    c @ (b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v') => {
                        let v = match c {
                            b'a' => 7,
                            b'b' => 8,
                            b'f' => 12,
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            _ => 11,
                        };
                        (2, vec![v])
                    }
                    c @ (b'\\' | b'"' | b'\'') => (2, vec![c]),
                    b'x' => (4, vec![u8::try_from(hex(i + 2, 2)?).ok()?]),
                    b'0'..=b'7' => {
                        let v = u32::from_str_radix(s.get(i + 1..i + 4)?, 8).ok()?;
                        (4, vec![u8::try_from(v).ok()?])
                    }
                    c @ (b'u' | b'U') => {
                        let n = if c == b'u' { 4 } else { 8 };
                        let ch = char::from_u32(hex(i + 2, n)?)?;
                        (2 + n, ch.to_string().into_bytes())
                    }
                    _ => return None,
                };
                out.extend(bytes);
                i += len;
            }
            b'\n' => return None,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// syft's `knownBuildFlagPatterns`: `-X path.version=1.2.3`-like linker
/// flags (Go's regexp `\d`/`\w` are ASCII, spelled out here; the unescaped
/// `.` between the numbers is syft's).
static LDFLAGS_VERSION: LazyLock<[regex::Regex; 2]> = LazyLock::new(|| {
    let re = |s: &str| regex::Regex::new(s).expect("constant pattern");
    [
        re(
            r"(?m)\.([gG]it)?([bB]uild)?[vV]er(sion)?=(\S+/)*(?P<version>v?[0-9]+.[0-9]+.[0-9]+[-0-9A-Za-z_]*)",
        ),
        re(r"(?m)\.([tT]ag)=(\S+/)*(?P<version>v?[0-9]+.[0-9]+.[0-9]+[-0-9A-Za-z_]*)"),
    ]
});

/// The version syft gives a `(devel)` main module (see the module docs);
/// `None` keeps `(devel)`.
fn main_version(info: &BuildInfo) -> Option<String> {
    if let Some(flags) = info.setting("-ldflags") {
        for re in LDFLAGS_VERSION.iter() {
            if let Some(v) = re.captures(flags).and_then(|c| c.name("version")) {
                let v = v.as_str();
                return Some(match v.starts_with('v') {
                    true => v.to_string(),
                    false => format!("v{v}"),
                });
            }
        }
    }
    let rev = info.setting("vcs.revision")?;
    let time = info.setting("vcs.time")?;
    // Go's module.PseudoVersion of major "" and no older version; a time
    // that does not parse is Go's zero time, as syft leaves it.
    let stamp = chrono::DateTime::parse_from_rfc3339(time)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y%m%d%H%M%S")
                .to_string()
        })
        .unwrap_or_else(|_| "00010101000000".into());
    let rev: String = rev.chars().take(12).collect();
    Some(format!("v0.0.0-{stamp}-{rev}"))
}

/// `pkg:golang/…` of a module as syft's `packageURL` writes it (see the
/// module docs for the path split).
pub fn purl(path: &str, version: &str) -> String {
    let f: Vec<&str> = path.split('/').collect();
    let (ns, name, sub) = match f.len() {
        1 => (String::new(), f[0], String::new()),
        2 => (f[0].to_string(), f[1], String::new()),
        _ => (f[..2].join("/"), f[2], f[3..].join("/")),
    };
    let mut out = super::purl("golang", Some(&ns), name, version, &[]);
    if !sub.is_empty() {
        let segs: Vec<String> = sub
            .split('/')
            .map(|s| super::escape(s, super::Part::Path))
            .collect();
        out.push('#');
        out.push_str(&segs.join("/"));
    }
    out
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
        purl: purl(&m.path, &m.version),
        kind: "go-module",
        location: loc.to_string(),
        supplier: None,
        source_info: format!("acquired package info from go module information: {loc}"),
    }
}

/// The packages of a binary's build info found at `loc` in the image.
pub fn packages(info: &BuildInfo, loc: &str) -> Vec<Package> {
    let mut main = info.main.clone();
    if let Some(m) = main.as_mut().filter(|m| m.version == DEVEL) {
        if let Some(v) = main_version(info) {
            m.version = v;
        }
    }
    let mut out: Vec<Package> = info
        .deps
        .iter()
        .chain(main.iter())
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

/// The Go modules of the binary at `path` (`loc` is its path in the
/// image); empty for anything else.
pub fn binary(path: &Path, loc: &str) -> Vec<Package> {
    if !is_elf_executable(path) {
        return Vec::new();
    }
    // Read by ranges, not whole: Go binaries of 90 MB are common.
    let info = std::fs::File::open(path)
        .ok()
        .and_then(|f| exe::read_file(&f))
        .map(from_raw);
    match info {
        Some(info) => packages(&info, loc),
        None => Vec::new(),
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
