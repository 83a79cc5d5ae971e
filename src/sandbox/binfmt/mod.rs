//! Running binaries of a foreign architecture: the kernel's `binfmt_misc`
//! registrations of QEMU user emulation (Debian's `qemu-user-static`).
//!
//! A RUN step execs the image's own binaries. When their ELF machine is not
//! the host's, the kernel hands them to the interpreter registered in
//! `/proc/sys/fs/binfmt_misc` whose magic/mask matches the ELF header. The
//! registration must carry the `F` (fix-binary) flag: the kernel then opens
//! the interpreter once, at registration, and uses that open file for every
//! exec — so it works inside a sandbox's root (pivot_root, user namespace,
//! chroot) where the interpreter's path does not exist. Without `F` the path
//! is looked up at exec time inside the image and the exec fails with
//! ENOENT. This module reads the registrations (it never mounts or writes
//! anything: the machine's configuration is the administrator's), maps them
//! to OCI platforms and answers "can this machine run platform P".
//!
//! Source of the magic numbers: the ELF specification (`e_ident`, `e_type`,
//! `e_machine`); of the platform names: the OCI image spec / Go's GOARCH.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::plan::platform::Platform;

/// Where the kernel exposes `binfmt_misc`.
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// One `binfmt_misc` registration (a file under [`BINFMT_DIR`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The registration's name (its file name, e.g. `qemu-aarch64`).
    pub name: String,
    /// True when the entry is enabled (`enabled` line).
    pub enabled: bool,
    /// The interpreter path as registered.
    pub interpreter: PathBuf,
    /// The flags letters (`P`, `O`, `C`, `F`), as the kernel prints them.
    pub flags: String,
    /// Byte offset of the magic in the file.
    pub offset: usize,
    /// The magic bytes (empty for extension entries).
    pub magic: Vec<u8>,
    /// The mask (all ones when the kernel prints none).
    pub mask: Vec<u8>,
}

impl Registration {
    /// Parses the kernel's text for one entry; `None` for an extension
    /// (`extension .jar`) entry or text that is not a registration.
    pub fn parse(name: &str, text: &str) -> Option<Registration> {
        let mut r = Registration {
            name: name.to_string(),
            enabled: false,
            interpreter: PathBuf::new(),
            flags: String::new(),
            offset: 0,
            magic: Vec::new(),
            mask: Vec::new(),
        };
        for line in text.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "enabled" => r.enabled = true,
                "disabled" => r.enabled = false,
                "interpreter" => r.interpreter = PathBuf::from(value),
                "flags:" => r.flags = value.trim().to_string(),
                "offset" => r.offset = value.trim().parse().ok()?,
                "magic" => r.magic = hex::decode(value.trim()).ok()?,
                "mask" => r.mask = hex::decode(value.trim()).ok()?,
                "extension" => return None,
                _ => {}
            }
        }
        if r.magic.is_empty() {
            return None;
        }
        if r.mask.is_empty() {
            r.mask = vec![0xff; r.magic.len()];
        }
        Some(r)
    }

    /// True when the registration has the fix-binary flag.
    pub fn fix_binary(&self) -> bool {
        self.flags.contains('F')
    }

    /// True when an executable starting with `header` would be handed to
    /// this registration's interpreter.
    fn matches(&self, header: &[u8]) -> bool {
        self.magic.iter().enumerate().all(|(i, m)| {
            let mask = self.mask.get(i).copied().unwrap_or(0xff);
            header
                .get(self.offset + i)
                .is_some_and(|h| h & mask == m & mask)
        })
    }
}

/// ELF identity of the executables of one architecture:
/// (GOARCH, class 1=32-bit 2=64-bit, data 1=little 2=big endian, e_machine).
const ELF_ARCHES: &[(&str, u8, u8, u16)] = &[
    ("amd64", 2, 1, 62),
    ("386", 1, 1, 3),
    ("arm64", 2, 1, 183),
    ("arm", 1, 1, 40),
    ("ppc64le", 2, 1, 21),
    ("ppc64", 2, 2, 21),
    ("s390x", 2, 2, 22),
    ("riscv64", 2, 1, 243),
    ("loong64", 2, 1, 258),
    ("mips64le", 2, 1, 8),
    ("mips64", 2, 2, 8),
    ("mipsle", 1, 1, 8),
    ("mips", 1, 2, 8),
];

/// The platforms [`probe`] reports on: every architecture of [`ELF_ARCHES`],
/// arm with the variants images use.
fn known_platforms() -> Vec<Platform> {
    let mut out = Vec::new();
    for (arch, ..) in ELF_ARCHES {
        if *arch == "arm" {
            for v in ["v7", "v6", "v5"] {
                out.push(Platform::new("linux", "arm", v));
            }
        } else {
            out.push(Platform::new("linux", arch, ""));
        }
    }
    out
}

