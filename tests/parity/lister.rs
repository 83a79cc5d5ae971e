//! The parity lister: reads a `docker save`-format archive (manifest.json → config + layer tars,
//! compressed or not), applies the layers in order with OCI whiteout semantics and describes the
//! result as JSON without anything time-dependent (no mtimes, no `created`). The same code lists
//! Docker's archives when recording and builder's when comparing, so both sides are seen alike.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

/// The image config fields the suite compares (Docker's spelling, as in `config` of the image JSON).
pub const CONFIG_FIELDS: &[&str] = &[
    "User",
    "Env",
    "Entrypoint",
    "Cmd",
    "WorkingDir",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
    "ArgsEscaped",
];

/// One entry of the final root filesystem.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// "file", "dir", "symlink", "hardlink", "char", "block" or "fifo".
    pub kind: &'static str,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Content size (regular files and hardlinks), else 0.
    pub size: u64,
    /// sha256 of the content (regular files and hardlinks).
    pub sha256: Option<String>,
    /// Symlink target, or for hardlinks the path (absolute) of the group's first file.
    pub link: Option<String>,
    /// Extended attributes (PAX `SCHILY.xattr.NAME` records): name → hex of the value.
    pub xattrs: BTreeMap<String, String>,
}

/// A listed image: config, history, layer count and files, ready to turn into JSON.
#[derive(Debug, Clone)]
pub struct Listing {
    pub architecture: Value,
    pub os: Value,
    /// `variant` (arm64's `v8`, arm's `v7`); `null` when the config has none.
    pub variant: Value,
    /// Only the fields of [`CONFIG_FIELDS`], missing ones as `null`.
    pub config: Map<String, Value>,
    /// `(created_by, empty_layer)` for every history entry.
    pub history: Vec<(String, bool)>,
    pub layers: usize,
    /// Every layer's entries in tar order (see `layer_entries`).
    pub layer_listings: Vec<super::layer_entries::LayerListing>,
    /// Absolute path → entry, sorted.
    pub files: BTreeMap<String, FileEntry>,
}

/// A node while layers are applied: hardlinked paths share an inode number.
#[derive(Debug, Clone)]
struct Node {
    kind: &'static str,
    mode: u32,
    uid: u64,
    gid: u64,
    link: Option<String>,
    inode: u64,
    /// Extended attributes of non-files (files keep theirs on the inode).
    xattrs: BTreeMap<String, String>,
}

/// Content and owner of one inode (regular file contents live here, shared by hardlinks).
#[derive(Debug, Clone)]
struct Inode {
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    sha256: String,
    xattrs: BTreeMap<String, String>,
}

/// Reads a docker-archive tar into memory: every regular file by normalised path.
fn read_archive(path: &Path) -> Result<HashMap<String, Vec<u8>>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut ar = tar::Archive::new(f);
    let mut out = HashMap::new();
    for e in ar
        .entries()
        .with_context(|| format!("reading {}", path.display()))?
    {
        let mut e = e.with_context(|| format!("reading an entry of {}", path.display()))?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let name = normalise(&e.path()?.to_string_lossy());
        let mut buf = Vec::new();
        e.read_to_end(&mut buf)
            .with_context(|| format!("reading {name} in {}", path.display()))?;
        out.insert(name, buf);
    }
    Ok(out)
}

/// `./a/b/` → `a/b`: the path form used as map key inside archives and layers.
fn normalise(p: &str) -> String {
    let mut s = p.trim_start_matches("./").trim_start_matches('/');
    while let Some(t) = s.strip_suffix('/') {
        s = t;
    }
    let parts: Vec<&str> = s
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    parts.join("/")
}

