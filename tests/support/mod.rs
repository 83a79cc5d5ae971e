//! Shared test helpers: a real registry (Debian's `docker-registry`, i.e.
//! distribution v2.8) started on a free port in plain, htpasswd or token
//! mode; a token server; an HTTP proxy that injects failures; and a
//! deterministic busybox base image pushed in OCI, index and schema2 forms.
//!
//! Needs (installed on first use if missing, as root): docker-registry,
//! apache2-utils (htpasswd), busybox-static, skopeo, openssl.

#![allow(dead_code)]

pub mod attest;
pub mod fixtures;
pub mod images;
pub mod multiarch;
pub mod podman;
pub mod proxy;
pub mod world;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

// Not every test uses the proxy.
#[allow(unused_imports)]
pub use proxy::{Proxy, ProxyMode};

/// sha256:hex of bytes.
pub fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// Installs the Debian packages the tests need, once per process.
pub fn ensure_packages() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let need = [
            ("docker-registry", "docker-registry"),
            ("htpasswd", "apache2-utils"),
            ("busybox", "busybox-static"),
            ("skopeo", "skopeo"),
            ("openssl", "openssl"),
        ];
        let missing: Vec<&str> = need
            .iter()
            .filter(|(bin, _)| {
                !Command::new("sh")
                    .arg("-c")
                    .arg(format!("command -v {bin}"))
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .map(|(_, pkg)| *pkg)
            .collect();
        if missing.is_empty() {
            return;
        }
        let ok = Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
            || (Command::new("apt-get")
                .args(["update", "-q"])
                .status()
                .is_ok_and(|s| s.success())
                && Command::new("apt-get")
                    .args(["install", "-y", "-q"])
                    .args(&missing)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .status()
                    .is_ok_and(|s| s.success()));
        assert!(ok, "could not install {missing:?}; install them and rerun");
    });
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP reply: status, lower-cased headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// Minimal blocking HTTP/1.1 request.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s);
    let (status, hdrs) = read_head(&mut r)?;
    let mut body = Vec::new();
    r.read_to_end(&mut body)?;
    Ok((status, hdrs, body))
}

fn read_head(r: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut hdrs = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            hdrs.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Ok((status, hdrs))
}

/// How a test registry authenticates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Auth {
    /// No auth.
    Plain,
    /// htpasswd basic auth (`testuser` / `testpass`).
    Htpasswd,
    /// Bearer token flow via [`TokenServer`] (`testuser` / `testpass`).
    Token,
}

/// Test credentials for the auth modes.
pub const USER: &str = "testuser";
/// Test password.
pub const PASS: &str = "testpass";

