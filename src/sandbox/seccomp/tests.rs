use super::*;

fn docker_default() -> Options {
    Options {
        caps: crate::sandbox::process::DEFAULT_CAPS.to_vec(),
        deny_device_nodes: false,
    }
}

/// Runs `probe` in a forked child under the filter; returns its exit code.
/// The child only makes syscalls (no allocation after the fork).
fn under_filter(opts: &Options, probe: fn() -> i32) -> i32 {
    let prog = program(Arch::host(), opts).unwrap();
    // SAFETY: the child calls only async-signal-safe code and _exits.
    match unsafe { libc::fork() } {
        0 => {
            let code = if install(&prog).is_ok() { probe() } else { 99 };
            unsafe { libc::_exit(code) }
        }
        pid => {
            let mut status = 0;
            unsafe { libc::waitpid(pid, &mut status, 0) };
            assert!(libc::WIFEXITED(status), "status {status:#x}");
            libc::WEXITSTATUS(status)
        }
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[test]
fn tables_are_sorted_and_know_the_basics() {
    for arch in [Arch::X86_64, Arch::I386, Arch::Aarch64] {
        assert!(arch.table().windows(2).all(|w| w[0].0 < w[1].0), "{arch:?}");
    }
    assert_eq!(Arch::X86_64.number("read"), Some(0));
    assert_eq!(Arch::I386.number("read"), Some(3));
    assert_eq!(Arch::Aarch64.number("read"), Some(63));
    assert_eq!(Arch::Aarch64.number("open"), None);
}

#[test]
fn program_fits_the_kernel_limit() {
    let p = program(Arch::host(), &docker_default()).unwrap();
    assert!(p.len() < MAX_INSNS, "{}", p.len());
    let chroot = Options {
        deny_device_nodes: true,
        ..docker_default()
    };
    assert!(program(Arch::host(), &chroot).unwrap().len() < MAX_INSNS);
}

#[test]
fn denies_what_docker_denies_and_allows_the_rest() {
    if !caps::has_cap(None, caps::CapSet::Effective, Capability::CAP_SYS_ADMIN).unwrap_or(false) {
        eprintln!("skipped: installing a filter without no_new_privs needs CAP_SYS_ADMIN");
        return;
    }
    // Each probe returns 0 when the syscall got the expected answer, else
    // a distinct code.
    let code = under_filter(&docker_default(), || unsafe {
        if libc::getpid() <= 0 {
            return 1;
        }
        if libc::unshare(libc::CLONE_NEWUSER) != -1 || errno() != libc::EPERM {
            return 2;
        }
        if libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno() != libc::EPERM {
            return 3;
        }
        if libc::syscall(libc::SYS_add_key, 0, 0, 0, 0, 0) != -1 || errno() != libc::EPERM {
            return 4;
        }
        if libc::syscall(libc::SYS_io_uring_setup, 1, 0) != -1 || errno() != libc::EPERM {
            return 5;
        }
        // READ_IMPLIES_EXEC (0x0400000) is not one of the allowed personas.
        if libc::personality(0x0040_0000) != -1 || errno() != libc::EPERM {
            return 6;
        }
        if libc::personality(0xffff_ffff) == -1 {
            return 7;
        }
        if libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0) != -1 || errno() != libc::EPERM {
            return 8;
        }
        let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        if s < 0 {
            return 9;
        }
        libc::close(s);
        if libc::syscall(libc::SYS_clone3, 0, 0) != -1 || errno() != libc::ENOSYS {
            return 10;
        }
        // clone with a namespace flag: denied; a plain fork: allowed.
        let flags = (libc::CLONE_NEWNS | libc::SIGCHLD) as libc::c_ulong;
        if libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) != -1 || errno() != libc::EPERM {
            return 11;
        }
        let pid = libc::fork();
        if pid == 0 {
            libc::_exit(0);
        }
        if pid < 0 || libc::waitpid(pid, std::ptr::null_mut(), 0) != pid {
            return 12;
        }
        if libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            0,
            std::ptr::null(),
        ) != -1
            || errno() != libc::EPERM
        {
            return 13;
        }
        // mknod of a device is Docker's to allow (the devices cgroup or a
        // nodev mount stops the open); the target's parent does not exist.
        let dev = libc::makedev(1, 1);
        let r = libc::mknod(c"/nonexistent/x".as_ptr(), libc::S_IFCHR | 0o600, dev);
        if r != -1 || errno() != libc::ENOENT {
            return 14;
        }
        0
    });
    assert_eq!(code, 0);
}

#[test]
fn chroot_level_refuses_device_nodes_but_not_whiteouts_or_fifos() {
    if !caps::has_cap(None, caps::CapSet::Effective, Capability::CAP_SYS_ADMIN).unwrap_or(false) {
        eprintln!("skipped: installing a filter without no_new_privs needs CAP_SYS_ADMIN");
        return;
    }
    let opts = Options {
        deny_device_nodes: true,
        ..docker_default()
    };
    let code = under_filter(&opts, || unsafe {
        let path = c"/nonexistent/x".as_ptr();
        for (mode, dev) in [
            (libc::S_IFCHR, libc::makedev(1, 1)),
            (libc::S_IFBLK, libc::makedev(8, 0)),
        ] {
            if libc::mknod(path, mode | 0o600, dev) != -1 || errno() != libc::EPERM {
                return 1;
            }
            let r = libc::mknodat(libc::AT_FDCWD, path, mode | 0o600, dev);
            if r != -1 || errno() != libc::EPERM {
                return 2;
            }
        }
        // Allowed kinds reach the filesystem (ENOENT: no parent dir).
        for (mode, dev) in [(libc::S_IFCHR, 0), (libc::S_IFIFO, 0), (libc::S_IFREG, 0)] {
            if libc::mknod(path, mode | 0o600, dev) != -1 || errno() != libc::ENOENT {
                return 3;
            }
        }
        0
    });
    assert_eq!(code, 0);
}
