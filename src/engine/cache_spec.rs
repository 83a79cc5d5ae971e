//! `--cache-to` / `--cache-from` values, in BuildKit's syntax:
//! `type=registry,ref=REG/REPO:TAG[,mode=min|max]`, `type=local,dest=DIR`,
//! `type=local,src=DIR`, or a bare image reference (a registry cache).
//! `cache-mounts=true|false` is builder's own attribute (BuildKit never
//! exports `RUN --mount=type=cache` contents): on `--cache-to` it also
//! exports the cache mounts the build used (default false), on
//! `--cache-from` it restores them (default true when the cache has any).

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};

use crate::layer::Compression;
use crate::registry::convert::ExportCompression;
use crate::registry::Reference;

/// Which steps an export covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// The steps of the result's own stages (BuildKit's default).
    #[default]
    Min,
    /// Every step of every stage built, intermediate stages included.
    Max,
}

/// Where a shared cache lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLocation {
    /// A manifest in a registry repository.
    Registry(Reference),
    /// An OCI image layout directory.
    Local(PathBuf),
}

impl std::fmt::Display for CacheLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheLocation::Registry(r) => write!(f, "{r}"),
            CacheLocation::Local(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One `--cache-to` or `--cache-from` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSpec {
    /// Where.
    pub location: CacheLocation,
    /// Export scope (ignored on import).
    pub mode: CacheMode,
    /// How built layers are compressed on export (gzip by default).
    pub compression: ExportCompression,
    /// `ignore-error=true`: a failed export is a warning, not a failure.
    pub ignore_error: bool,
    /// `cache-mounts=`: export (`--cache-to`, default false) or restore
    /// (`--cache-from`, default true) `RUN --mount=type=cache` contents.
    pub cache_mounts: bool,
}

/// Attributes BuildKit defines that change nothing here: builder always
/// writes OCI media types and an image manifest.
const ACCEPTED_NOOPS: &[&str] = &["oci-mediatypes", "image-manifest", "force-compression"];

impl CacheSpec {
    /// Parses a `--cache-to` value.
    pub fn parse_export(text: &str) -> Result<Self> {
        Self::parse(text, true).map_err(|e| anyhow!("--cache-to {text}: {e}"))
    }

    /// Parses a `--cache-from` value.
    pub fn parse_import(text: &str) -> Result<Self> {
        Self::parse(text, false).map_err(|e| anyhow!("--cache-from {text}: {e}"))
    }

    fn parse(text: &str, export: bool) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            bail!("empty value");
        }
        if !text.contains('=') {
            // Docker's shorthand: `--cache-from IMAGE`.
            return Ok(CacheSpec {
                location: CacheLocation::Registry(parse_ref(text)?),
                mode: CacheMode::Min,
                compression: ExportCompression::default(),
                ignore_error: false,
                cache_mounts: !export,
            });
        }
        let mut kind = None;
        let (mut reference, mut dir, mut mode) = (None, None, CacheMode::Min);
        let (mut algorithm, mut level, mut ignore_error) = (None, None, false);
        let mut cache_mounts = !export;
        for field in text.split(',') {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| anyhow!("{field:?} is not KEY=VALUE"))?;
            let (k, v) = (k.trim(), v.trim());
            match k {
                "type" => kind = Some(v.to_string()),
                "ref" => reference = Some(parse_ref(v)?),
                "dest" if export => dir = Some(PathBuf::from(v)),
                "src" if !export => dir = Some(PathBuf::from(v)),
                "dest" | "src" => bail!(
                    "{k}= belongs to {}",
                    if k == "dest" {
                        "--cache-to"
                    } else {
                        "--cache-from"
                    }
                ),
                "mode" => {
                    mode = match v {
                        "min" => CacheMode::Min,
                        "max" => CacheMode::Max,
                        _ => bail!("mode={v}: use min or max"),
                    }
                }
                "compression" => algorithm = Some(v.parse::<Compression>()?),
                "compression-level" => {
                    level = Some(
                        v.parse::<i32>()
                            .map_err(|_| anyhow!("compression-level={v} is not a number"))?,
                    )
                }
                "ignore-error" => ignore_error = parse_bool(k, v)?,
                "cache-mounts" => cache_mounts = parse_bool(k, v)?,
                k if ACCEPTED_NOOPS.contains(&k) => {
                    parse_bool(k, v)?;
                }
                other => bail!("unknown attribute {other:?}"),
            }
        }
        if let Some(l) = level {
            algorithm.unwrap_or_default().check_level(l)?;
        }
        let location = match kind.as_deref() {
            Some("registry") => CacheLocation::Registry(
                reference.ok_or_else(|| anyhow!("type=registry needs ref=REGISTRY/REPO:TAG"))?,
            ),
            Some("local") => CacheLocation::Local(dir.ok_or_else(|| {
                anyhow!(
                    "type=local needs {}=DIR",
                    if export { "dest" } else { "src" }
                )
            })?),
            Some(other) => {
                bail!("cache type {other:?} is not supported: use type=registry or type=local")
            }
            None => match reference {
                Some(r) => CacheLocation::Registry(r),
                None => bail!("missing type=registry|local"),
            },
        };
        Ok(CacheSpec {
            location,
            mode,
            compression: ExportCompression { algorithm, level },
            ignore_error,
            cache_mounts,
        })
    }
}

