//! The SLSA provenance predicate of one platform's image, in the shape
//! BuildKit 0.13 writes (`solver/llbsolver/provenance`: `predicateType`
//! `https://slsa.dev/provenance/v0.2`, build type
//! `https://mobyproject.org/buildkit@v1`), or SLSA v1 with `version=v1`
//! (the shape later BuildKit writes for it).
//!
//! What goes in: the frontend (`dockerfile.v0`) and its arguments as buildx
//! sends them (`build-arg:NAME`, `target`, `label:KEY`, `filename` as the
//! config source's entry point; `platform` is left out as BuildKit filters
//! it, and it is in `environment.platform`), the ids of `--secret` and
//! `--ssh` (never their values), the local sources (`context`,
//! `dockerfile`), base images by digest as `pkg:docker/…` materials, and the
//! context's git remote and commit as buildx's `vcs:source`/`vcs:revision`
//! (BuildKit puts them in its metadata's `vcs`, since a local context is not
//! a material it can fetch). `mode=max` adds the Dockerfile (base64, as
//! BuildKit's `source.infos`), the line ranges of every step and the steps
//! themselves. Registry credentials are never an input here.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::options::{ProvenanceMode, ProvenanceOptions, ProvenanceVersion};
use super::{Predicate, STATEMENT_V01, STATEMENT_V1};
use crate::store::Digest;

/// SLSA v0.2 provenance predicate type.
pub const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
/// SLSA v1 provenance predicate type.
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
/// BuildKit's build type for v0.2.
pub const BUILD_TYPE: &str = "https://mobyproject.org/buildkit@v1";
/// The key of BuildKit's own metadata.
pub const BUILDKIT_METADATA: &str = "https://mobyproject.org/buildkit@v1#metadata";

/// A base image the build read: `pkg:docker/NAME@TAG?platform=OS%2FARCH`
/// and the digest it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    /// The package URL.
    pub uri: String,
    /// The resolved manifest (or index) digest.
    pub digest: Digest,
}

/// One step for `mode=max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The stage's display name (`AS` name or `stage-N`).
    pub stage: String,
    /// The instruction as written, continuations joined.
    pub instruction: String,
    /// First and last Dockerfile line (1-based).
    pub lines: (usize, usize),
}

/// Everything the predicate is made of. No field holds a secret value.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    /// Frontend arguments as buildx sends them (`build-arg:X`, `target`, …).
    pub frontend_args: BTreeMap<String, String>,
    /// The target platform, `os/arch[/variant]`.
    pub platform: String,
    /// Base images by digest.
    pub materials: Vec<Material>,
    /// `--secret` ids.
    pub secret_ids: Vec<String>,
    /// `--ssh` ids.
    pub ssh_ids: Vec<String>,
    /// The local sources (`context`, `dockerfile`).
    pub locals: Vec<String>,
    /// buildx's `vcs:` values (`source`, `revision`, `localdir:context`…).
    pub vcs: BTreeMap<String, String>,
    /// Dockerfile name and bytes (`mode=max`).
    pub dockerfile: Option<(String, Vec<u8>)>,
    /// Build steps (`mode=max`).
    pub steps: Vec<Step>,
    /// Build start and end, Unix seconds (both SOURCE_DATE_EPOCH when set).
    pub started: i64,
    /// See `started`.
    pub finished: i64,
    /// `buildInvocationID`: random in BuildKit; here a digest of the
    /// inputs, so a reproducible build gives the same statement.
    pub invocation_id: String,
}

fn rfc3339(secs: i64) -> String {
    crate::image::format_rfc3339_nano(secs, 0)
}

fn materials(info: &BuildInfo) -> Vec<Value> {
    info.materials
        .iter()
        .map(|m| json!({"uri": m.uri, "digest": {"sha256": m.digest.hex()}}))
        .collect()
}

