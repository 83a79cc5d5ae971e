//! `RUN --mount=…` specifications: CSV `key=value` fields with BuildKit's
//! keys, defaults and checks.

use std::fmt;

/// The kind of a RUN mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MountType {
    /// A directory from the build context or another stage/image (default).
    Bind,
    /// A persistent cache directory shared between builds.
    Cache,
    /// An empty in-memory filesystem.
    Tmpfs,
    /// A secret file (or env var) that never reaches a layer.
    Secret,
    /// The SSH agent socket.
    Ssh,
}

impl fmt::Display for MountType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        })
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sharing {
    /// Used by all writers at once (default).
    Shared,
    /// Each writer gets its own copy.
    Private,
    /// Writers wait for each other.
    Locked,
}

/// One parsed `--mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `type=`.
    pub kind: MountType,
    /// `from=`: a stage name or image reference the source comes from.
    pub from: Option<String>,
    /// `source=`/`src=`: path inside `from` (or the context), or secret id.
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`: where it appears in the container.
    pub target: Option<String>,
    /// Read-only (defaults: bind/secret/ssh read-only, cache/tmpfs writable).
    pub readonly: bool,
    /// `size=` of a tmpfs, in bytes.
    pub size_limit: Option<u64>,
    /// `id=` of a cache, secret or ssh mount.
    pub id: Option<String>,
    /// `sharing=` of a cache mount.
    pub sharing: Option<Sharing>,
    /// `required` for secret and ssh mounts.
    pub required: bool,
    /// `env=`: expose a secret as this environment variable.
    pub env: Option<String>,
    /// `mode=` (octal) for cache, secret and ssh mounts.
    pub mode: Option<u32>,
    /// `uid=` for cache, secret and ssh mounts.
    pub uid: Option<u32>,
    /// `gid=` for cache, secret and ssh mounts.
    pub gid: Option<u32>,
}

/// A bad mount: the message and, when known, the field it is about (so a
/// caret can be placed under it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountError {
    /// BuildKit-style reason.
    pub message: String,
    /// The `key=value` field at fault, as written.
    pub field: Option<String>,
}

/// Expands one value; `Ok(None)` means "not known yet" (the plan checks
/// what it can before the base image's environment is known).
pub(crate) type ValueExpander<'a> = dyn FnMut(&str) -> Result<Option<String>, String> + 'a;

const ALL_KEYS: &str =
    "type, from, source, src, target, dst, destination, readonly, ro, readwrite, rw, id, \
sharing, required, size, mode, uid, gid, env";

/// Parses a mount spec. Values the expander defers are not checked, nor are
/// the checks across fields that depend on them.
pub(crate) fn parse_mount(spec: &str, expand: &mut ValueExpander<'_>) -> Result<Mount, MountError> {
    let fields = split_csv(spec).map_err(|message| MountError {
        message,
        field: None,
    })?;
    let mut m = Mount {
        kind: MountType::Bind,
        from: None,
        source: None,
        target: None,
        readonly: false,
        size_limit: None,
        id: None,
        sharing: None,
        required: false,
        env: None,
        mode: None,
        uid: None,
        gid: None,
    };
    let mut ro_auto = true;
    let mut deferred = false;
    for field in &fields {
        let fail = |message: String| MountError {
            message,
            field: Some(field.clone()),
        };
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), v),
            None => {
                match field.to_ascii_lowercase().as_str() {
                    "readonly" | "ro" => {
                        m.readonly = true;
                        ro_auto = false;
                    }
                    "readwrite" | "rw" => {
                        m.readonly = false;
                        ro_auto = false;
                    }
                    "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                        m.required = true
                    }
                    "required" => {
                        return Err(fail(format!(
                            "unexpected key 'required' for mount type '{}'",
                            m.kind
                        )))
                    }
                    _ => {
                        return Err(fail(format!(
                            "invalid field '{field}' must be a key=value pair"
                        )))
                    }
                }
                continue;
            }
        };
        if key == "from" {
            if let Some(i) = value.find('$') {
                if i != value.len() - 1 {
                    return Err(fail(
                        "'from' doesn't support variable expansion, define alias stage instead"
                            .to_string(),
                    ));
                }
            }
        }
        let value = match expand(value).map_err(fail)? {
            Some(v) => v,
            None => {
                deferred = true;
                if !is_known_key(&key) {
                    return Err(fail(format!("unexpected key '{key}' in '{field}'")));
                }
                continue;
            }
        };
        let parse_bool = |v: &str| match v.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" => Some(true),
            "0" | "f" | "false" => Some(false),
            _ => None,
        };
        match key.as_str() {
            "type" => {
                m.kind = match value.to_ascii_lowercase().as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => MountType::Ssh,
                    _ => {
                        return Err(fail(format!(
                    "unsupported mount type {value:?} (expected bind, cache, tmpfs, secret or ssh)"
                )))
                    }
                }
            }
            "from" => m.from = Some(value),
            "source" | "src" => m.source = Some(value),
            "target" | "dst" | "destination" => m.target = Some(value),
            "readonly" | "ro" => {
                m.readonly = parse_bool(&value)
                    .ok_or_else(|| fail(format!("invalid value for {key}: {value}")))?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.readonly = !parse_bool(&value)
                    .ok_or_else(|| fail(format!("invalid value for {key}: {value}")))?;
                ro_auto = false;
            }
            "required" => {
                if !matches!(m.kind, MountType::Secret | MountType::Ssh) {
                    return Err(fail(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.kind
                    )));
                }
                m.required = parse_bool(&value)
                    .ok_or_else(|| fail(format!("invalid value for {key}: {value}")))?;
            }
            "size" => {
                if m.kind != MountType::Tmpfs {
                    return Err(fail(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.kind
                    )));
                }
                m.size_limit = Some(
                    ram_in_bytes(&value)
                        .ok_or_else(|| fail(format!("invalid value for {key}: {value}")))?,
                );
            }
            "id" => m.id = Some(value),
            "sharing" => {
                m.sharing = Some(match value.to_ascii_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => {
                        return Err(fail(format!(
                        "unsupported sharing value {value:?} (expected shared, private or locked)"
                    )))
                    }
                })
            }
            "mode" => {
                m.mode = Some(
                    u32::from_str_radix(&value, 8)
                        .map_err(|_| fail(format!("invalid value {value} for mode")))?,
                )
            }
            "uid" => {
                m.uid = Some(
                    value
                        .parse()
                        .map_err(|_| fail(format!("invalid value {value} for uid")))?,
                )
            }
            "gid" => {
                m.gid = Some(
                    value
                        .parse()
                        .map_err(|_| fail(format!("invalid value {value} for gid")))?,
                )
            }
            "env" => m.env = Some(value),
            _ => {
                return Err(MountError {
                    message: format!(
                        "unexpected key '{key}' in '{field}' (expected one of: {ALL_KEYS})"
                    ),
                    field: Some(field.clone()),
                })
            }
        }
    }
    if deferred {
        return Ok(m);
    }
    let plain = |message: String| MountError {
        message,
        field: None,
    };
    if !matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    ) {
        for (name, set) in [
            ("mode", m.mode.is_some()),
            ("uid", m.uid.is_some()),
            ("gid", m.gid.is_some()),
        ] {
            if set {
                return Err(plain(format!(
                    "{name} not allowed for \"{}\" type mounts",
                    m.kind
                )));
            }
        }
    }
    if ro_auto {
        m.readonly = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err(plain("secret mount should not have a from".into()));
        }
        if m.sharing.is_some() {
            return Err(plain("secret mount should not define sharing".into()));
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err(plain(
                "invalid secret mount. one of source, target required".into(),
            ));
        }
        if m.source.is_some() && m.id.is_some() {
            return Err(plain("both source and id can't be set".into()));
        }
    }
    if m.sharing.is_some() && m.kind != MountType::Cache {
        return Err(plain(format!(
            "invalid cache sharing set for {} mount",
            m.kind
        )));
    }
    if matches!(
        m.kind,
        MountType::Bind | MountType::Cache | MountType::Tmpfs
    ) && m.target.as_deref().is_none_or(str::is_empty)
    {
        // BuildKit's words first: the empty target becomes "/" there.
        return Err(plain(format!(
            "invalid mount target \"/\": mount target must be specified for type={} mounts",
            m.kind
        )));
    }
    Ok(m)
}

fn is_known_key(key: &str) -> bool {
    ALL_KEYS.split(", ").any(|k| k == key)
}

/// CSV fields as Go's `encoding/csv` reads one record: `"` quotes a whole
/// field, `""` inside is a quote.
fn split_csv(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(
                            "failed to parse csv mounts: extraneous or missing \" in quoted-field"
                                .into(),
                        )
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => {
                    return Err(
                        "failed to parse csv mounts: extraneous or missing \" in quoted-field"
                            .into(),
                    )
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => {
                        return Err("failed to parse csv mounts: bare \" in non-quoted-field".into())
                    }
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// docker/go-units `RAMInBytes`: a number with an optional binary unit
/// (`b`, `k`, `kb`, `m`, `mb`, `g`, … case-insensitive).
fn ram_in_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        "p" | "pb" | "pib" => 1 << 50,
        _ => return None,
    };
    let v = n * mult as f64;
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<Mount, MountError> {
        parse_mount(spec, &mut |v: &str| Ok(Some(v.to_string())))
    }

    #[test]
    fn defaults_and_kinds() {
        let m = parse("target=/src").unwrap();
        assert_eq!((m.kind, m.readonly), (MountType::Bind, true));
        let m = parse("type=cache,target=/root/.cache,sharing=locked,id=pip,mode=0755,uid=1000")
            .unwrap();
        assert_eq!(
            (m.kind, m.readonly, m.sharing, m.mode, m.uid),
            (
                MountType::Cache,
                false,
                Some(Sharing::Locked),
                Some(0o755),
                Some(1000)
            )
        );
        let m = parse("type=tmpfs,dst=/tmp,size=64m").unwrap();
        assert_eq!(m.size_limit, Some(64 << 20));
        let m = parse("type=secret,id=tok,env=TOKEN,required").unwrap();
        assert!(m.required && m.readonly);
        let m = parse("type=ssh").unwrap();
        assert_eq!(m.kind, MountType::Ssh);
        let m = parse("type=bind,from=builder,source=/out,target=/in,rw").unwrap();
        assert!(!m.readonly);
        let m = parse("\"type=bind\",target=/a").unwrap();
        assert_eq!(m.target.as_deref(), Some("/a"));
    }

    #[test]
    fn rejections() {
        for (spec, want) in [
            ("type=nfs,target=/a", "unsupported mount type"),
            (
                "type=cache,target=/a,sharing=maybe",
                "unsupported sharing value",
            ),
            ("type=bind,target=/a,mode=0644", "mode not allowed"),
            ("type=cache,target=/a,mode=99", "invalid value 99 for mode"),
            ("type=cache,target=/a,size=1g", "unexpected key 'size'"),
            ("type=bind,target=/a,required", "unexpected key 'required'"),
            ("type=secret,from=x,id=a", "should not have a from"),
            ("type=secret", "one of source, target required"),
            ("type=bind,target=/a,bogus=1", "unexpected key 'bogus'"),
            ("type=bind,target=/a,ro=perhaps", "invalid value for ro"),
            (
                "type=cache",
                "invalid mount target \"/\": mount target must be specified",
            ),
            (
                "type=bind,target=/a,from=$STAGE",
                "doesn't support variable expansion",
            ),
            ("type=bind,target=/a,junk", "must be a key=value pair"),
            ("type=bind,target=\"/a", "csv"),
        ] {
            let e = parse(spec).unwrap_err();
            assert!(e.message.contains(want), "{spec}: {}", e.message);
        }
    }

    #[test]
    fn deferred_values_skip_checks() {
        let mut defer = |v: &str| {
            Ok(if v.contains('$') {
                None
            } else {
                Some(v.to_string())
            })
        };
        assert!(parse_mount("type=$T,target=/a,mode=0644", &mut defer).is_ok());
        assert!(parse_mount("type=cache,target=$D,bogus=$X", &mut defer).is_err());
    }
}
