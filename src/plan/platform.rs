//! Target and build platforms (`os/arch[/variant]`), parsed and normalised
//! the way containerd's `platforms` package does for Docker.

use std::fmt;
use std::str::FromStr;

/// An OCI platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// Operating system (`linux`, `windows`, …).
    pub os: String,
    /// CPU architecture in GOARCH spelling (`amd64`, `arm64`, `arm`, …).
    pub architecture: String,
    /// Architecture variant (`v7` for arm); empty when none.
    pub variant: String,
}

/// A platform string that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse platform {input:?}: {reason}")]
pub struct PlatformError {
    /// The text given.
    pub input: String,
    /// Why it was rejected.
    pub reason: String,
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

impl Platform {
    /// A platform from its parts, normalised.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Self {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.to_string(),
        }
        .normalize()
    }

    /// The platform this process runs on (always Linux for this builder).
    pub fn host() -> Self {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", ""),
            "aarch64" => ("arm64", ""),
            "arm" => ("arm", "v7"),
            "x86" => ("386", ""),
            "powerpc64" => ("ppc64le", ""),
            "s390x" => ("s390x", ""),
            "riscv64" => ("riscv64", ""),
            "loongarch64" => ("loong64", ""),
            other => (other, ""),
        };
        Platform::new("linux", arch, variant)
    }

    /// Parses `os`, `arch`, `os/arch` or `os/arch/variant`, normalising
    /// aliases (`x86_64` → `amd64`, `aarch64` → `arm64`, `arm64/v8` → `arm64`,
    /// `arm` → `arm/v7`, `armhf` → `arm/v7`, `armel` → `arm/v6`, `i386` → `386`).
    pub fn parse(input: &str) -> Result<Self, PlatformError> {
        let err = |reason: &str| PlatformError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = input.split('/').collect();
        for p in &parts {
            if p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
            {
                return Err(err(
                    "invalid platform component; expected os[/arch[/variant]]",
                ));
            }
        }
        let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
        let p = match lower.as_slice() {
            [one] => {
                let os = normalize_os(one);
                if KNOWN_OS.contains(&os.as_str()) {
                    Platform::new(
                        &os,
                        &Platform::host().architecture,
                        &Platform::host().variant,
                    )
                } else {
                    let (arch, variant) = normalize_arch(one, "");
                    if !KNOWN_ARCH.contains(&arch.as_str()) {
                        return Err(err("unknown operating system or architecture"));
                    }
                    Platform::new("linux", &arch, &variant)
                }
            }
            [os, arch] => Platform::new(os, arch, ""),
            [os, arch, variant] => Platform::new(os, arch, variant),
            _ => return Err(err("too many components; expected os[/arch[/variant]]")),
        };
        if !KNOWN_OS.contains(&p.os.as_str()) {
            return Err(err("unknown operating system"));
        }
        if !KNOWN_ARCH.contains(&p.architecture.as_str()) {
            return Err(err("unknown architecture"));
        }
        Ok(p)
    }

    /// The canonical spelling of this platform.
    pub fn normalize(self) -> Self {
        let os = normalize_os(&self.os);
        let (architecture, variant) = normalize_arch(&self.architecture, &self.variant);
        Platform {
            os,
            architecture,
            variant,
        }
    }
}

/// Parses a comma-separated platform list (`linux/amd64,linux/arm64`), each normalised as
/// containerd does (`arm64` = `linux/arm64`, `linux/arm` = `linux/arm/v7`, `x86_64` = `amd64`,
/// …). Duplicates (in any spelling) are dropped, keeping the first; the order given is the
/// order of the image index, as in BuildKit. Errors name the entry that is not a platform.
pub fn parse_list(given: &str) -> Result<Vec<Platform>, PlatformError> {
    let mut out: Vec<Platform> = Vec::new();
    for part in given.split(',') {
        let p = Platform::parse(part.trim())?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Why a `--platform` option cannot be built here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a platform at all.
    #[error("--platform {0}")]
    Invalid(PlatformError),
    /// A platform that is not Linux: builder runs Linux images only.
    #[error(
        "--platform {given}: {platform} is not a Linux platform; builder builds Linux images only"
    )]
    NotLinux {
        /// The option as given.
        given: String,
        /// The offending platform (normalised).
        platform: String,
    },
}

/// Checks the `--platform` option of a build and returns its target platforms in index order
/// ([`parse_list`]), all Linux. A platform other than the host's is accepted: its RUN steps
/// run through QEMU user emulation, checked when the first one runs
/// (`sandbox::binfmt::ensure_runnable`), so a build that only copies files needs none.
pub fn build_targets(given: &str) -> Result<Vec<Platform>, TargetError> {
    let list = parse_list(given).map_err(TargetError::Invalid)?;
    if let Some(p) = list.iter().find(|p| p.os != "linux") {
        return Err(TargetError::NotLinux {
            given: given.to_string(),
            platform: p.to_string(),
        });
    }
    Ok(list)
}

/// The directory name buildx gives a platform's files in a multi-platform
/// `--output type=local`: `linux_amd64`, `linux_arm_v7` (`/` → `_`).
pub fn dir_name(p: &Platform) -> String {
    p.to_string().replace('/', "_")
}

fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".into()
    } else {
        os
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                _ => variant,
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".to_string(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_spellings() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse("linux/arm/7").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse("linux/armel").unwrap().to_string(),
            "linux/arm/v6"
        );
        assert_eq!(
            Platform::parse("Linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(Platform::parse("amd64").unwrap().to_string(), "linux/amd64");
        assert_eq!(Platform::parse("linux").unwrap().os, "linux");
    }

    #[test]
    fn parses_lists_in_order_without_duplicates() {
        let l = parse_list("linux/amd64, arm64,x86_64,linux/arm,linux/aarch64/v8").unwrap();
        let s: Vec<String> = l.iter().map(|p| p.to_string()).collect();
        assert_eq!(s, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
        let e = parse_list("linux/amd64,linux/z80").unwrap_err();
        assert_eq!(e.input, "linux/z80");
        assert!(parse_list("linux/amd64,").is_err());
        assert_eq!(dir_name(&l[2]), "linux_arm_v7");
    }

    #[test]
    fn build_targets_are_linux_only() {
        assert_eq!(
            build_targets("Linux/AMD64,amd64,linux/aarch64").unwrap(),
            [
                Platform::new("linux", "amd64", ""),
                Platform::new("linux", "arm64", "")
            ]
        );
        assert!(matches!(
            build_targets("linux/amd64,windows/amd64"),
            Err(TargetError::NotLinux { ref platform, .. }) if platform == "windows/amd64"
        ));
        assert!(matches!(
            build_targets("linux/z80"),
            Err(TargetError::Invalid(_))
        ));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Platform::parse("").is_err());
        assert!(Platform::parse("linux/amd64/v2/x").is_err());
        assert!(Platform::parse("linux/am d64").is_err());
        assert!(Platform::parse("plan10/amd64").is_err());
        assert!(Platform::parse("linux/z80").is_err());
        assert!(Platform::parse("nonsense").is_err());
    }
}