fn parse_ref(text: &str) -> Result<Reference> {
    Reference::parse(text).map_err(|e| anyhow!("ref {text}: {e}"))
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => bail!("{key}={v}: use true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buildkit_forms() {
        let s =
            CacheSpec::parse_export("type=registry,ref=localhost:5000/app:cache,mode=max").unwrap();
        assert_eq!(s.mode, CacheMode::Max);
        assert_eq!(
            s.location,
            CacheLocation::Registry(Reference::parse("localhost:5000/app:cache").unwrap())
        );
        let s = CacheSpec::parse_export("type=local,dest=/tmp/c,compression=zstd").unwrap();
        assert_eq!(s.location, CacheLocation::Local("/tmp/c".into()));
        assert_eq!(s.mode, CacheMode::Min);
        assert_eq!(s.compression.algorithm, Some(Compression::Zstd));
        let s = CacheSpec::parse_import("type=local,src=/tmp/c").unwrap();
        assert_eq!(s.location, CacheLocation::Local("/tmp/c".into()));
        let s = CacheSpec::parse_import("myorg/app:buildcache").unwrap();
        assert_eq!(
            s.location,
            CacheLocation::Registry(Reference::parse("myorg/app:buildcache").unwrap())
        );
        let s = CacheSpec::parse_export(
            "type=registry,ref=r/a:c,oci-mediatypes=true,image-manifest=true,ignore-error=true",
        )
        .unwrap();
        assert!(s.ignore_error);
        assert!(!s.cache_mounts, "exporting mounts is opt-in");
        let s =
            CacheSpec::parse_export("type=registry,ref=r/a:c,mode=max,cache-mounts=true").unwrap();
        assert!(s.cache_mounts);
        assert!(CacheSpec::parse_import("r/a:c").unwrap().cache_mounts);
        let s = CacheSpec::parse_import("type=registry,ref=r/a:c,cache-mounts=false").unwrap();
        assert!(!s.cache_mounts);
    }

    #[test]
    fn rejects_what_it_cannot_do() {
        for (text, export, want) in [
            ("type=gha", true, "not supported"),
            ("type=registry", true, "needs ref="),
            ("type=local", true, "needs dest="),
            ("type=local", false, "needs src="),
            ("type=local,src=/x", true, "belongs to --cache-from"),
            ("type=registry,ref=a:b,mode=all", true, "use min or max"),
            (
                "type=registry,ref=a:b,colour=red",
                true,
                "unknown attribute",
            ),
            ("type=registry,ref=Bad", true, "ref Bad"),
            (
                "type=registry,ref=a:b,compression=lz4",
                true,
                "unknown compression",
            ),
            (
                "type=registry,ref=a:b,compression-level=30",
                true,
                "out of range",
            ),
            ("", false, "empty"),
            (
                "type=registry,ref=a:b,cache-mounts=yes",
                true,
                "use true or false",
            ),
        ] {
            let r = if export {
                CacheSpec::parse_export(text)
            } else {
                CacheSpec::parse_import(text)
            };
            let e = format!("{:#}", r.unwrap_err());
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
