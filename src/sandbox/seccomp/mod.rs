//! The seccomp filter of a RUN: Docker's default profile ([`profile`]),
//! compiled to classic BPF with `seccompiler` and installed by the sandbox
//! init as the last step before `execve` (before the switch to the RUN's
//! user, which would drop the CAP_SYS_ADMIN that installing a filter
//! without `no_new_privs` needs; every syscall after it is in the profile).
//!
//! `no_new_privs` stays unset, as in Docker: setuid binaries of the image
//! still work.
//!
//! The program dispatches on the architecture of each syscall:
//! - the native one (x86_64 or aarch64);
//! - on x86_64 also i386 (`int 0x80`, 32-bit images such as `linux/386`
//!   run natively), as Docker's `archMap` does. x32 syscalls arrive as
//!   x86_64 with bit 30 set and match no rule: EPERM (Docker allows them);
//! - any other architecture (aarch64's 32-bit arm, which Docker allows)
//!   kills the process, as libseccomp's default bad-arch action does. A
//!   foreign-architecture RUN under QEMU user emulation is unaffected: the
//!   filter sees QEMU's native syscalls.
//!
//! `clone3` fails with ENOSYS without CAP_SYS_ADMIN (glibc and musl then
//! use `clone`, whose namespace flags the filter can see), as in Docker's
//! profile; seccompiler has one match action, so that rule is a short BPF
//! prefix of each architecture's section.

mod profile;
mod table_aarch64;
mod table_i386;
mod table_x86_64;

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};
use caps::Capability;
use seccompiler::{
    sock_filter, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// What the filter allows beyond the profile's fixed part.
#[derive(Debug, Clone)]
pub struct Options {
    /// The bounding set the command runs with: the profile's
    /// capability-dependent rules follow it (Docker's default set for RUN).
    pub caps: Vec<Capability>,
    /// Refuse `mknod` of character and block devices (except the 0:0
    /// overlay whiteout) with EPERM. The chroot level sets it: it has no
    /// mounts, so a `nodev` root cannot stop a created node from being
    /// opened.
    pub deny_device_nodes: bool,
}

/// An architecture the filter has a section for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    I386,
    Aarch64,
}

impl Arch {
    /// `AUDIT_ARCH_*` as in `seccomp_data.arch`.
    fn audit(self) -> u32 {
        match self {
            Arch::X86_64 => 0xC000_003E,
            Arch::I386 => 0x4000_0003,
            Arch::Aarch64 => 0xC000_00B7,
        }
    }

    fn table(self) -> &'static [(&'static str, i64)] {
        match self {
            Arch::X86_64 => table_x86_64::SYSCALLS,
            Arch::I386 => table_i386::SYSCALLS,
            Arch::Aarch64 => table_aarch64::SYSCALLS,
        }
    }

    /// The syscall number of `name` here, if the architecture has it.
    pub fn number(self, name: &str) -> Option<i64> {
        let t = self.table();
        t.binary_search_by(|(n, _)| n.cmp(&name))
            .ok()
            .map(|i| t[i].1)
    }

    /// The architectures a filter for this machine covers, native first.
    pub fn host() -> &'static [Arch] {
        if cfg!(target_arch = "x86_64") {
            &[Arch::X86_64, Arch::I386]
        } else {
            &[Arch::Aarch64]
        }
    }
}

// Classic BPF opcodes and `seccomp_data` offsets (linux/filter.h, linux/seccomp.h).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
/// seccompiler starts each program with its own architecture check of
/// this many instructions (load, compare, kill); the dispatcher replaces it.
const SECCOMPILER_ARCH_CHECK: usize = 3;
/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: BPF_JMP_JEQ_K,
        jt,
        jf,
        k,
    }
}

/// The BPF program for `arches` (the first is checked first).
pub fn program(arches: &[Arch], opts: &Options) -> Result<Vec<sock_filter>> {
    let sections = arches
        .iter()
        .map(|a| section(*a, opts))
        .collect::<Result<Vec<_>>>()?;
    // Dispatcher: per architecture `jeq arch; ja section`, then kill.
    let mut out = vec![stmt(BPF_LD_W_ABS, DATA_ARCH)];
    let head_len = 1 + 2 * arches.len() + 1;
    let mut offset = head_len;
    for (i, arch) in arches.iter().enumerate() {
        out.push(jeq(arch.audit(), 0, 1));
        // `ja k` jumps k instructions past the next one.
        let here = out.len() + 1;
        out.push(stmt(BPF_JMP_JA, (offset - here) as u32));
        offset += sections[i].len();
    }
    out.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    for s in sections {
        out.extend(s);
    }
    if out.len() >= MAX_INSNS {
        bail!(
            "the seccomp program has {} instructions, the kernel takes fewer than {MAX_INSNS}",
            out.len()
        );
    }
    Ok(out)
}

