//! Round-trips of hand-written configs shaped after Docker/BuildKit output, and exact bytes of
//! manifests and indexes.

use super::*;
use serde_json::Value;

const DIFF1: &str = "sha256:5d4427064ecc46e3c2add169e9b5eafc7ed2be7861081ec925938ab628ac0e25";
const DIFF2: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A debian base image config as BuildKit writes it (sorted top level, struct-ordered config).
fn debian() -> String {
    format!(
        concat!(
            r##"{{"architecture":"amd64","config":{{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["bash"]}},"##,
            r##""created":"2024-05-13T00:00:00Z","history":[{{"created":"2024-05-13T00:00:00Z","created_by":"# debian.sh --arch 'amd64' out/ 'bookworm' '@1715558400'","comment":"debuerreotype 0.15"}}],"##,
            r##""os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"##
        ),
        DIFF1
    )
}

/// Every Docker field, HTML-escaped strings, durations in ns, an unknown BuildKit field.
fn full() -> String {
    format!(
        concat!(
            r##"{{"architecture":"arm64","author":"Jane \u003cjane@example.com\u003e","config":{{"User":"app:app","ExposedPorts":{{"443/tcp":{{}},"80/tcp":{{}}}},"##,
            r##""Env":["PATH=/usr/bin:/bin","A=b\u0026c"],"Entrypoint":["/docker-entrypoint.sh"],"Cmd":["nginx","-g","daemon off;"],"Volumes":{{"/data":{{}}}},"##,
            r##""WorkingDir":"/srv","Labels":{{"maintainer":"NGINX \u003cdocker-maint@nginx.com\u003e","org.opencontainers.image.title":"x"}},"StopSignal":"SIGQUIT","ArgsEscaped":true,"##,
            r##""Healthcheck":{{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],"Interval":30000000000,"Timeout":5000000000,"StartPeriod":10000000000,"StartInterval":2000000000,"Retries":3}},"##,
            r##""OnBuild":["COPY . /srv","RUN make"],"Shell":["/bin/bash","-c"]}},"created":"2024-05-14T09:30:00.123456789Z","##,
            r##""history":[{{"created":"2024-05-13T00:00:00Z","created_by":"# debian.sh","comment":"debuerreotype 0.15"}},"##,
            r##"{{"created":"2024-05-14T09:30:00.123456789Z","created_by":"ENV A=b\u0026c","comment":"buildkit.dockerfile.v0","empty_layer":true}},"##,
            r##"{{"created":"2024-05-14T09:30:00.123456789Z","created_by":"RUN /bin/bash -c make # buildkit","comment":"buildkit.dockerfile.v0"}}],"##,
            r##""moby.buildkit.buildinfo.v1":"eyJmcm9udGVuZCI6ImRvY2tlcmZpbGUudjAifQ==","os":"linux","##,
            r##""rootfs":{{"type":"layers","diff_ids":["{}","{}"]}},"variant":"v8"}}"##
        ),
        DIFF1, DIFF2
    )
}

#[test]
fn debian_config_roundtrips_byte_for_byte() {
    let src = debian();
    let c = ImageConfig::from_slice(src.as_bytes()).unwrap();
    assert_eq!(c.config.cmd, vec!["bash"]);
    assert_eq!(c.rootfs.diff_ids, vec![DIFF1]);
    assert_eq!(c.history[0].comment, "debuerreotype 0.15");
    assert_eq!(String::from_utf8(c.to_json().unwrap()).unwrap(), src);
}

#[test]
fn full_config_roundtrips_byte_for_byte() {
    let src = full();
    let c = ImageConfig::from_slice(src.as_bytes()).unwrap();
    let hc = c.config.healthcheck.as_ref().unwrap();
    assert_eq!(hc.interval, 30_000_000_000);
    assert_eq!(hc.retries, 3);
    assert_eq!(c.config.on_build, vec!["COPY . /srv", "RUN make"]);
    assert_eq!(c.config.shell, vec!["/bin/bash", "-c"]);
    assert!(c.config.exposed_ports.contains("80/tcp"));
    assert_eq!(c.author, "Jane <jane@example.com>");
    assert!(c.history[1].empty_layer);
    assert!(c.extra.contains_key("moby.buildkit.buildinfo.v1"));
    let out = String::from_utf8(c.to_json().unwrap()).unwrap();
    assert_eq!(out, src);
    let canon = c.canonical(true).unwrap();
    assert_eq!(canon.digest, json::sha256_digest(src.as_bytes()));
    assert_eq!(canon.media_type, MEDIA_TYPE_OCI_CONFIG);
}

