//! The metadata a COPY gives an entry that differs from its source's, as BuildKit 0.13's
//! copier and Docker 26.1's context transfer leave it: file types of devices, and times of
//! build-context files.

use std::fs;
use std::os::unix::fs::MetadataExt;

use nix::sys::time::TimeSpec;

use super::copy::CopyOptions;

/// The file type bits (`S_IFMT`) a COPY recreates a non-regular file with: fsutil's
/// `copyDevice` (BuildKit 0.13) clears `S_IFSOCK`'s bits from the source's, which turns a
/// block device (`S_IFBLK`, 0o060000) into a character device (0o020000) with the same
/// device number; recorded with Docker 26.1 (parity 275). Fifos and character devices keep
/// their type. ADD's archive extraction is not a copy and keeps block devices.
pub(crate) fn copied_device_kind(st_mode: u32) -> u32 {
    let kind = st_mode & libc::S_IFMT;
    if kind == libc::S_IFBLK {
        libc::S_IFCHR
    } else {
        kind
    }
}

/// A copied entry's time (seconds, nanoseconds) from its source's: a build-context file's
/// (`!opts.preserve_owner`) goes through [`context_time`], a stage's or an image's is kept.
pub(crate) fn copied_time(secs: i64, nsecs: i64, opts: &CopyOptions) -> (i64, i64) {
    if opts.preserve_owner {
        (secs, nsecs)
    } else {
        context_time(secs, nsecs)
    }
}

/// The access and modification times a copy of `meta`'s entry gets (see [`copied_time`]).
pub(crate) fn copied_times(meta: &fs::Metadata, opts: &CopyOptions) -> (TimeSpec, TimeSpec) {
    let (a, an) = copied_time(meta.atime(), meta.atime_nsec(), opts);
    let (m, mn) = copied_time(meta.mtime(), meta.mtime_nsec(), opts);
    (TimeSpec::new(a, an), TimeSpec::new(m, mn))
}

/// The time a build-context file has once in BuildKit, in (seconds, nanoseconds): Docker
/// 26.1's client sends it as int64 Unix nanoseconds (fsutil's `Stat.ModTime`), which wrap
/// after 2262-04-11, and the daemon's ext4 holds nothing before 1901-12-13 (-2^31 s), where
/// the wrapped time lands. Recorded: a year-2300 file arrives as -2147483648 (parity 268);
/// times in 1901–2262 are kept as they are.
pub(crate) fn context_time(secs: i64, nsecs: i64) -> (i64, i64) {
    const NS: i64 = 1_000_000_000;
    let total = secs.wrapping_mul(NS).wrapping_add(nsecs);
    let (s, ns) = (total.div_euclid(NS), total.rem_euclid(NS));
    if s < i64::from(i32::MIN) {
        (i64::from(i32::MIN), 0)
    } else {
        (s, ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_times_wrap_as_unix_nanoseconds() {
        assert_eq!(context_time(1_500_000_000, 7), (1_500_000_000, 7));
        assert_eq!(context_time(-86_400, 0), (-86_400, 0));
        assert_eq!(context_time(9_223_372_036, 0), (9_223_372_036, 0));
        // Past 2262 the nanoseconds wrap into the 1700s, which ext4 holds as 1901-12-13.
        assert_eq!(context_time(9_223_372_037, 0), (-2_147_483_648, 0));
        assert_eq!(context_time(10_413_792_000, 0), (-2_147_483_648, 0));
        // Before 1678 they wrap forward (a filesystem holding 1600 at all sends 2184).
        assert_eq!(context_time(-11_676_096_000, 0).0, 6_770_648_073);
    }
}
