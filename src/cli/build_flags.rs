//! `builder build`'s value flags turned into what the plan and engine take:
//! `--build-arg`, `--label`, `--secret`, `--ssh`, `--add-host`, `--shm-size`
//! (docker/buildx spellings).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

pub(super) fn parse_build_args(raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in raw {
        super::validate::check_build_arg(a)?;
        match a.split_once('=') {
            Some(("", _)) => bail!("--build-arg {a}: the name is empty (expected NAME=VALUE)"),
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            // `--build-arg NAME` takes the value from the environment, as docker does.
            None => {
                if let Ok(v) = std::env::var(a) {
                    out.insert(a.clone(), v);
                }
            }
        }
    }
    Ok(out)
}

/// `--label KEY=VALUE` or `--label KEY` (an empty value), as buildx's
/// `listToMap(labels, false)`; an empty key is refused with buildx's words
/// (`invalid key-value pair "=x": empty key`).
pub(super) fn parse_labels(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|l| match l.split_once('=') {
            Some(("", _)) => bail!("--label {l:?}: invalid key-value pair {l:?}: empty key"),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None if l.is_empty() => bail!("--label: invalid key-value pair \"\": empty key"),
            None => Ok((l.to_string(), String::new())),
        })
        .collect()
}

/// One `--secret` as buildx's `util/buildflags.Secret.UnmarshalText` reads
/// it: CSV fields `id=`, `src=`/`source=` (a file), `env=` (a variable),
/// `type=file|env` (with `type=env`, `src=` names the variable); keys are
/// case-insensitive. Errors: a field that is not KEY=VALUE, an unknown key,
/// a type other than file/env (buildx's messages).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretSpec {
    /// `id=`: the id `RUN --mount=type=secret,id=` asks for.
    pub id: String,
    /// A file to read.
    pub file: Option<String>,
    /// An environment variable to read.
    pub env: Option<String>,
}

impl SecretSpec {
    /// Parses one `--secret` value.
    pub fn parse(spec: &str) -> Result<SecretSpec> {
        let mut s = SecretSpec::default();
        let mut kind = None;
        for field in spec.split(',') {
            let (k, v) = field.split_once('=').ok_or_else(|| {
                anyhow!("--secret {spec}: invalid field '{field}' must be a key=value pair")
            })?;
            match k.to_ascii_lowercase().as_str() {
                "type" => match v {
                    "file" | "env" => kind = Some(v.to_string()),
                    other => bail!(
                        "--secret {spec}: unsupported secret type {other:?} (use type=file or \
                         type=env)"
                    ),
                },
                "id" => s.id = v.to_string(),
                "src" | "source" => s.file = Some(v.to_string()),
                "env" => s.env = Some(v.to_string()),
                other => bail!(
                    "--secret {spec}: unexpected key '{other}' in '{field}' (use id, type, src or env)"
                ),
            }
        }
        if kind.as_deref() == Some("env") && s.env.is_none() {
            s.env = s.file.take();
        }
        // BuildKit's secretsprovider.NewStore: an id is required; with no
        // source, a variable named like the id if one is set, else a file.
        if s.id.is_empty() {
            bail!("--secret {spec}: secret missing ID (give id=NAME)");
        }
        if s.file.is_none() && s.env.is_none() {
            if std::env::var_os(&s.id).is_some() {
                s.env = Some(s.id.clone());
            } else {
                s.file = Some(s.id.clone());
            }
        }
        Ok(s)
    }
}

/// `--secret` values read into their contents by id (a later one with the
/// same id replaces the earlier, as buildx's `removeSecretDupes`).
pub(super) fn parse_secrets(raw: &[String]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for spec in raw.iter().filter(|s| !s.is_empty()) {
        let s = SecretSpec::parse(spec)?;
        let content = match (&s.env, &s.file) {
            (Some(var), _) => std::env::var(var)
                .map_err(|_| anyhow!("--secret {spec}: environment variable {var} is not set"))?
                .into_bytes(),
            // Only a regular file, at most BuildKit's MaxSecretSize (500 KiB).
            (None, Some(path)) => crate::context::regular::read_regular(
                Path::new(path),
                "secret file",
                crate::context::regular::MAX_SECRET_BYTES,
            )
            .with_context(|| format!("--secret id={}: reading {path}", s.id))?,
            (None, None) => unreachable!("SecretSpec::parse sets a source"),
        };
        out.insert(s.id, content);
    }
    Ok(out)
}