#[test]
fn classic_docker_config_keeps_unknown_fields() {
    // As the pre-BuildKit daemon wrote it: its own key order, nulls, container_config, etc.
    let src = format!(
        concat!(
            r##"{{"architecture":"amd64","config":{{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"Tty":false,"##,
            r##""Env":["PATH=/bin"],"Cmd":["/bin/sh"],"Image":"sha256:abc","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{{}}}},"##,
            r##""container":"3f2b","container_config":{{"Hostname":"3f2b","Cmd":["/bin/sh","-c","#(nop) ","CMD [\"/bin/sh\"]"]}},"##,
            r##""created":"2023-01-09T17:05:20.656498283Z","docker_version":"20.10.12","##,
            r##""history":[{{"created":"2023-01-09T17:05:20.656498283Z","created_by":"/bin/sh -c #(nop)  CMD [\"/bin/sh\"]","empty_layer":true}}],"##,
            r##""os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"##
        ),
        DIFF1
    );
    let c = ImageConfig::from_slice(src.as_bytes()).unwrap();
    assert!(c.config.volumes.is_empty() && c.config.entrypoint.is_empty());
    assert_eq!(c.config.extra["Image"], "sha256:abc");
    assert_eq!(c.extra["docker_version"], "20.10.12");
    let out = String::from_utf8(c.to_json().unwrap()).unwrap();
    // Known fields in struct order, empty ones dropped (Go's omitempty), unknown ones kept.
    let want = format!(
        concat!(
            r##"{{"architecture":"amd64","config":{{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"Hostname":"","Domainname":"","AttachStdin":false,"Tty":false,"Image":"sha256:abc"}},"##,
            r##""container":"3f2b","container_config":{{"Hostname":"3f2b","Cmd":["/bin/sh","-c","#(nop) ","CMD [\"/bin/sh\"]"]}},"##,
            r##""created":"2023-01-09T17:05:20.656498283Z","docker_version":"20.10.12","##,
            r##""history":[{{"created":"2023-01-09T17:05:20.656498283Z","created_by":"/bin/sh -c #(nop)  CMD [\"/bin/sh\"]","empty_layer":true}}],"##,
            r##""os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"##
        ),
        DIFF1
    );
    assert_eq!(out, want);
    // And a second round-trip is stable.
    let again = ImageConfig::from_slice(out.as_bytes()).unwrap();
    assert_eq!(again, c);
    assert_eq!(String::from_utf8(again.to_json().unwrap()).unwrap(), want);
}

#[test]
fn built_config_serializes_like_buildkit() {
    let mut c = ImageConfig {
        created: Some(format_rfc3339_nano(0, 0)),
        architecture: "amd64".into(),
        os: "linux".into(),
        ..Default::default()
    };
    c.config.env.push("PATH=/bin".into());
    c.config.healthcheck = Some(Healthcheck {
        test: vec!["NONE".into()],
        ..Default::default()
    });
    c.config.volumes.insert("/b".into());
    c.config.volumes.insert("/a".into());
    c.rootfs.diff_ids.push(DIFF2.into());
    c.history.push(History {
        created: Some(format_rfc3339_nano(0, 0)),
        created_by: "COPY x /x # buildkit".into(),
        comment: "buildkit.dockerfile.v0".into(),
        ..Default::default()
    });
    let out = String::from_utf8(c.to_json().unwrap()).unwrap();
    let want = format!(
        concat!(
            r##"{{"architecture":"amd64","config":{{"Env":["PATH=/bin"],"Volumes":{{"/a":{{}},"/b":{{}}}},"Healthcheck":{{"Test":["NONE"]}}}},"##,
            r##""created":"1970-01-01T00:00:00Z","history":[{{"created":"1970-01-01T00:00:00Z","created_by":"COPY x /x # buildkit","comment":"buildkit.dockerfile.v0"}}],"##,
            r##""os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"##
        ),
        DIFF2
    );
    assert_eq!(out, want);
    // A scratch image still has a config object and an (empty) diff_ids array.
    let empty = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        ..Default::default()
    };
    assert_eq!(
        String::from_utf8(empty.to_json().unwrap()).unwrap(),
        r##"{"architecture":"amd64","config":{},"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"##
    );
}