/// The frontend args BuildKit keeps (`FilterArgs`): without the host
/// specific `platform`, `attest:*` and the entry point.
fn args(info: &BuildInfo) -> Map<String, Value> {
    info.frontend_args
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "platform" | "filename" | "cgroup-parent" | "image-resolve-mode" | "cache-imports"
            ) && !k.starts_with("attest:")
                && !k.starts_with("vcs:")
        })
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn parameters(info: &BuildInfo) -> Value {
    let mut p = Map::new();
    p.insert("frontend".into(), json!("dockerfile.v0"));
    let a = args(info);
    if !a.is_empty() {
        p.insert("args".into(), Value::Object(a));
    }
    let ids = |v: &[String]| v.iter().map(|id| json!({"id": id})).collect::<Vec<_>>();
    if !info.secret_ids.is_empty() {
        p.insert("secrets".into(), json!(ids(&info.secret_ids)));
    }
    if !info.ssh_ids.is_empty() {
        p.insert("ssh".into(), json!(ids(&info.ssh_ids)));
    }
    if !info.locals.is_empty() {
        let l: Vec<Value> = info.locals.iter().map(|n| json!({"name": n})).collect();
        p.insert("locals".into(), json!(l));
    }
    Value::Object(p)
}

/// BuildKit's `#metadata` object: `vcs`, and with `mode=max` the
/// Dockerfile source and where each step is in it.
fn buildkit_metadata(info: &BuildInfo, mode: ProvenanceMode) -> Option<Value> {
    let mut m = Map::new();
    if !info.vcs.is_empty() {
        m.insert("vcs".into(), json!(info.vcs));
    }
    if mode == ProvenanceMode::Max {
        if let Some((name, bytes)) = &info.dockerfile {
            let mut locations = Map::new();
            for (i, s) in info.steps.iter().enumerate() {
                locations.insert(
                    format!("step{i}"),
                    json!({"locations": [{"ranges": [
                        {"start": {"line": s.lines.0}, "end": {"line": s.lines.1}}
                    ]}]}),
                );
            }
            m.insert(
                "source".into(),
                json!({
                    "locations": locations,
                    "infos": [{
                        "filename": name,
                        "language": "Dockerfile",
                        "data": base64::engine::general_purpose::STANDARD.encode(bytes),
                    }],
                }),
            );
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// `buildConfig` for `mode=max`: BuildKit lists its LLB operations
/// (`llbDefinition`); builder has no LLB, so it lists the steps it ran
/// under the same `stepN` ids the source locations use.
fn build_config(info: &BuildInfo) -> Value {
    let steps: Vec<Value> = info
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"id": format!("step{i}"), "stage": s.stage, "instruction": s.instruction}))
        .collect();
    json!({ "steps": steps })
}

/// The provenance predicate for `info`, as `opts` asks.
pub fn predicate(info: &BuildInfo, opts: &ProvenanceOptions) -> Predicate {
    match opts.version {
        ProvenanceVersion::V02 => v02(info, opts),
        ProvenanceVersion::V1 => v1(info, opts),
    }
}

fn v02(info: &BuildInfo, opts: &ProvenanceOptions) -> Predicate {
    let mut config_source = Map::new();
    if let Some(f) = info.frontend_args.get("filename") {
        config_source.insert("entryPoint".into(), json!(f));
    }
    let mut p = Map::new();
    p.insert("builder".into(), json!({"id": opts.builder_id}));
    p.insert("buildType".into(), json!(BUILD_TYPE));
    let mats = materials(info);
    if !mats.is_empty() {
        p.insert("materials".into(), json!(mats));
    }
    p.insert(
        "invocation".into(),
        json!({
            "configSource": config_source,
            "parameters": parameters(info),
            "environment": {"platform": info.platform},
        }),
    );
    if opts.mode == ProvenanceMode::Max {
        p.insert("buildConfig".into(), build_config(info));
    }
    let mut meta = Map::new();
    meta.insert("buildInvocationID".into(), json!(info.invocation_id));
    meta.insert("buildStartedOn".into(), json!(rfc3339(info.started)));
    meta.insert("buildFinishedOn".into(), json!(rfc3339(info.finished)));
    // A local context is a source BuildKit cannot name by digest.
    meta.insert(
        "completeness".into(),
        json!({"parameters": true, "environment": true, "materials": info.locals.is_empty()}),
    );
    meta.insert("reproducible".into(), json!(false));
    if let Some(bk) = buildkit_metadata(info, opts.mode) {
        meta.insert(BUILDKIT_METADATA.into(), bk);
    }
    p.insert("metadata".into(), Value::Object(meta));
    Predicate {
        predicate_type: SLSA_V02.into(),
        statement_type: STATEMENT_V01,
        body: Value::Object(p),
        name: "provenance".into(),
    }
}

