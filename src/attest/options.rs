//! `--sbom`, `--provenance` and `--attest` as `docker buildx build` spells
//! them, parsed and checked before the build starts.
//!
//! buildx turns `--sbom=X` into `--attest type=sbom,X` and `--provenance=X`
//! into `--attest type=provenance,X`, where a bare boolean `X` means
//! `disabled=!X`; the last value for a type wins. Provenance is on with
//! `mode=min` by default for `--push` and registry outputs (as buildx does
//! with a BuildKit that can store attestations); `--provenance=false` turns
//! it off.

use anyhow::{bail, Result};

/// `mode=` of provenance: `min` (no Dockerfile, no steps) or `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProvenanceMode {
    /// Build parameters and materials only.
    #[default]
    Min,
    /// Also the Dockerfile source and the build steps.
    Max,
}

/// `version=` of the SLSA provenance predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProvenanceVersion {
    /// `https://slsa.dev/provenance/v0.2`: BuildKit 0.13's only format.
    #[default]
    V02,
    /// `https://slsa.dev/provenance/v1` (later BuildKit's `version=v1`).
    V1,
}

/// Provenance settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProvenanceOptions {
    /// `mode=`.
    pub mode: ProvenanceMode,
    /// `version=`.
    pub version: ProvenanceVersion,
    /// `builder-id=`: `predicate.builder.id` (empty by default, as BuildKit).
    pub builder_id: String,
}

/// SBOM settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SbomOptions {
    /// `generator=IMAGE`, as given: builder scans with its own scanner and
    /// only reports that the image is not run.
    pub generator: Option<String>,
}

/// What to attest; `None` means off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttestOptions {
    /// Provenance, if on.
    pub provenance: Option<ProvenanceOptions>,
    /// SBOM, if on.
    pub sbom: Option<SbomOptions>,
}

impl AttestOptions {
    /// True when some attestation is on.
    pub fn any(&self) -> bool {
        self.provenance.is_some() || self.sbom.is_some()
    }
}

/// One `type=…` request: `Some(fields)` on, `None` explicitly off.
type Request = Option<Vec<(String, String)>>;

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Splits `k=v,k=v` (a bare boolean becomes `disabled=!b`).
fn fields(flag: &str, spec: &str) -> Result<Vec<(String, String)>> {
    if let Some(b) = parse_bool(spec.trim()) {
        return Ok(vec![("disabled".into(), (!b).to_string())]);
    }
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => bail!("{flag} {spec}: expected key=value fields or true/false"),
        }
    }
    Ok(out)
}

/// `fields` into on/off: `disabled=true` turns the type off.
fn request(flag: &str, spec: &str, fs: Vec<(String, String)>) -> Result<Request> {
    let mut keep = Vec::new();
    let mut disabled = false;
    for (k, v) in fs {
        if k == "disabled" {
            disabled = parse_bool(&v)
                .ok_or_else(|| anyhow::anyhow!("{flag} {spec}: disabled={v}: use true or false"))?;
        } else {
            keep.push((k, v));
        }
    }
    Ok((!disabled).then_some(keep))
}

fn provenance(flag: &str, spec: &str, fs: &[(String, String)]) -> Result<ProvenanceOptions> {
    let mut p = ProvenanceOptions::default();
    for (k, v) in fs {
        match k.as_str() {
            "mode" => {
                p.mode = match v.as_str() {
                    "min" => ProvenanceMode::Min,
                    "max" => ProvenanceMode::Max,
                    _ => bail!("{flag} {spec}: mode={v}: use min or max"),
                }
            }
            "version" => {
                p.version = match v.as_str() {
                    "v0.2" => ProvenanceVersion::V02,
                    "v1" | "v1.0" => ProvenanceVersion::V1,
                    _ => bail!("{flag} {spec}: version={v}: use v0.2 or v1"),
                }
            }
            "builder-id" => p.builder_id = v.clone(),
            // BuildKit reads these; builder's output does not depend on them.
            "reproducible" | "inline-only" => {}
            other => bail!(
                "{flag} {spec}: unknown provenance field {other} (use mode, version, builder-id)"
            ),
        }
    }
    Ok(p)
}