/// `--add-host NAME:IP` or `NAME=IP` (IP may be `[v6]` and a comma list),
/// as buildx's `toBuildkitExtraHosts`; returns (name, IP) pairs in order.
/// `host-gateway` is refused: it names the Docker daemon's bridge, and
/// builder has no daemon.
pub fn parse_add_hosts(raw: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for h in raw {
        let (host, ip) = h
            .split_once('=')
            .or_else(|| h.split_once(':'))
            .filter(|(host, ip)| !host.is_empty() && !ip.is_empty())
            .ok_or_else(|| anyhow!("--add-host {h}: invalid host (expected NAME:IP or NAME=IP)"))?;
        if ip == "host-gateway" {
            bail!(
                "--add-host {h}: host-gateway is not supported: it is the Docker daemon's \
                 gateway address and builder runs without one; give the IP"
            );
        }
        for v in ip.split(',') {
            let v = v
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .unwrap_or(v);
            v.parse::<std::net::IpAddr>()
                .map_err(|_| anyhow!("--add-host {h}: invalid host: {v:?} is not an IP address"))?;
            out.push((host.to_string(), v.to_string()));
        }
    }
    Ok(out)
}

/// `--shm-size`: a size as Docker's `units.RAMInBytes` reads it (`64m`,
/// `1g`, `512MiB`, `1.5g`, a plain number of bytes; multiples of 1024,
/// case-insensitive). `0` means the default (64 MiB), as in buildx.
pub fn parse_shm_size(v: &str) -> Result<Option<u64>> {
    let bad = || anyhow!("--shm-size {v}: invalid size (e.g. 64m, 1g or a number of bytes)");
    let t = v.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit
        .strip_suffix('b')
        .unwrap_or(&unit)
        .trim_end_matches('i');
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let bytes = (num * (1u64 << shift) as f64) as u64;
    Ok((bytes > 0).then_some(bytes))
}

/// `--ssh default` (from `SSH_AUTH_SOCK`) or `--ssh ID=SOCKET`.
pub(super) fn parse_ssh(raw: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for spec in raw {
        let (id, path) = match spec.split_once('=') {
            Some((id, p)) => (id.to_string(), PathBuf::from(p)),
            None => (
                spec.clone(),
                std::env::var_os("SSH_AUTH_SOCK")
                    .map(PathBuf::from)
                    .ok_or_else(|| anyhow!("--ssh {spec}: SSH_AUTH_SOCK is not set"))?,
            ),
        };
        out.insert(id, path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_reads_them() {
        assert_eq!(parse_shm_size("64m").unwrap(), Some(64 << 20));
        assert_eq!(parse_shm_size("1G").unwrap(), Some(1 << 30));
        assert_eq!(parse_shm_size("512MiB").unwrap(), Some(512 << 20));
        assert_eq!(parse_shm_size("2048").unwrap(), Some(2048));
        assert_eq!(parse_shm_size("0").unwrap(), None);
        assert!(parse_shm_size("lots").is_err());
        assert!(parse_shm_size("12x").is_err());
    }

    #[test]
    fn hosts_as_buildx_reads_them() {
        let h = parse_add_hosts(&["a:1.2.3.4".into(), "b=[::1]".into(), "c:::2".into()]).unwrap();
        assert_eq!(
            h,
            [("a", "1.2.3.4"), ("b", "::1"), ("c", "::2")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert!(parse_add_hosts(&["x:host-gateway".into()]).is_err());
        assert!(parse_add_hosts(&["x".into()]).is_err());
        assert!(parse_add_hosts(&["x:notanip".into()]).is_err());
    }

    #[test]
    fn secrets_as_buildx_reads_them() {
        let s = SecretSpec::parse("type=env,id=tok,src=MY_VAR").unwrap();
        assert_eq!(s.env.as_deref(), Some("MY_VAR"));
        assert_eq!(s.file, None);
        let s = SecretSpec::parse("ID=a,SOURCE=/f").unwrap();
        assert_eq!((s.id.as_str(), s.file.as_deref()), ("a", Some("/f")));
        assert!(SecretSpec::parse("id=a,type=vault").is_err());
        assert!(SecretSpec::parse("src=/f").is_err());
        assert!(SecretSpec::parse("id=a,foo=b").is_err());
    }
}
