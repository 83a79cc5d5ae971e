//! `builder build`'s value flags turned into what the plan and engine take:
//! `--build-arg`, `--label`, `--secret`, `--ssh` (docker/buildx spellings).

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

pub(super) fn parse_labels(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|l| match l.split_once('=') {
            Some(("", _)) => bail!("--label {l}: the key is empty (expected KEY=VALUE)"),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => bail!("--label {l}: expected KEY=VALUE"),
        })
        .collect()
}

/// `--secret id=X,src=FILE|env=VAR` (also `source=`, `type=file|env`).
pub(super) fn parse_secrets(raw: &[String]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for spec in raw {
        let mut id = None;
        let mut src = None;
        let mut env = None;
        for field in spec.split(',') {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| anyhow!("--secret {spec}: expected key=value fields"))?;
            match k {
                "id" => id = Some(v.to_string()),
                "src" | "source" => src = Some(v.to_string()),
                "env" => env = Some(v.to_string()),
                "type" => {}
                other => bail!("--secret: unknown field {other}"),
            }
        }
        let id = id
            .or_else(|| src.clone().or_else(|| env.clone()))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| anyhow!("--secret {spec}: needs a non-empty id="))?;
        let content = match (src, env) {
            // Only a regular file, at most BuildKit's MaxSecretSize (500 KiB).
            (Some(path), _) => crate::context::regular::read_regular(
                Path::new(&path),
                "secret file",
                crate::context::regular::MAX_SECRET_BYTES,
            )
            .with_context(|| format!("--secret id={id}: reading {path}"))?,
            (None, Some(var)) => std::env::var(&var)
                .map_err(|_| anyhow!("--secret id={id}: environment variable {var} is not set"))?
                .into_bytes(),
            (None, None) => std::env::var(&id)
                .map_err(|_| anyhow!("--secret id={id}: give src=FILE or env=VAR"))?
                .into_bytes(),
        };
        out.insert(id, content);
    }
    Ok(out)
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