/// One architecture's rules: the clone3 prefix, then seccompiler's chain
/// without its own architecture check.
fn section(arch: Arch, opts: &Options) -> Result<Vec<sock_filter>> {
    let has = |c: Capability| opts.caps.contains(&c);
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut allow = |name: &str, rule: Option<SeccompRule>| {
        let Some(nr) = arch.number(name) else { return };
        match rule {
            // An empty chain matches unconditionally.
            None => {
                rules.insert(nr, Vec::new());
            }
            // A conditional rule adds nothing to an unconditional allow.
            Some(r) => match rules.get_mut(&nr) {
                Some(chain) if chain.is_empty() => {}
                Some(chain) => chain.push(r),
                None => {
                    rules.insert(nr, vec![r]);
                }
            },
        }
    };
    let mut names: Vec<&str> = profile::ALLOW.to_vec();
    match arch {
        Arch::X86_64 => names.extend(profile::ALLOW_X86.iter().chain(profile::ALLOW_X86_64)),
        Arch::I386 => names.extend(profile::ALLOW_X86),
        Arch::Aarch64 => names.extend(profile::ALLOW_ARM),
    }
    for (cap, list) in profile::BY_CAPABILITY {
        if has(*cap) {
            names.extend(list.iter());
        }
    }
    let device_rules = opts.deny_device_nodes;
    for name in names {
        if device_rules && (name == "mknod" || name == "mknodat") {
            continue;
        }
        allow(name, None);
    }
    let cond = |idx: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, v: u64| {
        SeccompCondition::new(idx, len, op, v).context("building a seccomp condition")
    };
    let rule = |c: Vec<SeccompCondition>| SeccompRule::new(c).context("building a seccomp rule");
    use SeccompCmpArgLen::{Dword, Qword};
    // `socket(2)` on i386 also goes through `socketcall`, which the profile
    // allows whole; the domain check applies to the direct call.
    allow(
        "socket",
        Some(rule(vec![cond(
            0,
            Dword,
            SeccompCmpOp::Ne,
            profile::SOCKET_DENIED_DOMAIN,
        )?])?),
    );
    for p in profile::PERSONALITIES {
        allow(
            "personality",
            Some(rule(vec![cond(0, Dword, SeccompCmpOp::Eq, *p)?])?),
        );
    }
    if !has(Capability::CAP_SYS_ADMIN) {
        allow(
            "clone",
            Some(rule(vec![cond(
                0,
                Qword,
                SeccompCmpOp::MaskedEq(profile::CLONE_NAMESPACE_FLAGS),
                0,
            )?])?),
        );
    }
    if device_rules {
        let s_ifmt = libc::S_IFMT as u64;
        // (mode index, dev index) of mknod(path, mode, dev) and mknodat(dirfd, path, mode, dev).
        for (name, m, d) in [("mknod", 1u8, 2u8), ("mknodat", 2, 3)] {
            for kind in [0, libc::S_IFREG, libc::S_IFIFO, libc::S_IFSOCK] {
                let c = cond(m, Dword, SeccompCmpOp::MaskedEq(s_ifmt), kind as u64)?;
                allow(name, Some(rule(vec![c])?));
            }
            let whiteout = vec![
                cond(
                    m,
                    Dword,
                    SeccompCmpOp::MaskedEq(s_ifmt),
                    libc::S_IFCHR as u64,
                )?,
                cond(d, Dword, SeccompCmpOp::Eq, 0)?,
            ];
            allow(name, Some(rule(whiteout)?));
        }
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(profile::DEFAULT_ERRNO),
        SeccompAction::Allow,
        // Only used for seccompiler's architecture check, which is cut off.
        TargetArch::x86_64,
    )
    .context("building the seccomp filter")?;
    let body: Vec<sock_filter> = seccompiler::BpfProgram::try_from(filter)
        .context("compiling the seccomp filter")?
        .split_off(SECCOMPILER_ARCH_CHECK);
    let mut out = Vec::with_capacity(body.len() + 3);
    match arch.number("clone3") {
        Some(nr) if !has(Capability::CAP_SYS_ADMIN) => {
            out.push(stmt(BPF_LD_W_ABS, DATA_NR));
            out.push(jeq(nr as u32, 0, 1));
            out.push(stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32));
        }
        _ => {}
    }
    out.extend(body);
    Ok(out)
}

/// Installs the filter for this machine's architectures on the calling
/// thread, without setting `no_new_privs` (needs CAP_SYS_ADMIN in the
/// current user namespace). Everything the thread does afterwards, exec
/// included, is filtered.
///
/// Without CAP_SYS_ADMIN (level 3 in a container with Docker's or
/// containerd's default profile, which is why no other level works there):
/// when the process is already filtered, that outer filter (inherited and
/// stacked, the same profile) confines the RUN and nothing is added; when
/// it is not, the filter is installed with `no_new_privs` set, the only way
/// the kernel allows, and setuid binaries then run without their owner.
pub fn apply(opts: &Options) -> Result<()> {
    let prog = program(Arch::host(), opts)?;
    let sys_admin =
        caps::has_cap(None, caps::CapSet::Effective, Capability::CAP_SYS_ADMIN).unwrap_or(false);
    if !sys_admin {
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) } == 2 {
            return Ok(());
        }
        // SAFETY: as above.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error()).context("setting no_new_privs");
        }
    }
    install(&prog)
}

/// Installs a compiled program (no allocation: callable in a forked child).
pub fn install(prog: &[sock_filter]) -> Result<()> {
    // seccompiler's `sock_filter` is `#[repr(C)]` with the kernel's layout
    // (the same fields as `libc::sock_filter`).
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies the program, which outlives the call; the
    // pointer cast is between identical layouts.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("installing the seccomp filter");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
