//! What one sandboxed run needs: the rootfs, the process, the user, the
//! network mode and extra mounts. The spec crosses a process boundary (the
//! parent hands it to the `__sandbox-child` helper as JSON), so every type
//! here is plain serde data.

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Docker's default `PATH`, used to find `argv[0]` when the env has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to run one command in a sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSpec {
    /// The root filesystem the command sees.
    pub rootfs: RootFs,
    /// The command and its arguments; `argv[0]` is looked up in `PATH`
    /// inside the new root when it has no `/`.
    pub argv: Vec<String>,
    /// The environment, `KEY=value` each.
    pub env: Vec<String>,
    /// Working directory inside the root; created (owned by `user`) if missing.
    pub cwd: String,
    /// Who the command runs as.
    pub user: User,
    /// Hostname inside the new UTS namespace.
    pub hostname: String,
    /// Host network or a new empty network namespace.
    pub network: Network,
    /// Extra mounts (`RUN --mount=…`), applied in order.
    pub mounts: Vec<Mount>,
    /// Generated `/etc` files bound into the root.
    pub etc: EtcFiles,
    /// `RUN --security=insecure` (allowed by `--allow security.insecure`):
    /// every capability, no seccomp filter, device nodes openable.
    #[serde(default)]
    pub insecure: bool,
    /// How `builder run` attaches to the command (RUN steps: not at all).
    #[serde(default)]
    pub attach: Attach,
}

/// What `builder run` passes to the command, as `docker run` does; a RUN
/// step gets none of it (stdin `/dev/null`, killed on a stop signal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attach {
    /// SIGINT, SIGTERM, SIGHUP and SIGQUIT reaching the helper are sent on
    /// to the command (docker's `--sig-proxy`) instead of killing it; the
    /// helper then runs in its own process group, so a terminal's Ctrl-C
    /// reaches the command once, through builder.
    pub forward_signals: bool,
    /// The command's stdin is builder's (`docker run -i`), passed to the
    /// helper as fd [`ATTACH_STDIN_FD`].
    pub stdin: bool,
}

/// The helper's fd holding builder's stdin when [`Attach::stdin`] is set.
pub const ATTACH_STDIN_FD: i32 = 3;

/// The root filesystem of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RootFs {
    /// `overlay(lowerdir=lowers, upperdir=upper, workdir=work)`; `lowers` is
    /// the snapshot chain, top layer first. Every change lands in `upper`.
    /// The overlay is `volatile` (no sync at unmount): if the helper is
    /// killed, discard `upper` and `work` — the kernel refuses to mount that
    /// work dir again — and run the step anew.
    Overlay {
        /// Read-only layers, top first (may be empty: `FROM scratch`).
        lowers: Vec<PathBuf>,
        /// Where writes land (the step's diff).
        upper: PathBuf,
        /// Overlay's scratch dir, on the same filesystem as `upper`.
        work: PathBuf,
    },
    /// A ready directory used as the root as it is; writes land in it.
    Dir(PathBuf),
    /// The chroot level: a materialised directory the command is
    /// `chroot`ed into, with no namespaces and no mounts (see
    /// [`chroot`](super::chroot)).
    Chroot(PathBuf),
}

impl RootFs {
    /// The directory where the run's writes land (mount points the sandbox
    /// created are removed from here afterwards).
    pub fn write_dir(&self) -> &PathBuf {
        match self {
            RootFs::Overlay { upper, .. } => upper,
            RootFs::Dir(dir) | RootFs::Chroot(dir) => dir,
        }
    }
}

/// Numeric identity of the process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids (setgroups).
    pub additional_gids: Vec<u32>,
}

/// Network mode of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Network {
    /// A new network namespace with `lo` and a tap device that slirp4netns
    /// connects to the outside (see `sandbox::network`); BuildKit's default
    /// `sandbox` mode. The chroot level cannot make one and shares the host's.
    #[default]
    Sandbox,
    /// Share the host's network namespace (`--network host`, which a build
    /// allows only with `--allow network.host`).
    Host,
    /// A new network namespace with only `lo`, brought up.
    None,
}

