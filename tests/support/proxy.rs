//! An HTTP/1.1 proxy in front of a test registry that injects failures
//! or plays a part of a registry deployment (a storage host, a front end
//! that refuses chunked uploads). One request per connection (it forces
//! `Connection: close`); chunked request bodies are read whole and
//! forwarded with a length.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::Engine as _;

/// What the failure-injecting proxy does.
#[derive(Clone, Debug)]
pub enum ProxyMode {
    /// Answer 503 to the first request for each path, then forward.
    Fail503Once,
    /// Close the connection without an answer on the first request for each path.
    DropOnce,
    /// Forward, but send response bytes at about this many bytes/second.
    Throttle(usize),
    /// Forward, but flip the last byte of blob bodies.
    CorruptBlobs,
    /// Forward, but read request bodies at about this many bytes/second
    /// (counted in [`Proxy::uploaded`]).
    ThrottleUpload(usize),
    /// Answer every PATCH (a chunked upload) with distribution's 405
    /// `UNSUPPORTED` error once its body is read, as a registry front end
    /// that takes monolithic uploads only.
    RefusePatch,
    /// Forward with the `Host` header set to this `host:port`: the
    /// registry's absolute upload `Location`s then name that host.
    Rehost(String),
    /// A storage host an upload `Location` sends the client to: forward
    /// with the registry's basic credentials (`testuser`/`testpass`) added,
    /// as a signed URL needs none from the client.
    Sign,
}

/// An HTTP proxy in front of a registry that injects failures.
pub struct Proxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Failures injected so far.
    pub injected: Arc<AtomicUsize>,
    /// Request body bytes read so far in [`ProxyMode::ThrottleUpload`].
    pub uploaded: Arc<AtomicUsize>,
    /// Requests forwarded so far.
    pub forwarded: Arc<AtomicUsize>,
    /// Requests that arrived with an `Authorization` header.
    pub authorized: Arc<AtomicUsize>,
    /// The method of every request, in order of arrival.
    pub methods: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` in `mode`.
    pub fn start(upstream: &str, mode: ProxyMode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let counters = Counters::default();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let (c, st, up) = (counters.clone(), stop.clone(), upstream.to_string());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (c, seen, up, mode) = (c.clone(), seen.clone(), up.clone(), mode.clone());
                thread::spawn(move || {
                    let _ = proxy_conn(conn, &up, &mode, &c, &seen);
                });
            }
        });
        Proxy {
            addr,
            injected: counters.injected,
            uploaded: counters.uploaded,
            forwarded: counters.forwarded,
            authorized: counters.authorized,
            methods: counters.methods,
            stop,
        }
    }
}

#[derive(Clone, Default)]
struct Counters {
    injected: Arc<AtomicUsize>,
    uploaded: Arc<AtomicUsize>,
    forwarded: Arc<AtomicUsize>,
    authorized: Arc<AtomicUsize>,
    methods: Arc<Mutex<Vec<String>>>,
}

/// Reads a chunked body (RFC 9112 7.1) to its end, trailers dropped; `step` bytes at a time,
/// each read reported to `on_read` (which throttles and counts in ThrottleUpload mode).
fn read_chunked(
    r: &mut impl BufRead,
    step: usize,
    mut on_read: impl FnMut(usize),
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, line.clone()))?;
        if n == 0 {
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line == "\r\n" {
                    return Ok(body);
                }
            }
        }
        let mut at = body.len();
        body.resize(at + n, 0);
        while at < body.len() {
            let end = body.len().min(at.saturating_add(step));
            r.read_exact(&mut body[at..end])?;
            on_read(end - at);
            at = end;
        }
        line.clear();
        r.read_line(&mut line)?;
    }
}

fn proxy_conn(
    conn: TcpStream,
    upstream: &str,
    mode: &ProxyMode,
    counters: &Counters,
    seen: &Mutex<HashSet<String>>,
) -> std::io::Result<()> {
    let (injected, uploaded) = (&counters.injected, &counters.uploaded);
    let mut r = BufReader::new(conn.try_clone()?);
    let mut w = conn;
    // One request per connection: we force `Connection: close`.
    let mut head = String::new();
    r.read_line(&mut head)?;
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let method = head.split_whitespace().next().unwrap_or("").to_string();
    counters.methods.lock().unwrap().push(method.clone());
    let mut hdrs = Vec::new();
    let mut clen = 0usize;
    let mut chunked = false;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 || l == "\r\n" {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if lower.starts_with("authorization:") {
            counters.authorized.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            clen = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
            continue;
        }
        match mode {
            ProxyMode::Rehost(host) if lower.starts_with("host:") => {
                hdrs.push(format!("Host: {host}\r\n"));
                continue;
            }
            ProxyMode::Sign if lower.starts_with("authorization:") => continue,
            _ => {}
        }
        hdrs.push(l);
    }
    if let ProxyMode::Sign = mode {
        let creds = base64::engine::general_purpose::STANDARD.encode("testuser:testpass");
        hdrs.push(format!("Authorization: Basic {creds}\r\n"));
    }
    let mut body = vec![0u8; clen];
    if chunked {
        body = match mode {
            ProxyMode::ThrottleUpload(bps) => {
                let step = (bps / 20).max(1);
                read_chunked(&mut r, step, |n| {
                    uploaded.fetch_add(n, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(50));
                })?
            }
            _ => read_chunked(&mut r, usize::MAX, |_| {})?,
        };
        hdrs.push(format!("Content-Length: {}\r\n", body.len()));
    } else if let ProxyMode::ThrottleUpload(bps) = mode {
        let step = (bps / 20).max(1);
        let mut got = 0;
        while got < clen {
            let n = r.read(&mut body[got..clen.min(got + step)])?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got += n;
            uploaded.fetch_add(n, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(50));
        }
    } else {
        r.read_exact(&mut body)?;
    }
    let first = seen.lock().unwrap().insert(format!("{method} {path}"));
    if let (ProxyMode::RefusePatch, "PATCH") = (mode, method.as_str()) {
        injected.fetch_add(1, Ordering::SeqCst);
        let body =
            r#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#;
        w.write_all(
            format!(
                "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )?;
        return Ok(());
    }
    counters.forwarded.fetch_add(1, Ordering::SeqCst);
    match mode {
        ProxyMode::Fail503Once if first && path != "/v2/" => {
            injected.fetch_add(1, Ordering::SeqCst);
            w.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            return Ok(());
        }
        ProxyMode::DropOnce if first && path != "/v2/" => {
            injected.fetch_add(1, Ordering::SeqCst);
            let _ = w.shutdown(Shutdown::Both);
            return Ok(());
        }
        _ => {}
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(head.as_bytes())?;
    for h in &hdrs {
        up.write_all(h.as_bytes())?;
    }
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&body)?;
    match mode {
        ProxyMode::Throttle(bps) => {
            let mut buf = vec![0u8; (*bps / 20).max(1)];
            loop {
                let n = up.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n])?;
                thread::sleep(Duration::from_millis(50));
            }
        }
        ProxyMode::CorruptBlobs if path.contains("/blobs/sha256:") && method == "GET" => {
            let mut all = Vec::new();
            up.read_to_end(&mut all)?;
            if let Some(last) = all.last_mut() {
                *last ^= 0xff;
                injected.fetch_add(1, Ordering::SeqCst);
            }
            w.write_all(&all)?;
        }
        _ => {
            std::io::copy(&mut up, &mut w)?;
        }
    }
    Ok(())
}