/// The first 64 bytes of an executable (ET_EXEC, o32/lp64 ABI, no flags)
/// of `arch`, or `None` when it is not an ELF architecture known here.
fn elf_header(arch: &str) -> Option<[u8; 64]> {
    let &(_, class, data, machine) = ELF_ARCHES.iter().find(|e| e.0 == arch)?;
    let mut h = [0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = class;
    h[5] = data;
    h[6] = 1; // EV_CURRENT
    let be = data == 2;
    let put16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let put32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    h[16..18].copy_from_slice(&put16(2)); // ET_EXEC
    h[18..20].copy_from_slice(&put16(machine));
    h[20..24].copy_from_slice(&put32(1)); // e_version
    Some(h)
}

/// How a platform's binaries run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// The CPU runs them (the host's platform, or 386 on amd64 in 32-bit
    /// compatibility mode).
    Native,
    /// Through a `binfmt_misc` registration with the `F` flag.
    Emulated(Registration),
}

impl fmt::Display for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Runner::Native => write!(f, "native"),
            Runner::Emulated(r) => write!(
                f,
                "emulated by {} ({}, flags {})",
                r.interpreter.display(),
                r.name,
                r.flags
            ),
        }
    }
}

/// Why this machine cannot run a platform's binaries. Each message says
/// what to install or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotRunnable {
    /// Not a Linux platform, or an architecture without a known ELF identity.
    #[error("{platform}: this machine ({host}) cannot run binaries of this platform (builder runs Linux executables of {known} only, natively or through QEMU user emulation)")]
    Unsupported {
        /// The platform asked for.
        platform: String,
        /// The host's platform.
        host: String,
        /// The architectures known here.
        known: String,
    },
    /// `binfmt_misc` is not mounted.
    #[error("{platform}: running binaries of a foreign architecture needs QEMU user emulation through binfmt_misc, and {dir} is not mounted; as root: `mount -t binfmt_misc binfmt_misc {dir}`, then `apt-get install qemu-user-static binfmt-support` (Debian/Ubuntu) and `update-binfmts --enable`")]
    NotMounted {
        /// The platform asked for.
        platform: String,
        /// The binfmt_misc directory.
        dir: String,
    },
    /// `binfmt_misc` is switched off as a whole.
    #[error("{platform}: binfmt_misc is disabled on this machine ({dir}/status says disabled); as root: `echo 1 > {dir}/status`")]
    Disabled {
        /// The platform asked for.
        platform: String,
        /// The binfmt_misc directory.
        dir: String,
    },
    /// No registration matches the platform's executables.
    #[error("{platform}: no QEMU user emulation is registered for {arch} binaries in {dir}; as root: `apt-get install qemu-user-static binfmt-support` (Debian/Ubuntu; its registrations have the F flag builder needs) and `update-binfmts --enable {qemu}`")]
    NotRegistered {
        /// The platform asked for.
        platform: String,
        /// Its architecture.
        arch: String,
        /// The binfmt_misc directory.
        dir: String,
        /// Debian's registration name (`qemu-aarch64`).
        qemu: String,
    },
    /// The matching registration is disabled.
    #[error("{platform}: the binfmt_misc registration {name} ({interpreter}) is disabled; as root: `update-binfmts --enable {name}` (or `echo 1 > {dir}/{name}`)")]
    EntryDisabled {
        /// The platform asked for.
        platform: String,
        /// The registration.
        name: String,
        /// Its interpreter.
        interpreter: String,
        /// The binfmt_misc directory.
        dir: String,
    },
    /// The matching registration lacks the `F` flag.
    #[error("{platform}: the binfmt_misc registration {name} ({interpreter}, flags {flags:?}) lacks the F (fix-binary) flag, so the kernel would look for {interpreter} inside the image's root, where it does not exist; install Debian's qemu-user-static (registered with F) instead of qemu-user-binfmt, or re-register {name} with F (`update-binfmts --disable {name}`, then write its line with flags F to {dir}/register)")]
    NoFixBinary {
        /// The platform asked for.
        platform: String,
        /// The registration.
        name: String,
        /// Its interpreter.
        interpreter: String,
        /// Its flags.
        flags: String,
        /// The binfmt_misc directory.
        dir: String,
    },
}

/// What `binfmt_misc` holds on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The directory read.
    pub dir: PathBuf,
    /// False when `binfmt_misc` is not mounted there (no `status` file).
    pub mounted: bool,
    /// False when `status` says `disabled`.
    pub enabled: bool,
    /// The magic-number registrations, sorted by name.
    pub registrations: Vec<Registration>,
}

impl Probe {
    /// Reads [`BINFMT_DIR`]. Unreadable entries are skipped (never an error:
    /// the answer is then "not registered", whose message says what to do).
    pub fn read() -> Probe {
        Probe::read_dir(Path::new(BINFMT_DIR))
    }