#[test]
fn manifest_bytes_match_buildkit_layout() {
    let config = Descriptor::new(MEDIA_TYPE_OCI_CONFIG, DIFF1, 1234);
    let layer = Descriptor::new("application/vnd.oci.image.layer.v1.tar+gzip", DIFF2, 99);
    let m = Manifest::new(MediaTypes::Oci, config, vec![layer]);
    let c = m.canonical().unwrap();
    let want = format!(
        "{{\n   \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n   \"schemaVersion\": 2,\n   \"config\": {{\n      \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n      \"digest\": \"{DIFF1}\",\n      \"size\": 1234\n   }},\n   \"layers\": [\n      {{\n         \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n         \"digest\": \"{DIFF2}\",\n         \"size\": 99\n      }}\n   ]\n}}"
    );
    assert_eq!(String::from_utf8(c.bytes.clone()).unwrap(), want);
    assert_eq!(c.digest, json::sha256_digest(want.as_bytes()));
    assert_eq!(c.descriptor().media_type, MEDIA_TYPE_OCI_MANIFEST);
    assert_eq!(c.descriptor().size as usize, want.len());
    assert_eq!(Manifest::from_slice(&c.bytes).unwrap(), m);

    // Zero layers: `[]`, never `null`.
    let empty = Manifest::new(
        MediaTypes::Docker,
        Descriptor::new(MEDIA_TYPE_DOCKER_CONFIG, DIFF1, 1),
        vec![],
    );
    let s = String::from_utf8(empty.canonical().unwrap().bytes).unwrap();
    assert!(s.contains("\"layers\": []"), "{s}");
    assert!(s.starts_with(
        "{\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\""
    ));
}

#[test]
fn index_with_platforms() {
    let mut d = Descriptor::new(MEDIA_TYPE_DOCKER_MANIFEST, DIFF1, 10);
    d.platform = Platform::parse("linux/arm64/v8");
    let idx = Index::new(MediaTypes::Docker, vec![d]);
    let c = idx.canonical().unwrap();
    let v: Value = serde_json::from_slice(&c.bytes).unwrap();
    assert_eq!(v["mediaType"], MEDIA_TYPE_DOCKER_MANIFEST_LIST);
    assert_eq!(v["manifests"][0]["platform"]["variant"], "v8");
    let s = String::from_utf8(c.bytes).unwrap();
    assert!(s.contains(
        "\"platform\": {\n            \"architecture\": \"arm64\",\n            \"os\": \"linux\",\n            \"variant\": \"v8\"\n         }"
    ), "{s}");
    assert!(Platform::parse("linux").is_none());
    assert!(Platform::parse("linux/amd64/v2/x").is_none());
}

#[test]
fn registry_manifest_in_docker_field_order_parses() {
    // Docker's distribution library writes size before digest; order does not matter on read,
    // and an unknown field survives a round-trip.
    let src = format!(
        r##"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_DOCKER_MANIFEST}","config":{{"mediaType":"{MEDIA_TYPE_DOCKER_CONFIG}","size":1469,"digest":"{DIFF1}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2814446,"digest":"{DIFF2}","x-extra":1}}]}}"##
    );
    let m = Manifest::from_slice(src.as_bytes()).unwrap();
    assert_eq!(m.config.size, 1469);
    assert_eq!(m.layers[0].extra["x-extra"], 1);
    let back = Manifest::from_slice(&m.canonical().unwrap().bytes).unwrap();
    assert_eq!(back, m);
}
