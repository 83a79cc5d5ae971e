//! Uploading built layers while they are compressed: a layer stored as a
//! plain tar, with no remembered variant in the wanted compression, is
//! compressed (all cores, `crate::compress`) and the compressed bytes go to
//! the store and, at the same time, to the registry in one streamed PATCH;
//! the closing PUT names the digest once the last byte is made. The blob
//! bytes are the ones a plain compression makes (the same code writes them),
//! so the manifest and its digest do not change. Any failure of the
//! streamed upload falls back to the ordinary upload from the store file.

use std::io::{self, Write};

use bytes::Bytes;
use futures::StreamExt as _;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::client::{host_of, RegistryClient, Repo};
use super::convert::{compress_layer_tee, remembered_variant, ManifestFormat};
use super::push::PushOptions;
use super::reference::Reference;
use crate::layer::Compression;
use crate::store::descriptor::{DOCKER_MANIFEST, OCI_LAYER_TAR};
use crate::store::{Descriptor, Digest, Store};

const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Compressed chunks queued between the compressor and the connection
/// (each up to 256 KiB: the compressor's write buffer).
const QUEUE: usize = 16;

/// Hands written bytes to the upload's body stream; fails once the upload
/// has gone (the compression then goes on into the store alone).
struct ChannelWriter(mpsc::Sender<io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload ended"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Compresses and uploads to `dest`'s repository, at once, every plain
/// layer of `manifest` the export would compress and has not made yet.
/// Returns the compressed digests uploaded this way (the later blob
/// checks find them in the registry). Only on a multi-threaded runtime
/// (the compression blocks its thread meanwhile); else nothing is done.
pub(super) async fn upload_while_compressing(
    client: &RegistryClient,
    store: &Store,
    manifest: &Descriptor,
    dest: &Reference,
    opts: &PushOptions,
) -> Vec<Digest> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() != RuntimeFlavor::MultiThread {
        return Vec::new();
    }
    let Some(doc) = store
        .read_blob(&manifest.digest)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return Vec::new();
    };
    let stored = doc.get("mediaType").and_then(Value::as_str);
    let docker = match opts.format {
        Some(ManifestFormat::Docker) => true,
        Some(ManifestFormat::Oci) => false,
        None => stored.unwrap_or(&manifest.media_type) == DOCKER_MANIFEST,
    };
    let wanted = opts.compression.algorithm.unwrap_or_default();
    let level = opts.compression.level;
    // The cases the export converts plain layers to exactly `wanted`.
    if wanted == Compression::Uncompressed || (wanted == Compression::Zstd && docker) {
        return Vec::new();
    }
    let ep = client.config().origin(dest);
    let target = Repo {
        ep: &ep,
        registry: dest.registry(),
        name: dest.repository(),
    };
    let mut done: Vec<Digest> = Vec::new();
    let mut seen: Vec<Digest> = Vec::new();
    let layers = doc.get("layers").and_then(Value::as_array);
    for l in layers.into_iter().flatten() {
        let mt = l
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if mt != OCI_LAYER_TAR && mt != DOCKER_LAYER_TAR {
            continue;
        }
        let Some(blob) = l
            .get("digest")
            .and_then(Value::as_str)
            .and_then(|d| Digest::parse(d).ok())
        else {
            continue;
        };
        if seen.contains(&blob) || !store.has_blob(&blob) {
            continue;
        }
        seen.push(blob.clone());
        if !matches!(remembered_variant(store, &blob, wanted, level), Ok(None)) {
            continue;
        }
        let what = format!("pushing layer {blob} ({wanted}) to {}", dest.name());
        match one(client, store, &target, &blob, wanted, level, &what) {
            Ok(d) => done.push(d),
            Err(e) => client.note(&format!("{what}: {e:#}; uploading it after compression")),
        }
    }
    done
}

/// Compresses `blob` on a scoped thread while this thread drives the
/// streamed upload; both end before it returns.
fn one(
    client: &RegistryClient,
    store: &Store,
    target: &Repo<'_>,
    blob: &Digest,
    algorithm: Compression,
    level: Option<i32>,
    what: &str,
) -> anyhow::Result<Digest> {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(QUEUE);
    let (dtx, drx) = oneshot::channel::<Option<String>>();
    // Progress as the ordinary upload reports it, except that the blob's
    // digest and size are not known before its last byte: the transfer is
    // named by the plain layer's digest and sized by it until the end,
    // when the compressed size becomes the total.
    let meter = client.transfer(
        &blob.to_string(),
        &host_of(target.ep.base.as_str()),
        store.blob_size(blob).unwrap_or(0),
    );
    let counted = meter.clone();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
    .inspect(move |chunk| {
        if let Ok(b) = chunk {
            counted.advance(b.len() as u64);
        }
    });
    let body = reqwest::Body::wrap_stream(stream);
    let (made, sent) = tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            let maker = s.spawn(move || {
                let tee: Box<dyn Write + Send> = Box::new(ChannelWriter(tx));
                let r = compress_layer_tee(store, blob, algorithm, level, Some(tee));
                let _ = dtx.send(r.as_ref().ok().map(|(d, _)| d.to_string()));
                r
            });
            let sent = tokio::runtime::Handle::current().block_on(client.upload_blob_streamed(
                target,
                body,
                async { drx.await.ok().flatten() },
                what,
            ));
            let made = maker
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("compression thread panicked")));
            (made, sent)
        })
    });
    let (digest, size) = made?;
    let sent = sent?;
    anyhow::ensure!(
        sent == digest.to_string(),
        "uploaded {sent}, compressed {digest}"
    );
    meter.finish_with_total(size);
    Ok(digest)
}
