//! Device nodes a RUN makes do not open (level 1, `namespaces`).
//!
//! Docker keeps CAP_MKNOD in a RUN and stops the open of any node but its
//! default set with the devices cgroup. builder does the same with mount
//! flags, on cgroup v1 and v2 alike: once the sandbox's mounts are made,
//! every one of them is remounted `nodev`, except the bound default nodes
//! (a mount whose mount point is itself a device node, the
//! [`dev`](super::dev) nodes and the `/dev/null` binds masking `/proc`
//! paths) and devpts (its nodes are the RUN's own ptys). `mknod` still
//! works, as in Docker; an `open` of the node fails with EACCES (Docker's
//! devices cgroup answers EPERM).
//!
//! Level 2 (`rootless`) needs none of this: in a user namespace `mknod` of a
//! device is refused, and the filesystems it mounts are `nodev` by the
//! kernel. Level 3 (`chroot`) has no mounts: its seccomp filter refuses
//! device `mknod` instead (see [`seccomp`](super::seccomp)).

use anyhow::{Context as _, Result};
use nix::mount::{mount, MsFlags};

/// One line of `/proc/self/mountinfo`, the parts used here.
#[derive(Debug, PartialEq, Eq)]
struct MountEntry {
    mount_point: String,
    /// Per-mount options (`rw,nosuid,nodev,relatime`).
    options: String,
    fs_type: String,
}

/// Decodes mountinfo's octal escapes (`\040` for a space, …).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            let v =
                u32::from(d[0] - b'0') * 64 + u32::from(d[1] - b'0') * 8 + u32::from(d[2] - b'0');
            out.push(v as u8);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            Some(MountEntry {
                mount_point: unescape(fields.get(4)?),
                options: fields.get(5)?.to_string(),
                fs_type: fields.get(sep + 1)?.to_string(),
            })
        })
        .collect()
}

/// The flags a bind remount must repeat to keep the mount as it is.
fn kept_flags(options: &str) -> MsFlags {
    let mut f = MsFlags::empty();
    for o in options.split(',') {
        f |= match o {
            "ro" => MsFlags::MS_RDONLY,
            "nosuid" => MsFlags::MS_NOSUID,
            "nodev" => MsFlags::MS_NODEV,
            "noexec" => MsFlags::MS_NOEXEC,
            "noatime" => MsFlags::MS_NOATIME,
            "nodiratime" => MsFlags::MS_NODIRATIME,
            "relatime" => MsFlags::MS_RELATIME,
            _ => MsFlags::empty(),
        };
    }
    f
}

/// Remounts every mount of this mount namespace `nodev`, but the device
/// node binds and devpts. Runs in the sandbox init after the pivot, when
/// all mounts are made.
pub(super) fn seal() -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").context("reading the sandbox's mounts")?;
    for m in parse(&text) {
        if m.fs_type == "devpts" || m.options.split(',').any(|o| o == "nodev") {
            continue;
        }
        // A mount point that is a device node is a bound default node.
        match std::fs::metadata(&m.mount_point) {
            Ok(meta) if meta.file_type().is_char_device() || meta.file_type().is_block_device() => {
                continue
            }
            // Hidden under a later mount on a parent: not reachable.
            Err(_) => continue,
            Ok(_) => {}
        }
        mount(
            None::<&str>,
            m.mount_point.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | kept_flags(&m.options) | MsFlags::MS_NODEV,
            None::<&str>,
        )
        .with_context(|| format!("remounting {} nodev", m.mount_point))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let text = "22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw,lowerdir=a\n\
                    23 22 0:5 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755\n\
                    24 23 0:6 / /dev/pts rw,nosuid,noexec - devpts devpts rw\n\
                    25 22 8:1 /x /mnt/a\\040b ro,nodev - ext4 /dev/sda1 rw\n";
        let m = parse(text);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].mount_point, "/");
        assert_eq!(m[0].fs_type, "overlay");
        assert_eq!(m[2].fs_type, "devpts");
        assert_eq!(m[3].mount_point, "/mnt/a b");
        assert_eq!(
            kept_flags(&m[3].options),
            MsFlags::MS_RDONLY | MsFlags::MS_NODEV
        );
        assert_eq!(kept_flags(&m[1].options), MsFlags::MS_NOSUID);
    }
}
