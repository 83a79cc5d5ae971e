//! Build arguments that exist without an `ARG` in the global scope
//! (platform ones) or that RUN sees without declaration (proxies).

use super::platform::Platform;

/// Proxy variables that `--build-arg` passes to RUN without an `ARG`
/// (upper and lower case), and which are never written to the image.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "all_proxy",
];

/// The environment BuildKit gives every RUN from the proxy build args, declared or not
/// (`proxyEnvFromBuildArgs` + the exec op's `proxyEnvList`): for each of the five kinds, the
/// `--build-arg` whose name matches case-insensitively sets both the upper- and lower-case
/// variable, in the kinds' order; an empty value sets nothing. These entries are appended after
/// the step's own environment, so they override a same-named ARG or ENV value. When both
/// spellings are given, BuildKit's pick depends on Go map order; here the last name in
/// byte order wins (lower case).
pub fn proxy_env(build_args: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for upper in &PROXY_ARGS[..5] {
        let value = build_args
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(upper))
            .map(|(_, v)| v)
            .next_back();
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push((upper.to_string(), v.clone()));
            out.push((upper.to_ascii_lowercase(), v.clone()));
        }
    }
    out
}

/// True for the proxy variables (any case, as BuildKit compares them).
pub fn is_proxy_arg(name: &str) -> bool {
    PROXY_ARGS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// True for the build-args BuildKit's frontend and exporters read themselves
/// (`BUILDKIT_INLINE_CACHE`, `BUILDKIT_SANDBOX_HOSTNAME`, … and
/// `SOURCE_DATE_EPOCH`, which buildx also sets from its environment): never
/// reported as unused, as Docker 26.1 reports none of them.
pub fn is_frontend_arg(name: &str) -> bool {
    name.starts_with("BUILDKIT_") || name == "SOURCE_DATE_EPOCH"
}

/// The predefined global arguments for a build, in BuildKit's order:
/// `BUILD*` from the build platform, `TARGET*` from the target platform and
/// `TARGETSTAGE`. A `--build-arg` of the same name overrides the value.
pub fn predefined_args(
    build: &Platform,
    target: &Platform,
    target_stage: &str,
    overrides: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let values = [
        ("BUILDPLATFORM", build.to_string()),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", build.architecture.clone()),
        ("BUILDVARIANT", build.variant.clone()),
        ("TARGETPLATFORM", target.to_string()),
        ("TARGETOS", target.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", target.architecture.clone()),
        ("TARGETVARIANT", target.variant.clone()),
        ("TARGETSTAGE", target_stage.to_string()),
    ];
    values
        .into_iter()
        .map(|(k, v)| (k.to_string(), overrides.get(k).cloned().unwrap_or(v)))
        .collect()
}

/// True for the names [`predefined_args`] defines.
pub fn is_predefined_arg(name: &str) -> bool {
    matches!(
        name,
        "BUILDPLATFORM"
            | "BUILDOS"
            | "BUILDOSVERSION"
            | "BUILDARCH"
            | "BUILDVARIANT"
            | "TARGETPLATFORM"
            | "TARGETOS"
            | "TARGETOSVERSION"
            | "TARGETARCH"
            | "TARGETVARIANT"
            | "TARGETSTAGE"
    )
}