/// A running `docker-registry`, killed on drop.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    child: Child,
    /// The token server in token mode.
    pub token: Option<TokenServer>,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts a registry in `auth` mode.
    pub fn start(auth: Auth) -> Registry {
        Self::start_with(auth, None)
    }

    /// Starts a registry serving https with this PEM certificate and key.
    pub fn start_tls(cert: &Path, key: &Path) -> Registry {
        Self::start_with(Auth::Plain, Some((cert, key)))
    }

    /// Starts a registry in `auth` mode that answers with relative URLs
    /// (`http.relativeurls`: upload `Location`s such as `/v2/…`).
    pub fn start_relative_urls(auth: Auth) -> Registry {
        Self::start_full(auth, None, "  relativeurls: true\n")
    }

    fn start_with(auth: Auth, tls: Option<(&Path, &Path)>) -> Registry {
        Self::start_full(auth, tls, "")
    }

    fn start_full(auth: Auth, tls: Option<(&Path, &Path)>, http_extra: &str) -> Registry {
        ensure_packages();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut token = None;
        let auth_yaml = match auth {
            Auth::Plain => String::new(),
            Auth::Htpasswd => {
                let hp = dir.path().join("htpasswd");
                let st = Command::new("htpasswd")
                    .args(["-Bbc"])
                    .arg(&hp)
                    .args([USER, PASS])
                    .output()
                    .unwrap();
                assert!(
                    st.status.success(),
                    "htpasswd: {}",
                    String::from_utf8_lossy(&st.stderr)
                );
                format!(
                    "auth:\n  htpasswd:\n    realm: builder-test\n    path: {}\n",
                    hp.display()
                )
            }
            Auth::Token => {
                let ts = TokenServer::start(dir.path());
                let y = format!(
                    "auth:\n  token:\n    realm: http://{}/token\n    service: builder-test-registry\n    issuer: builder-test-issuer\n    rootcertbundle: {}\n",
                    ts.addr,
                    ts.cert.display()
                );
                token = Some(ts);
                y
            }
        };
        let tls_yaml = tls.map_or(String::new(), |(c, k)| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                c.display(),
                k.display()
            )
        });
        let cfg = dir.path().join("config.yml");
        fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: builder-test-secret\n{http_extra}{tls_yaml}{auth_yaml}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let reg = Registry {
            addr: addr.clone(),
            child,
            token,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((s, _, _)) = http(&addr, "GET", "/v2/", &[], b"") {
                // Plain http to the https port gets 400: it listens.
                if s == 200 || s == 401 || (tls.is_some() && s == 400) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                fs::read_to_string(reg._dir.path().join("registry.log")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    /// The registry's storage root (`docker/registry/v2/…` below it).
    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// The registry's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self._dir.path().join("registry.log")).unwrap_or_default()
    }
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A token server for distribution's `auth: token` mode: checks basic
/// credentials and issues RS256 JWTs signed with a key whose certificate
/// is the registry's `rootcertbundle`.
pub struct TokenServer {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The certificate file.
    pub cert: PathBuf,
    /// Token requests served.
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// libtrust's key ID: base32 of the first 240 bits of sha256(SPKI DER),
/// in 4-character groups joined by ':'.
fn libtrust_kid(spki_der: &[u8]) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let h = Sha256::digest(spki_der);
    let bytes = &h[..30];
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = String::new();
    for b in bytes {
        bits = (bits << 8) | *b as u32;
        nbits += 8;
        while nbits >= 5 {
            out.push(ALPHA[((bits >> (nbits - 5)) & 31) as usize] as char);
            nbits -= 5;
        }
    }
    out.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join(":")
}

impl TokenServer {
    fn start(dir: &Path) -> TokenServer {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=builder-test-token",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let spki = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform DER",
                cert.display()
            ))
            .output()
            .unwrap();
        assert!(spki.status.success());
        let kid = libtrust_kid(&spki.stdout);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (req2, stop2) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                req2.fetch_add(1, Ordering::SeqCst);
                let (key, kid) = (key.clone(), kid.clone());
                thread::spawn(move || {
                    let _ = serve_token(conn, &key, &kid);
                });
            }
        });
        TokenServer {
            addr,
            cert,
            requests,
            stop,
        }
    }
}