/// One extra mount of a run (BuildKit's `RUN --mount` kinds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Mount {
    /// A host path (a file or dir) at `target`. With `readonly: false` the
    /// command may write, but writes go to a throwaway overlay upper and are
    /// discarded when the run ends (BuildKit's `type=bind,rw`).
    Bind {
        /// Host path.
        source: PathBuf,
        /// Absolute path inside the root.
        target: String,
        /// Mount read-only.
        readonly: bool,
    },
    /// A fresh tmpfs at `target`.
    Tmpfs {
        /// Absolute path inside the root.
        target: String,
        /// Size limit in bytes (kernel default when `None`).
        size: Option<u64>,
    },
    /// A persistent host dir bound read-write (BuildKit's `type=cache`);
    /// the caller owns its creation, sharing and locking.
    Cache {
        /// Host dir.
        source: PathBuf,
        /// Absolute path inside the root.
        target: String,
        /// Mount read-only.
        readonly: bool,
    },
    /// A file with `content` at `target` (read-only mount). The content only
    /// lives in memory (a tmpfs private to the run).
    Secret {
        /// Absolute path inside the root.
        target: String,
        /// The secret bytes.
        content: SecretBytes,
        /// File mode (BuildKit's default is 0400).
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// An SSH agent socket (host path) bound at `target`.
    Ssh {
        /// Host path of the agent socket.
        socket: PathBuf,
        /// Absolute path inside the root.
        target: String,
    },
}

impl Mount {
    /// The absolute path inside the root this mount covers.
    pub fn target(&self) -> &str {
        match self {
            Mount::Bind { target, .. }
            | Mount::Tmpfs { target, .. }
            | Mount::Cache { target, .. }
            | Mount::Secret { target, .. }
            | Mount::Ssh { target, .. } => target,
        }
    }

    /// A secret with BuildKit's defaults: mode 0400, owned by root.
    pub fn secret(target: impl Into<String>, content: impl Into<Vec<u8>>) -> Mount {
        Mount::Secret {
            target: target.into(),
            content: SecretBytes(content.into()),
            mode: 0o400,
            uid: 0,
            gid: 0,
        }
    }
}

/// Secret bytes: never printed by `Debug`, base64 in the JSON hand-off.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Vec<u8>);

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(SecretBytes)
            .map_err(serde::de::Error::custom)
    }
}

/// Contents of the generated `/etc/resolv.conf`, `/etc/hosts` and
/// `/etc/hostname`; `None` leaves the image's file alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EtcFiles {
    /// `/etc/resolv.conf`.
    pub resolv_conf: Option<String>,
    /// `/etc/hosts`.
    pub hosts: Option<String>,
    /// `/etc/hostname`.
    pub hostname: Option<String>,
}

impl EtcFiles {
    /// BuildKit-like defaults: hosts mapping `hostname` to loopback, the
    /// hostname file, and resolv.conf derived from `host_resolv_conf` (the
    /// host's file) with loopback name servers dropped — they would point at
    /// nothing inside the sandbox — falling back to Google DNS as Docker does.
    pub fn defaults(hostname: &str, host_resolv_conf: &str) -> EtcFiles {
        EtcFiles {
            resolv_conf: Some(filter_resolv_conf(host_resolv_conf)),
            hosts: Some(format!(
                "127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            )),
            hostname: Some(format!("{hostname}\n")),
        }
    }
}

impl EtcFiles {
    /// The files that are set, as (name under `/etc`, content).
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        [
            ("resolv.conf", &self.resolv_conf),
            ("hosts", &self.hosts),
            ("hostname", &self.hostname),
        ]
        .into_iter()
        .filter_map(|(n, c)| c.as_deref().map(|c| (n, c)))
        .collect()
    }
}

/// Drops loopback `nameserver` lines; adds 8.8.8.8/8.8.4.4 when none is left.
fn filter_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted_and_roundtrips() {
        let m = Mount::secret("/run/secrets/token", b"s3cr3t".to_vec());
        assert!(!format!("{m:?}").contains("s3cr3t"));
        let json = serde_json::to_string(&m).unwrap();
        assert!(!json.contains("s3cr3t"));
        let back: Mount = serde_json::from_str(&json).unwrap();
        match back {
            Mount::Secret { content, mode, .. } => {
                assert_eq!(content.0, b"s3cr3t");
                assert_eq!(mode, 0o400);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn resolv_conf_drops_loopback() {
        let r = filter_resolv_conf("search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n");
        assert_eq!(r, "search lan\nnameserver 10.0.0.1\n");
        let r = filter_resolv_conf("nameserver 127.0.0.1\n");
        assert!(r.contains("nameserver 8.8.8.8"));
    }

    #[test]
    fn etc_defaults_name_the_host() {
        let e = EtcFiles::defaults("buildkitsandbox", "nameserver 1.1.1.1\n");
        assert!(e
            .hosts
            .unwrap()
            .contains("127.0.0.1\tlocalhost buildkitsandbox"));
        assert_eq!(e.hostname.unwrap(), "buildkitsandbox\n");
    }
}