fn sbom(flag: &str, spec: &str, fs: &[(String, String)]) -> Result<SbomOptions> {
    let mut s = SbomOptions::default();
    for (k, v) in fs {
        match k.as_str() {
            "generator" if v.is_empty() => bail!("{flag} {spec}: generator= is empty"),
            "generator" => s.generator = Some(v.clone()),
            other => bail!("{flag} {spec}: unknown sbom field {other} (use generator)"),
        }
    }
    Ok(s)
}

/// Parses the flags. `sbom`/`provenance` are the values of `--sbom` /
/// `--provenance` (`Some("true")` for a bare flag), `attest` every
/// `--attest`; `registry_output` is true with `--push` or a
/// `type=registry|image` output (provenance `mode=min` by default then).
/// Errors name the flag and the bad field.
pub fn parse(
    sbom_flag: Option<&str>,
    provenance_flag: Option<&str>,
    attest: &[String],
    registry_output: bool,
) -> Result<AttestOptions> {
    let mut sbom_req: Option<Request> = None;
    let mut prov_req: Option<Request> = None;
    for spec in attest {
        let mut fs = fields("--attest", spec)?;
        let pos = fs.iter().position(|(k, _)| k == "type");
        let Some(pos) = pos else {
            bail!("--attest {spec}: missing type= (sbom or provenance)");
        };
        let (_, ty) = fs.remove(pos);
        let r = request("--attest", spec, fs)?;
        match ty.as_str() {
            "sbom" => sbom_req = Some(r),
            "provenance" => prov_req = Some(r),
            other => bail!("--attest {spec}: type={other}: use sbom or provenance"),
        }
    }
    if let Some(s) = sbom_flag {
        sbom_req = Some(request("--sbom", s, fields("--sbom", s)?)?);
    }
    if let Some(s) = provenance_flag {
        prov_req = Some(request("--provenance", s, fields("--provenance", s)?)?);
    }
    let prov_spec = provenance_flag.unwrap_or("--attest type=provenance");
    let sbom_spec = sbom_flag.unwrap_or("--attest type=sbom");
    let provenance = match prov_req {
        Some(Some(fs)) => Some(provenance("--provenance", prov_spec, &fs)?),
        Some(None) => None,
        None if registry_output => Some(ProvenanceOptions::default()),
        None => None,
    };
    let sbom = match sbom_req {
        Some(Some(fs)) => Some(sbom("--sbom", sbom_spec, &fs)?),
        _ => None,
    };
    Ok(AttestOptions { provenance, sbom })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_buildx() {
        let none = parse(None, None, &[], false).unwrap();
        assert!(!none.any());
        let pushed = parse(None, None, &[], true).unwrap();
        assert_eq!(pushed.provenance, Some(ProvenanceOptions::default()));
        assert!(parse(None, Some("false"), &[], true)
            .unwrap()
            .provenance
            .is_none());
        let max = parse(Some("true"), Some("mode=max,version=v1"), &[], false).unwrap();
        let p = max.provenance.unwrap();
        assert_eq!(
            (p.mode, p.version),
            (ProvenanceMode::Max, ProvenanceVersion::V1)
        );
        assert!(max.sbom.is_some());
        let a = parse(
            None,
            None,
            &[
                "type=sbom,generator=img".into(),
                "type=provenance,disabled=true".into(),
            ],
            true,
        )
        .unwrap();
        assert_eq!(a.sbom.unwrap().generator.as_deref(), Some("img"));
        assert!(a.provenance.is_none());
    }

    #[test]
    fn bad_values_are_errors() {
        for (s, p, a) in [
            (None, Some("mode=huge"), vec![]),
            (None, Some("version=v9"), vec![]),
            (Some("maybe"), None, vec![]),
            (Some("colour=red"), None, vec![]),
            (None, None, vec!["type=vex".to_string()]),
            (None, None, vec!["mode=max".to_string()]),
            (None, None, vec!["type=sbom,disabled=perhaps".to_string()]),
        ] {
            assert!(parse(s, p, &a, false).is_err(), "{s:?} {p:?} {a:?}");
        }
    }
}