fn serve_token(conn: TcpStream, key: &Path, kid: &str) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (_, hdrs) = (0, {
        let mut h = Vec::new();
        loop {
            let mut l = String::new();
            if r.read_line(&mut l)? == 0 || l == "\r\n" {
                break;
            }
            if let Some((k, v)) = l.trim_end().split_once(':') {
                h.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        h
    });
    let mut w = conn;
    let authed = hdrs
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"))
    );
    let user = match authed {
        Some(a) if a == expected => USER,
        Some(_) => {
            w.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 34\r\nConnection: close\r\n\r\n{\"details\":\"invalid credentials\"}\n")?;
            return Ok(());
        }
        None => "",
    };
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut access = Vec::new();
    for kv in query.split('&') {
        if let Some(("scope", v)) = kv.split_once('=') {
            let v = v
                .replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%2C", ",");
            let parts: Vec<&str> = v.split(':').collect();
            // Anonymous users get a token without access: the registry
            // then answers 401, as a real one would.
            if parts.len() == 3 && !user.is_empty() {
                access.push(json!({"type": parts[0], "name": parts[1], "actions": parts[2].split(',').collect::<Vec<_>>()}));
            }
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": kid});
    let claims = json!({
        "iss": "builder-test-issuer", "sub": user, "aud": "builder-test-registry",
        "exp": now + 600, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", rand_u64()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())?;
    let sig = child.wait_with_output()?.stdout;
    let token = format!("{signing_input}.{}", b64url(&sig));
    let body = json!({"token": token, "access_token": token, "expires_in": 600}).to_string();
    write!(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    Ok(())
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .unwrap();
    u64::from_le_bytes(b)
}

/// `lines` numbered text lines, then `noise` bytes of xorshift noise: a
/// file that compresses in several 1 MiB gzip blocks of both kinds
/// (deflated text, stored runs), the same bytes every time.
pub fn text_and_noise(lines: u32, noise: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..lines {
        data.extend_from_slice(format!("line {i} of the layer\n").as_bytes());
    }
    let mut x = 0x9e37_79b9_u32;
    for _ in 0..noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push((x >> 24) as u8);
    }
    data
}

/// A store and a docker config dir, for the builder commands of a test.
pub struct Env {
    pub root: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

#[allow(clippy::new_without_default)]
impl Env {
    /// Fresh, empty dirs.
    pub fn new() -> Env {
        Env {
            root: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        }
    }
    /// A builder command on this store.
    pub fn cmd(&self) -> std::process::Command {
        builder(self.root.path(), self.home.path())
    }
    /// Runs builder with `args`, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        run_ok(self.cmd().args(args))
    }
    /// Runs builder with `args`, asserting failure; returns stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let o = run(self.cmd().args(args));
        assert!(!o.status.success(), "{args:?} unexpectedly succeeded");
        String::from_utf8_lossy(&o.stderr).to_string()
    }
    /// The store's `index.json`.
    pub fn index(&self) -> Value {
        serde_json::from_slice(&fs::read(self.root.path().join("index.json")).unwrap()).unwrap()
    }
    /// `builder inspect r`, parsed.
    pub fn inspect(&self, r: &str) -> Value {
        serde_json::from_str(&self.ok(&["inspect", r])).unwrap()
    }
}

/// Runs a command, returning its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Runs a command and asserts success; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The `builder` binary with a store root and an isolated docker config.
pub fn builder(root: &Path, docker_config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_builder"));
    c.env("BUILDER_ROOT", root)
        .env("DOCKER_CONFIG", docker_config)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", docker_config);
    c
}

fn tar_header(path: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_path(path).unwrap();
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// The busybox rootfs as a deterministic, uncompressed layer tar, laid
/// out like a distribution.
pub fn busybox_layer_tar() -> Vec<u8> {
    ensure_packages();
    let bb = fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
    let list = run_ok(Command::new("/bin/busybox").arg("--list-full"));
    let mut links: Vec<String> = list
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty() && l != "bin/busybox")
        .collect();
    links.sort();
    links.dedup();
    let mut b = tar::Builder::new(Vec::new());
    let dirs = [
        ("bin/", 0o755),
        ("etc/", 0o755),
        ("root/", 0o700),
        ("sbin/", 0o755),
        ("tmp/", 0o1777),
        ("usr/", 0o755),
        ("usr/bin/", 0o755),
        ("usr/local/", 0o755),
        ("usr/local/bin/", 0o755),
        ("usr/sbin/", 0o755),
    ];
    // (path, file content, symlink target, mode)
    type Entry<'a> = (String, Option<&'a [u8]>, Option<String>, u32);
    let mut entries: Vec<Entry> = Vec::new();
    for (d, m) in dirs {
        entries.push((d.to_string(), None, None, m));
    }
    entries.push(("bin/busybox".into(), Some(&bb), None, 0o755));
    let passwd =
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    let group = b"root:x:0:\nnogroup:x:65534:\n";
    entries.push(("etc/passwd".into(), Some(passwd), None, 0o644));
    entries.push(("etc/group".into(), Some(group), None, 0o644));
    for l in &links {
        let depth = l.matches('/').count();
        let target = format!("{}bin/busybox", "../".repeat(depth));
        entries.push((l.clone(), None, Some(target), 0o777));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, data, link, mode) in entries {
        if let Some(t) = link {
            let mut h = tar_header(&path, tar::EntryType::Symlink, mode, 0);
            h.set_link_name(&t).unwrap();
            h.set_cksum();
            b.append(&h, std::io::empty()).unwrap();
        } else if let Some(d) = data {
            let mut h = tar_header(&path, tar::EntryType::Regular, mode, d.len() as u64);
            h.set_cksum();
            b.append(&h, d).unwrap();
        } else {
            let mut h = tar_header(&path, tar::EntryType::Directory, mode, 0);
            h.set_cksum();
            b.append(&h, std::io::empty()).unwrap();
        }
    }
    b.into_inner().unwrap()
}

/// gzip with a fixed header (no name, mtime 0).
pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// An image written as an OCI layout, ready for `skopeo copy`.
pub struct BaseImage {
    /// The OCI layout directory.
    pub layout: tempfile::TempDir,
    /// amd64 manifest digest.
    pub amd64: String,
    /// arm64/v8 manifest digest.
    pub arm64: String,
    /// Index digest.
    pub index: String,
    /// The (gzip) layer blob digest.
    pub layer: String,
    /// The layer's diffID.
    pub diff_id: String,
}

fn put_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let d = digest(bytes);
    fs::write(layout.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
    (d, bytes.len())
}

/// Builds the busybox image (plus `extra` random bytes in a second layer
/// when non-zero) for amd64 and arm64/v8, as an OCI layout with refs
/// `amd64`, `arm64` and `index`.
pub fn make_base_image(extra: usize) -> BaseImage {
    let layout = tempfile::tempdir().unwrap();
    let p = layout.path();
    fs::create_dir_all(p.join("blobs/sha256")).unwrap();
    fs::write(p.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let tar = busybox_layer_tar();
    let diff_id = digest(&tar);
    let gz = gzip(&tar);
    let (layer, layer_size) = put_blob(p, &gz);
    let mut layers = vec![
        json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}),
    ];
    let mut diff_ids = vec![json!(diff_id)];
    if extra > 0 {
        let mut data = vec![0u8; extra];
        fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut data)
            .unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar_header("random.bin", tar::EntryType::Regular, 0o644, extra as u64);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
        let t = b.into_inner().unwrap();
        diff_ids.push(json!(digest(&t)));
        // gzip, so skopeo pushes it as-is (it compresses plain layers).
        let (d, n) = put_blob(p, &gzip(&t));
        layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n}));
    }
    let mut manifests = Vec::new();
    let mut digests = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let mut cfg = json!({
            "created": "1970-01-01T00:00:00Z",
            "architecture": arch, "os": "linux",
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "busybox-static rootfs (builder tests)"}],
        });
        if let Some(v) = variant {
            cfg["variant"] = json!(v);
        }
        let (cd, cn) = put_blob(p, cfg.to_string().as_bytes());
        let m = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
            "layers": layers,
        });
        let (md, mn) = put_blob(p, m.to_string().as_bytes());
        let mut plat = json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            plat["variant"] = json!(v);
        }
        manifests.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn, "platform": plat}));
        digests.push((md, mn));
    }
    let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    let (id, in_) = put_blob(p, idx.to_string().as_bytes());
    let refd = |d: &str, n: usize, mt: &str, name: &str| json!({"mediaType": mt, "digest": d, "size": n, "annotations": {"org.opencontainers.image.ref.name": name}});
    let top = json!({"schemaVersion": 2, "manifests": [
        refd(&digests[0].0, digests[0].1, "application/vnd.oci.image.manifest.v1+json", "amd64"),
        refd(&digests[1].0, digests[1].1, "application/vnd.oci.image.manifest.v1+json", "arm64"),
        refd(&id, in_, "application/vnd.oci.image.index.v1+json", "index"),
    ]});
    fs::write(p.join("index.json"), top.to_string()).unwrap();
    BaseImage {
        amd64: digests[0].0.clone(),
        arm64: digests[1].0.clone(),
        index: id,
        layer,
        diff_id,
        layout,
    }
}

