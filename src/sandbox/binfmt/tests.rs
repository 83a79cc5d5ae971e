//! Tests of reading binfmt_misc registrations: Debian's qemu-user-static
//! entries mapped to platforms, and registrations refused (no `F` flag,
//! disabled).

use super::*;

// Debian 12's qemu-user-static registrations as the kernel prints them.
const AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\
    flags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n\
    mask ffffffffffffff00fffffffffffffffffeffffff\n";
const MIPS: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/mips-binfmt-P\nflags: PF\n\
    offset 0\nmagic 7f454c46010201000000000000000000000200080000000000000000000000000000000000000000\n\
    mask ffffffffffffff00fefffffffffffffffffeffff0000000000000000000000000000000000000020\n";

fn probe(entries: &[(&str, &str)]) -> Probe {
    Probe {
        dir: PathBuf::from(BINFMT_DIR),
        mounted: true,
        enabled: true,
        registrations: entries
            .iter()
            .filter_map(|(n, t)| Registration::parse(n, t))
            .collect(),
    }
}

#[test]
fn maps_debian_registrations_to_platforms() {
    let host = Platform::new("linux", "amd64", "");
    let p = probe(&[("qemu-aarch64", AARCH64), ("qemu-mips", MIPS)]);
    let arm64 = Platform::new("linux", "arm64", "");
    assert!(matches!(p.runner(&arm64, &host), Ok(Runner::Emulated(r)) if r.name == "qemu-aarch64"));
    let mips = Platform::new("linux", "mips", "");
    assert!(matches!(p.runner(&mips, &host), Ok(Runner::Emulated(r)) if r.name == "qemu-mips"));
    assert_eq!(p.runner(&host, &host), Ok(Runner::Native));
    let i386 = Platform::new("linux", "386", "");
    assert_eq!(p.runner(&i386, &host), Ok(Runner::Native));
    let e = p
        .runner(&Platform::new("linux", "arm", "v7"), &host)
        .unwrap_err();
    assert!(matches!(e, NotRunnable::NotRegistered { .. }), "{e}");
    assert!(
        e.to_string().contains("update-binfmts --enable qemu-arm"),
        "{e}"
    );
    let names: Vec<String> = p
        .runnable(&host)
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    assert_eq!(
        names,
        ["linux/amd64", "linux/386", "linux/arm64", "linux/mips"]
    );
}

#[test]
fn refuses_without_fix_binary_or_when_disabled() {
    let host = Platform::new("linux", "amd64", "");
    let arm64 = Platform::new("linux", "arm64", "");
    let no_f = AARCH64.replace("flags: PF", "flags: P");
    let e = probe(&[("qemu-aarch64", &no_f)])
        .runner(&arm64, &host)
        .unwrap_err();
    assert!(matches!(e, NotRunnable::NoFixBinary { .. }), "{e}");
    assert!(e.to_string().contains("F (fix-binary)"), "{e}");
    let off = AARCH64.replace("enabled\n", "disabled\n");
    let e = probe(&[("qemu-aarch64", &off)])
        .runner(&arm64, &host)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("update-binfmts --enable qemu-aarch64"),
        "{e}"
    );
    let mut p = probe(&[]);
    p.mounted = false;
    let e = p.runner(&arm64, &host).unwrap_err();
    assert!(e.to_string().contains("mount -t binfmt_misc"), "{e}");
    let e = p
        .runner(&Platform::new("windows", "arm64", ""), &host)
        .unwrap_err();
    assert!(matches!(e, NotRunnable::Unsupported { .. }), "{e}");
}
