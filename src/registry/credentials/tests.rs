//! Tests of docker CLI credential handling: every `auths` form, login and
//! logout writing config.json as docker does, and the credential-helper
//! protocol.

use super::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn reads_auths_in_all_forms() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.json");
    std::fs::write(
        &p,
        r#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
            "https://reg.example.com/v1/":{"username":"u","password":"p"},
            "tok.example.com":{"auth":"dTo=","identitytoken":"refresh"},
            "empty.example.com":{}
        },"other":{"keep":true}}"#,
    )
    .unwrap();
    let c = DockerConfig::load(&p).unwrap();
    let hub = Credential::Basic {
        username: "hub".into(),
        password: "secret".into(),
    };
    assert_eq!(c.credential("docker.io").unwrap(), Some(hub.clone()));
    assert_eq!(c.credential("registry-1.docker.io").unwrap(), Some(hub));
    assert_eq!(
        c.credential("reg.example.com").unwrap(),
        Some(Credential::Basic {
            username: "u".into(),
            password: "p".into()
        })
    );
    assert!(
        matches!(c.credential("tok.example.com").unwrap(), Some(Credential::IdentityToken { token, .. }) if token == "refresh")
    );
    assert_eq!(c.credential("empty.example.com").unwrap(), None);
    assert_eq!(c.credential("none.example.com").unwrap(), None);
    let dbg = format!("{:?} {:?}", c.credential("docker.io").unwrap(), c);
    assert!(!dbg.contains("secret"), "{dbg}");
}

#[test]
fn login_logout_write_like_docker() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sub/config.json");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, r#"{"psFormat":"x"}"#).unwrap();
    let mut c = DockerConfig::load(&p).unwrap();
    c.store(
        "docker.io",
        &Credential::Basic {
            username: "a".into(),
            password: "b:c".into(),
        },
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(
        v["auths"]["https://index.docker.io/v1/"]["auth"],
        "YTpiOmM="
    );
    assert_eq!(v["psFormat"], "x");
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let c2 = DockerConfig::load(&p).unwrap();
    assert_eq!(
        c2.credential("docker.io").unwrap(),
        Some(Credential::Basic {
            username: "a".into(),
            password: "b:c".into()
        })
    );
    assert!(c.remove("docker.io").unwrap());
    assert!(!c.remove("docker.io").unwrap());
    assert_eq!(
        DockerConfig::load(&p)
            .unwrap()
            .credential("docker.io")
            .unwrap(),
        None
    );
}

#[test]
fn helper_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("docker-credential-fake");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\ncase \"$1:$server\" in\n get:127.0.0.1:5001) echo '{\"ServerURL\":\"x\",\"Username\":\"hu\",\"Secret\":\"hs\"}';;\n get:*) echo 'credentials not found in native keychain'; exit 1;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let prog = helper.to_str().unwrap();
    assert_eq!(
        helper_get(prog, "127.0.0.1:5001").unwrap(),
        Some(Credential::Basic {
            username: "hu".into(),
            password: "hs".into()
        })
    );
    assert_eq!(helper_get(prog, "other").unwrap(), None);
    let p = dir.path().join("config.json");
    std::fs::write(
        &p,
        r#"{"credsStore":"dflt","credHelpers":{"127.0.0.1:5001":"fake"}}"#,
    )
    .unwrap();
    let c = DockerConfig::load(&p).unwrap();
    assert_eq!(c.helper_for("127.0.0.1:5001").as_deref(), Some("fake"));
    assert_eq!(c.helper_for("docker.io").as_deref(), Some("dflt"));
    let err = c.credential("docker.io").unwrap_err();
    assert!(
        format!("{err:#}").contains("docker-credential-dflt"),
        "{err:#}"
    );
}