    fn read_dir(dir: &Path) -> Probe {
        let status = fs::read_to_string(dir.join("status")).ok();
        let mut registrations = Vec::new();
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name == "status" || name == "register" {
                    continue;
                }
                if let Some(r) = fs::read_to_string(e.path())
                    .ok()
                    .and_then(|t| Registration::parse(&name, &t))
                {
                    registrations.push(r);
                }
            }
        }
        registrations.sort_by(|a, b| a.name.cmp(&b.name));
        Probe {
            dir: dir.to_path_buf(),
            mounted: status.is_some(),
            enabled: status.is_some_and(|s| s.trim() == "enabled"),
            registrations,
        }
    }

    /// How `platform`'s binaries run on `host`, or why they cannot.
    pub fn runner(&self, platform: &Platform, host: &Platform) -> Result<Runner, NotRunnable> {
        let platform = platform.clone().normalize();
        let p = platform.to_string();
        let dir = self.dir.display().to_string();
        if platform.os == host.os
            && (platform.architecture == host.architecture
                || (host.architecture == "amd64" && platform.architecture == "386"))
        {
            return Ok(Runner::Native);
        }
        let header = match elf_header(&platform.architecture) {
            Some(h) if platform.os == "linux" => h,
            _ => {
                return Err(NotRunnable::Unsupported {
                    platform: p,
                    host: host.to_string(),
                    known: ELF_ARCHES
                        .iter()
                        .map(|e| e.0)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        };
        if !self.mounted {
            return Err(NotRunnable::NotMounted { platform: p, dir });
        }
        if !self.enabled {
            return Err(NotRunnable::Disabled { platform: p, dir });
        }
        // The kernel tries enabled entries in registration order; any
        // enabled match with F works, so prefer one, then report the best.
        let matching: Vec<&Registration> = self
            .registrations
            .iter()
            .filter(|r| r.matches(&header))
            .collect();
        if let Some(r) = matching.iter().find(|r| r.enabled && r.fix_binary()) {
            return Ok(Runner::Emulated((*r).clone()));
        }
        if let Some(r) = matching.iter().find(|r| r.enabled) {
            return Err(NotRunnable::NoFixBinary {
                platform: p,
                name: r.name.clone(),
                interpreter: r.interpreter.display().to_string(),
                flags: r.flags.clone(),
                dir,
            });
        }
        if let Some(r) = matching.first() {
            return Err(NotRunnable::EntryDisabled {
                platform: p,
                name: r.name.clone(),
                interpreter: r.interpreter.display().to_string(),
                dir,
            });
        }
        Err(NotRunnable::NotRegistered {
            platform: p,
            arch: platform.architecture.clone(),
            dir,
            qemu: format!("qemu-{}", qemu_name(&platform.architecture)),
        })
    }

    /// Every platform this machine can run, native first, with how.
    pub fn runnable(&self, host: &Platform) -> Vec<(Platform, Runner)> {
        let mut out: Vec<(Platform, Runner)> = known_platforms()
            .into_iter()
            .filter_map(|p| self.runner(&p, host).ok().map(|r| (p, r)))
            .collect();
        if !out.iter().any(|(p, _)| p == host) {
            out.push((host.clone(), Runner::Native));
        }
        out.sort_by_key(|(p, r)| (*r != Runner::Native, p != host, p.to_string()));
        out
    }
}

/// `builder info`'s lines: the platforms this machine runs, one a line
/// (`  linux/arm64  emulated by /usr/libexec/qemu-binfmt/aarch64-binfmt-P
/// (qemu-aarch64, flags PF)`), and how to add the others when none is
/// emulated.
pub fn report(probe: &Probe, host: &Platform) -> String {
    let mut s = String::from("platforms:\n");
    let runnable = probe.runnable(host);
    for (p, r) in &runnable {
        s.push_str(&format!("  {:<16} {r}\n", p.to_string()));
    }
    if !runnable.iter().any(|(_, r)| *r != Runner::Native) {
        let why = if !probe.mounted {
            format!("{} is not mounted", probe.dir.display())
        } else if !probe.enabled {
            "binfmt_misc is disabled".to_string()
        } else {
            "no QEMU registration with the F flag".to_string()
        };
        s.push_str(&format!(
            "  (no emulation: {why}; for RUN steps of other platforms, as root: \
             `apt-get install qemu-user-static binfmt-support`, mount binfmt_misc, `update-binfmts --enable`)\n"
        ));
    }
    s
}

/// QEMU's (and Debian's registration) name of a GOARCH.
fn qemu_name(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "386" => "i386",
        "arm64" => "aarch64",
        "loong64" => "loongarch64",
        "mipsle" => "mipsel",
        "mips64le" => "mips64el",
        other => other,
    }
}

/// Checks that binaries of `platform` can run on this machine — natively,
/// or through a `binfmt_misc` QEMU registration that is enabled and has the
/// `F` flag — and says how. Reads [`BINFMT_DIR`] on each call (cheap; a
/// registration may change while builder runs). Errors: [`NotRunnable`],
/// whose message names what to install, mount or enable. Call it before
/// executing anything of a foreign image (a RUN step, `builder run`); a
/// build that only copies files needs no emulation.
pub fn ensure_runnable(platform: &Platform) -> Result<Runner, NotRunnable> {
    Probe::read().runner(platform, &Platform::host())
}

#[cfg(test)]
mod tests;
