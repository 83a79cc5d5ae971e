//! A private registry with its own CA: a real `docker-registry` serving https with a
//! certificate from a CA made here with openssl. Without the CA the push fails on the
//! certificate; with `ca = ` in registries.toml, or the CA in a Docker-style
//! `certs.d/HOST:PORT/ca.crt`, push and pull work. Needs docker-registry and openssl.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::{run, run_ok, Registry};

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`.
fn make_certs(dir: &Path) {
    let sh = |args: &[&str]| {
        run_ok(Command::new("openssl").args(args).current_dir(dir));
    };
    sh(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=builder test CA",
    ]);
    sh(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

#[test]
fn a_registry_with_its_own_ca_is_trusted_by_ca_key_or_certs_d() {
    let dir = tempfile::Builder::new()
        .prefix("registry-ca-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    make_certs(d);
    let reg = Registry::start_tls(&d.join("server.crt"), &d.join("server.key"));
    let ctx = d.join("ctx");
    fs::create_dir(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY a /a\n").unwrap();
    fs::write(ctx.join("a"), "over tls\n").unwrap();
    let builder = |home: &str| support::builder(&d.join(format!("{home}/store")), &d.join(home));
    let push = |home: &str, extra: &[&str], tag: &str| {
        run(builder(home)
            .args(["build", "--progress", "plain", "--push"])
            .args(extra)
            .args(["-t", &format!("{}/app:{tag}", reg.addr)])
            .arg(&ctx))
    };

    // https forced, no CA: the certificate is refused.
    let no_ca = d.join("no-ca.toml");
    fs::write(
        &no_ca,
        format!("[registry.\"{}\"]\ninsecure = false\n", reg.addr),
    )
    .unwrap();
    let o = push("h0", &["--registry-config", no_ca.to_str().unwrap()], "0");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "pushed without the CA");
    assert!(
        err.to_lowercase().contains("certificate"),
        "not a certificate error: {err}"
    );

    // `ca = ` (relative to the config file): https on loopback, push works.
    fs::copy(d.join("ca.crt"), d.join("my-ca.pem")).unwrap();
    let with_ca = d.join("with-ca.toml");
    fs::write(
        &with_ca,
        format!("[registry.\"{}\"]\nca = \"my-ca.pem\"\n", reg.addr),
    )
    .unwrap();
    let o = push("h1", &["--registry-config", with_ca.to_str().unwrap()], "1");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A Docker-style certs.d directory in builder's config dir, no registries.toml.
    let certs = d.join(format!("h2/.config/builder/certs.d/{}", reg.addr));
    fs::create_dir_all(&certs).unwrap();
    fs::copy(d.join("ca.crt"), certs.join("ca.crt")).unwrap();
    let o = push("h2", &[], "2");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // And pulled back over https into another store with the same certs.d.
    let certs3 = d.join(format!("h3/.config/builder/certs.d/{}", reg.addr));
    fs::create_dir_all(&certs3).unwrap();
    fs::copy(d.join("ca.crt"), certs3.join("ca.crt")).unwrap();
    run_ok(builder("h3").args(["pull", &format!("{}/app:1", reg.addr)]));
    let images = run_ok(builder("h3").args(["images"]));
    assert!(images.contains(&format!("{}/app", reg.addr)), "{images}");

    // A CA file that is not PEM is an error naming it.
    let bad = d.join("bad.toml");
    fs::write(d.join("bad.pem"), "not a certificate").unwrap();
    fs::write(
        &bad,
        format!("[registry.\"{}\"]\nca = \"bad.pem\"\n", reg.addr),
    )
    .unwrap();
    let o = push("h4", &["--registry-config", bad.to_str().unwrap()], "4");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("bad.pem holds no PEM certificate"), "{err}");
}