fn v1(info: &BuildInfo, opts: &ProvenanceOptions) -> Predicate {
    let mut ext = Map::new();
    let mut config_source = Map::new();
    if let Some(f) = info.frontend_args.get("filename") {
        config_source.insert("path".into(), json!(f));
    }
    ext.insert("configSource".into(), Value::Object(config_source));
    ext.insert("request".into(), parameters(info));
    let mut def = Map::new();
    def.insert("buildType".into(), json!(BUILD_TYPE));
    def.insert("externalParameters".into(), Value::Object(ext));
    def.insert(
        "internalParameters".into(),
        json!({"builderPlatform": info.platform}),
    );
    let deps: Vec<Value> = materials(info);
    if !deps.is_empty() {
        def.insert("resolvedDependencies".into(), json!(deps));
    }
    let mut meta = Map::new();
    meta.insert("invocationID".into(), json!(info.invocation_id));
    meta.insert("startedOn".into(), json!(rfc3339(info.started)));
    meta.insert("finishedOn".into(), json!(rfc3339(info.finished)));
    let mut run = Map::new();
    run.insert("builder".into(), json!({"id": opts.builder_id}));
    let mut md = meta;
    if let Some(bk) = buildkit_metadata(info, opts.mode) {
        md.insert(BUILDKIT_METADATA.into(), bk);
    }
    md.insert(
        "https://mobyproject.org/buildkit@v1#completeness".into(),
        json!({"request": true, "resolvedDependencies": info.locals.is_empty()}),
    );
    if opts.mode == ProvenanceMode::Max {
        md.insert(
            "https://mobyproject.org/buildkit@v1#buildConfig".into(),
            build_config(info),
        );
    }
    run.insert("metadata".into(), Value::Object(md));
    Predicate {
        predicate_type: SLSA_V1.into(),
        statement_type: STATEMENT_V1,
        body: json!({"buildDefinition": def, "runDetails": run}),
        name: "provenance".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> BuildInfo {
        BuildInfo {
            frontend_args: [
                ("filename".to_string(), "Dockerfile".to_string()),
                ("build-arg:A".into(), "1".into()),
                ("platform".into(), "linux/amd64".into()),
            ]
            .into(),
            platform: "linux/amd64".into(),
            secret_ids: vec!["tok".into()],
            locals: vec!["context".into(), "dockerfile".into()],
            dockerfile: Some(("Dockerfile".into(), b"FROM scratch\n".to_vec())),
            steps: vec![Step {
                stage: "stage-0".into(),
                instruction: "FROM scratch".into(),
                lines: (1, 1),
            }],
            started: 0,
            finished: 0,
            invocation_id: "x".into(),
            ..Default::default()
        }
    }

    #[test]
    fn modes_and_versions() {
        let min = predicate(&info(), &ProvenanceOptions::default());
        assert_eq!(min.predicate_type, SLSA_V02);
        let b = &min.body;
        assert!(b.get("buildConfig").is_none());
        assert!(b["metadata"].get(BUILDKIT_METADATA).is_none());
        assert_eq!(b["invocation"]["parameters"]["args"]["build-arg:A"], "1");
        assert!(b["invocation"]["parameters"]["args"]
            .get("platform")
            .is_none());
        assert_eq!(b["invocation"]["configSource"]["entryPoint"], "Dockerfile");
        assert_eq!(b["metadata"]["buildStartedOn"], "1970-01-01T00:00:00Z");
        let max = ProvenanceOptions {
            mode: ProvenanceMode::Max,
            ..Default::default()
        };
        let b = predicate(&info(), &max).body;
        assert_eq!(b["buildConfig"]["steps"][0]["id"], "step0");
        let src = &b["metadata"][BUILDKIT_METADATA]["source"];
        assert_eq!(src["infos"][0]["data"], "RlJPTSBzY3JhdGNoCg==");
        assert_eq!(
            src["locations"]["step0"]["locations"][0]["ranges"][0]["start"]["line"],
            1
        );
        let v1 = predicate(
            &info(),
            &ProvenanceOptions {
                version: ProvenanceVersion::V1,
                ..Default::default()
            },
        );
        assert_eq!(v1.predicate_type, SLSA_V1);
        assert_eq!(v1.statement_type, STATEMENT_V1);
        let d = &v1.body["buildDefinition"];
        assert_eq!(
            d["externalParameters"]["request"]["secrets"][0]["id"],
            "tok"
        );
        assert_eq!(
            d["externalParameters"]["configSource"]["path"],
            "Dockerfile"
        );
        assert_eq!(
            v1.body["runDetails"]["metadata"]["startedOn"],
            "1970-01-01T00:00:00Z"
        );
    }
}
