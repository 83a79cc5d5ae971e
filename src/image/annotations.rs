//! `--annotation` values as `docker buildx build` parses them
//! (`util/buildflags.ParseAnnotations`): `KEY=VALUE`, or
//! `TYPE[,TYPE…]:KEY=VALUE` where each TYPE is `manifest`, `index`,
//! `manifest-descriptor` or `index-descriptor`, optionally followed by a
//! platform in square brackets (`manifest[linux/arm64]:k=v`).
//!
//! Where each lands, as BuildKit's image exporter places them: no type means
//! `manifest` (the image manifest of every platform); `index` the image index
//! of a multi-platform image; `manifest-descriptor` the manifest's entry in
//! that index; `index-descriptor` the index's entry in an OCI layout's
//! `index.json` (not written by builder: refused).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

/// One level an annotation is written at (BuildKit's `exptypes.Annotation*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The image manifest (`manifest`, the default).
    Manifest,
    /// The image index (`index`).
    Index,
    /// The manifest's descriptor in the index (`manifest-descriptor`).
    ManifestDescriptor,
}

/// One parsed annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Where it is written.
    pub level: Level,
    /// Only for this platform (`os/arch[/variant]`, normalised), when given.
    pub platform: Option<String>,
    /// The key, e.g. `org.opencontainers.image.description`.
    pub key: String,
    /// The value (may be empty).
    pub value: String,
}

/// Every `--annotation` of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations(pub Vec<Annotation>);

impl Annotations {
    /// Parses `--annotation` values. Errors name the value and what is
    /// expected (buildx's messages: `invalid annotation "x", expected
    /// key=value`, `unknown annotation type "foo"`).
    pub fn parse(values: &[String]) -> Result<Annotations> {
        let mut out = Vec::new();
        for raw in values.iter().filter(|v| !v.is_empty()) {
            let (k, value) = raw.split_once('=').ok_or_else(|| {
                anyhow!("--annotation {raw:?}: invalid annotation, expected key=value")
            })?;
            let Some((types, key)) = k.split_once(':') else {
                out.push(annotation(raw, Level::Manifest, None, k, value)?);
                continue;
            };
            for t in types.split(',') {
                let (typ, platform) = split_platform(raw, t)?;
                let level = match typ {
                    "manifest" => Level::Manifest,
                    "index" => Level::Index,
                    "manifest-descriptor" => Level::ManifestDescriptor,
                    "index-descriptor" => bail!(
                        "--annotation {raw:?}: index-descriptor annotations go into an OCI \
                         layout's index.json, which builder does not write; use index or manifest"
                    ),
                    other => bail!(
                        "--annotation {raw:?}: unknown annotation type {other:?} (use manifest, \
                         index, manifest-descriptor or index-descriptor)"
                    ),
                };
                out.push(annotation(raw, level, platform, key, value)?);
            }
        }
        Ok(Annotations(out))
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The annotations at `level` that apply to `platform` (`None`: an image
    /// of no particular platform, which only unfiltered ones apply to).
    pub fn at(&self, level: Level, platform: Option<&str>) -> BTreeMap<String, String> {
        self.0
            .iter()
            .filter(|a| a.level == level)
            .filter(|a| match (&a.platform, platform) {
                (None, _) => true,
                (Some(want), Some(p)) => want == p,
                (Some(_), None) => false,
            })
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect()
    }

    /// True when some annotation is written at `level`.
    pub fn has(&self, level: Level) -> bool {
        self.0.iter().any(|a| a.level == level)
    }
}

fn annotation(
    raw: &str,
    level: Level,
    platform: Option<String>,
    key: &str,
    value: &str,
) -> Result<Annotation> {
    if key.is_empty() {
        bail!("--annotation {raw:?}: the key is empty (expected [TYPE:]KEY=VALUE)");
    }
    Ok(Annotation {
        level,
        platform,
        key: key.to_string(),
        value: value.to_string(),
    })
}

/// `type[platform]` → (type, normalised platform), as buildx's
/// `^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$`.
fn split_platform<'a>(raw: &str, t: &'a str) -> Result<(&'a str, Option<String>)> {
    let bad = || {
        anyhow!(
            "--annotation {raw:?}: invalid annotation type {t:?}, expected type and optional \
             platform in square brackets"
        )
    };
    let (typ, platform) = match t.split_once('[') {
        Some((typ, rest)) => {
            let p = rest.strip_suffix(']').ok_or_else(bad)?;
            if p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '-'))
            {
                return Err(bad());
            }
            let parsed = crate::plan::Platform::parse(p)
                .map_err(|e| anyhow!("--annotation {raw:?}: invalid platform {p:?}: {e}"))?;
            (typ, Some(parsed.to_string()))
        }
        None => (t, None),
    };
    if typ.is_empty() || !typ.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
        return Err(bad());
    }
    Ok((typ, platform))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Annotations> {
        Annotations::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn types_platforms_and_defaults() {
        let a = p(&[
            "a=1",
            "index,manifest:b=2",
            "manifest[linux/arm64]:c=3",
            "manifest-descriptor:d=x=y",
        ])
        .unwrap();
        let m = a.at(Level::Manifest, Some("linux/amd64"));
        assert_eq!(m.get("a").unwrap(), "1");
        assert_eq!(m.get("b").unwrap(), "2");
        assert!(!m.contains_key("c"));
        assert_eq!(a.at(Level::Manifest, Some("linux/arm64"))["c"], "3");
        assert_eq!(a.at(Level::Index, None)["b"], "2");
        assert_eq!(a.at(Level::ManifestDescriptor, None)["d"], "x=y");
    }

    #[test]
    fn errors() {
        assert!(p(&["novalue"])
            .unwrap_err()
            .to_string()
            .contains("key=value"));
        assert!(p(&["foo:k=v"]).unwrap_err().to_string().contains("unknown"));
        assert!(p(&["manifest[linux/amd64:k=v"]).is_err());
        assert!(p(&["manifest:=v"]).is_err());
    }
}