impl BaseImage {
    /// Pushes ref `which` (`amd64`, `arm64`, `index`) to `dest`
    /// (`host:port/repo:tag`) with skopeo; `v2s2` converts to Docker schema2.
    pub fn push(&self, which: &str, dest: &str, v2s2: bool, creds: Option<&str>) {
        let mut c = Command::new("skopeo");
        c.args(["copy", "-q", "--dest-tls-verify=false"]);
        if which == "index" {
            c.arg("--all");
        }
        if v2s2 {
            c.args(["--format", "v2s2"]);
        }
        if let Some(cr) = creds {
            c.args(["--dest-creds", cr]);
        }
        c.arg(format!("oci:{}:{which}", self.layout.path().display()))
            .arg(format!("docker://{dest}"));
        run_ok(&mut c);
    }
}

/// Fetches a manifest digest from a registry with skopeo.
pub fn skopeo_digest(reference: &str, creds: Option<&str>) -> String {
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(cr) = creds {
        c.args(["--creds", cr]);
    }
    let raw = run_ok(c.arg(format!("docker://{reference}")));
    digest(raw.as_bytes())
}

/// Checks every blob in a store: the file's digest matches its name.
pub fn verify_store(root: &Path) -> usize {
    let mut n = 0;
    for e in fs::read_dir(root.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        let got = digest(&fs::read(e.path()).unwrap());
        assert_eq!(
            got,
            format!("sha256:{name}"),
            "blob {name} has wrong content"
        );
        n += 1;
    }
    let idx: Value = serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    for m in idx["manifests"].as_array().unwrap() {
        let d = m["digest"].as_str().unwrap();
        assert!(
            root.join("blobs/sha256").join(&d[7..]).is_file(),
            "tagged manifest {d} missing"
        );
    }
    n
}