/// Decompresses a layer blob by its magic bytes (gzip, zstd, bzip2, xz or plain tar).
fn decompress(blob: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if blob.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(blob)
            .read_to_end(&mut out)
            .context("gunzip layer")?;
    } else if blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::stream::read::Decoder::new(blob)
            .context("zstd layer")?
            .read_to_end(&mut out)
            .context("unzstd layer")?;
    } else if blob.starts_with(b"BZh") {
        bzip2::read::BzDecoder::new(blob)
            .read_to_end(&mut out)
            .context("bunzip2 layer")?;
    } else if blob.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        xz2::read::XzDecoder::new(blob)
            .read_to_end(&mut out)
            .context("unxz layer")?;
    } else {
        return Ok(blob.to_vec());
    }
    Ok(out)
}

/// The filesystem while layers are applied.
#[derive(Default)]
struct Tree {
    nodes: BTreeMap<String, Node>,
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
}

impl Tree {
    /// Removes `path` and everything below it.
    fn remove_tree(&mut self, path: &str) {
        self.nodes.remove(path);
        self.remove_children(path);
    }

    /// Removes everything below `dir` but keeps `dir` itself (opaque directories).
    fn remove_children(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Applies one uncompressed layer tar: first its whiteouts against the lower layers, then
    /// its entries in order (OCI image spec, "Whiteouts").
    fn apply_layer(&mut self, tar_bytes: &[u8], what: &str) -> Result<()> {
        // Pass 1: whiteouts only act on lower layers, whatever their position in the tar.
        let mut ar = tar::Archive::new(tar_bytes);
        for e in ar.entries().with_context(|| format!("reading {what}"))? {
            let e = e.with_context(|| format!("reading an entry of {what}"))?;
            let path = normalise(&e.path()?.to_string_lossy());
            let (dir, base) = split(&path);
            if base == ".wh..wh..opq" {
                self.remove_children(dir);
            } else if let Some(victim) = base.strip_prefix(".wh.") {
                let victim = join(dir, victim);
                self.remove_tree(&victim);
            }
        }
        // Pass 2: additions.
        let mut ar = tar::Archive::new(tar_bytes);
        for e in ar.entries().with_context(|| format!("reading {what}"))? {
            let mut e = e.with_context(|| format!("reading an entry of {what}"))?;
            let path = normalise(&e.path()?.to_string_lossy());
            if path.is_empty() {
                continue; // the root directory itself: not listed
            }
            let (_, base) = split(&path);
            if base.starts_with(".wh.") {
                continue;
            }
            let h = e.header().clone();
            let xattrs =
                xattrs_of(&mut e).with_context(|| format!("xattrs of {path} in {what}"))?;
            let mode = h
                .mode()
                .with_context(|| format!("mode of {path} in {what}"))?
                & 0o7777;
            let uid = h
                .uid()
                .with_context(|| format!("uid of {path} in {what}"))?;
            let gid = h
                .gid()
                .with_context(|| format!("gid of {path} in {what}"))?;
            let et = h.entry_type();
            let link_name = || -> Result<String> {
                Ok(e.link_name()?
                    .ok_or_else(|| anyhow!("{path} in {what} has no link name"))?
                    .to_string_lossy()
                    .into_owned())
            };
            let node = if et.is_hard_link() {
                let target = normalise(&link_name()?);
                let t = self
                    .nodes
                    .get(&target)
                    .ok_or_else(|| anyhow!("hardlink {path} → missing {target} in {what}"))?;
                if t.kind == "symlink" {
                    // A hardlink to a symlink (an ADD archive can make one): listed as the
                    // symlink it shares its inode with.
                    let n = t.clone();
                    self.remove_children(&path);
                    self.nodes.insert(path, n);
                    continue;
                }
                if t.kind != "file" {
                    bail!("hardlink {path} → {target} ({}) in {what}", t.kind);
                }
                Node {
                    kind: "file",
                    mode: 0,
                    uid: 0,
                    gid: 0,
                    link: None,
                    inode: t.inode,
                    xattrs: BTreeMap::new(),
                }
            } else {
                let kind = match et {
                    tar::EntryType::Regular | tar::EntryType::Continuous => "file",
                    tar::EntryType::Directory => "dir",
                    tar::EntryType::Symlink => "symlink",
                    tar::EntryType::Char => "char",
                    tar::EntryType::Block => "block",
                    tar::EntryType::Fifo => "fifo",
                    // pax/gnu extension headers are consumed by the tar crate; anything else is odd.
                    other => bail!("{path} in {what}: unsupported tar entry type {other:?}"),
                };
                let link = if kind == "symlink" {
                    Some(link_name()?)
                } else {
                    None
                };
                let inode = self.next_inode;
                self.next_inode += 1;
                if kind == "file" {
                    let mut hasher = Sha256::new();
                    let size = std::io::copy(&mut e, &mut hasher)
                        .with_context(|| format!("reading {path} in {what}"))?;
                    self.inodes.insert(
                        inode,
                        Inode {
                            mode,
                            uid,
                            gid,
                            size,
                            sha256: hex::encode(hasher.finalize()),
                            xattrs: xattrs.clone(),
                        },
                    );
                }
                Node {
                    kind,
                    mode,
                    uid,
                    gid,
                    link,
                    inode,
                    xattrs,
                }
            };
            // A non-directory replaces a whole subtree; a directory over a directory keeps the
            // lower children and takes the new metadata.
            if node.kind != "dir" {
                self.remove_children(&path);
            }
            self.nodes.insert(path, node);
        }
        Ok(())
    }

    /// The final listing: hardlink groups are described order-independently (the smallest path
    /// is the "file", the others are "hardlink"s to it).
    fn finish(self) -> BTreeMap<String, FileEntry> {
        let mut first_path: HashMap<u64, String> = HashMap::new();
        for (p, n) in &self.nodes {
            if n.kind == "file" {
                first_path.entry(n.inode).or_insert_with(|| p.clone());
            }
        }
        let mut out = BTreeMap::new();
        for (p, n) in self.nodes {
            let entry = if n.kind == "file" {
                let ino = &self.inodes[&n.inode];
                let first = &first_path[&n.inode];
                let hard = first != &p;
                FileEntry {
                    kind: if hard { "hardlink" } else { "file" },
                    mode: ino.mode,
                    uid: ino.uid,
                    gid: ino.gid,
                    size: ino.size,
                    sha256: Some(ino.sha256.clone()),
                    link: hard.then(|| format!("/{first}")),
                    xattrs: ino.xattrs.clone(),
                }
            } else {
                FileEntry {
                    kind: n.kind,
                    mode: n.mode,
                    uid: n.uid,
                    gid: n.gid,
                    size: 0,
                    sha256: None,
                    link: n.link,
                    xattrs: n.xattrs,
                }
            };
            out.insert(format!("/{p}"), entry);
        }
        out
    }
}

/// The entry's extended attributes from its PAX header (`SCHILY.xattr.NAME`, as Go's
/// archive/tar and GNU tar write them), values as hex.
fn xattrs_of<R: Read>(e: &mut tar::Entry<R>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(exts) = e.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Some(name) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                out.insert(name.to_string(), hex::encode(ext.value_bytes()));
            }
        }
    }
    Ok(out)
}

fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Lists the (first) image of a docker-archive tar.
pub fn list_archive(path: &Path) -> Result<Listing> {
    let files = read_archive(path)?;
    let manifest: Value = serde_json::from_slice(
        files
            .get("manifest.json")
            .ok_or_else(|| anyhow!("{} has no manifest.json", path.display()))?,
    )
    .context("parsing manifest.json")?;
    let m = manifest
        .as_array()
        .and_then(|a| a.first())
        .ok_or_else(|| anyhow!("manifest.json of {} lists no image", path.display()))?;
    let config_name = m["Config"]
        .as_str()
        .ok_or_else(|| anyhow!("manifest.json: no Config"))?;
    let config: Value = serde_json::from_slice(
        files
            .get(&normalise(config_name))
            .ok_or_else(|| anyhow!("config {config_name} missing from the archive"))?,
    )
    .with_context(|| format!("parsing config {config_name}"))?;
    let layer_names: Vec<&str> = m["Layers"]
        .as_array()
        .ok_or_else(|| anyhow!("manifest.json: no Layers"))?
        .iter()
        .map(|l| {
            l.as_str()
                .ok_or_else(|| anyhow!("manifest.json: bad layer"))
        })
        .collect::<Result<_>>()?;
    let mut tree = Tree::default();
    let mut layer_listings = Vec::new();
    for name in &layer_names {
        let blob = files
            .get(&normalise(name))
            .ok_or_else(|| anyhow!("layer {name} missing from the archive"))?;
        let raw = decompress(blob).with_context(|| format!("layer {name}"))?;
        tree.apply_layer(&raw, &format!("layer {name}"))?;
        layer_listings.push(super::layer_entries::list(&raw, &format!("layer {name}"))?);
    }
    let cfg = config.get("config").cloned().unwrap_or(Value::Null);
    let mut fields = Map::new();
    for f in CONFIG_FIELDS {
        fields.insert(f.to_string(), normalise_config_value(cfg.get(*f)));
    }
    let history = config
        .get("history")
        .and_then(Value::as_array)
        .map(|h| {
            h.iter()
                .map(|e| {
                    (
                        e.get("created_by")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        e.get("empty_layer")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Listing {
        architecture: config.get("architecture").cloned().unwrap_or(Value::Null),
        os: config.get("os").cloned().unwrap_or(Value::Null),
        variant: config.get("variant").cloned().unwrap_or(Value::Null),
        config: fields,
        history,
        layers: layer_names.len(),
        layer_listings,
        files: tree.finish(),
    })
}

/// Empty collections and `false` mean the same as absent for Docker; fold them to `null` so an
/// engine that writes `"Volumes": {}` or `"ArgsEscaped": false` is not reported as different.
fn normalise_config_value(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(o)) if o.is_empty() => Value::Null,
        Some(Value::Array(a)) if a.is_empty() => Value::Null,
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(Value::Bool(false)) => Value::Null,
        Some(v) => v.clone(),
    }
}

impl FileEntry {
    /// The JSON form used in expected.json.
    pub fn to_json(&self, path: &str) -> Value {
        let mut o = Map::new();
        o.insert("path".into(), json!(path));
        o.insert("type".into(), json!(self.kind));
        o.insert("mode".into(), json!(format!("{:04o}", self.mode)));
        o.insert("uid".into(), json!(self.uid));
        o.insert("gid".into(), json!(self.gid));
        if matches!(self.kind, "file" | "hardlink") {
            o.insert("size".into(), json!(self.size));
            o.insert("sha256".into(), json!(self.sha256));
        }
        if let Some(l) = &self.link {
            o.insert("link".into(), json!(l));
        }
        // Omitted when empty, so listings of images without xattrs keep their form.
        if !self.xattrs.is_empty() {
            o.insert("xattrs".into(), json!(self.xattrs));
        }
        Value::Object(o)
    }
}

impl Listing {
    /// The expected.json document. `base_history` is the history of the base image: when the
    /// image's history starts with it, those entries are left out (the two sides make the base
    /// image differently) and counted in `base_history_entries`.
    pub fn to_json(&self, name: &str, base_history: &[(String, bool)]) -> Value {
        let strip = if !base_history.is_empty() && self.history.starts_with(base_history) {
            base_history.len()
        } else {
            0
        };
        let history: Vec<Value> = self.history[strip..]
            .iter()
            .map(|(c, e)| json!({"created_by": c, "empty_layer": e}))
            .collect();
        let files: Vec<Value> = self.files.iter().map(|(p, f)| f.to_json(p)).collect();
        let mut doc = json!({
            "case": name,
            "architecture": self.architecture,
            "os": self.os,
            "config": Value::Object(self.config.clone()),
            "layers": self.layers,
            "base_history_entries": strip,
            "history": history,
            "files": files,
        });
        // Omitted when absent, so listings of images without a variant keep their form.
        if !self.variant.is_null() {
            doc["variant"] = self.variant.clone();
        }
        doc
    }
}