/// Writes a docker config.json with basic credentials for `host`.
pub fn write_docker_config(dir: &Path, host: &str, user: &str, pass: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    fs::create_dir_all(dir).unwrap();
    let p = dir.join("config.json");
    fs::write(&p, json!({"auths": {host: {"auth": auth}}}).to_string()).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
}

/// The busybox rootfs of `scripts/mkrootfs-busybox.sh` (the demo's base),
/// made once per test process under the target's tmp dir as `name`.
pub fn busybox_rootfs(name: &str) -> PathBuf {
    static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.iter().any(|n| n == name) {
        ensure_packages();
        let _ = fs::remove_dir_all(&dir);
        run_ok(
            Command::new("bash")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkrootfs-busybox.sh"))
                .arg(&dir),
        );
        made.push(name.to_string());
    }
    dir
}

/// Runs a command and asserts success; returns stdout and stderr together
/// (build logs go to stderr).
pub fn run_ok_all(cmd: &mut Command) -> String {
    let o = run(cmd);
    output_ok(&o, &format!("{cmd:?}"))
}

/// A finished command's stdout and stderr together (build logs go to
/// stderr); panics with them, naming `what`, when it failed.
pub fn output_ok(o: &Output, what: &str) -> String {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{what} failed:\n{all}");
    all
}

/// Gives `cmd`'s child the default SIGINT disposition. A SIGINT ignored by
/// whoever started the tests (a script's `trap "" INT`, a `cmd &` in a
/// non-interactive shell) is inherited across exec and would make the
/// Ctrl-C tests' signal vanish.
pub fn default_sigint(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: signal(2) is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        })
    }
}

/// The `rootfs.diff_ids` of `builder inspect` output: an image config, or
/// a record whose `Config` is one.
pub fn diff_ids(inspect_json: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(inspect_json).unwrap();
    let cfg = if v.get("rootfs").is_some() {
        &v
    } else {
        &v["Config"]
    };
    cfg["rootfs"]["diff_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no diff_ids in {v}"))
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

/// Every file of a tar archive (an OCI or docker archive) by entry name.
pub fn tar_files(archive: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut a = tar::Archive::new(fs::File::open(archive).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().to_string();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        files.insert(p, b);
    }
    files
}
