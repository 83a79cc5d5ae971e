//! Parallel layer compression (`builder::compress`): the bytes never depend on the thread count,
//! and independent readers (GNU gzip, Python's zlib, the zstd CLI) take the output as one stream.
//! Needs `gzip`, `python3` and `zstd` (scripts/install-deps.sh).

use builder::compress::{self, gzip::BLOCK};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// Deterministic test input of `len` bytes: text-like runs (compressible) mixed with
/// xorshift noise (incompressible), so blocks deflate to very different sizes.
fn sample(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x % 3 == 0 {
            let word = format!("layer-{} file {} ", x % 97, x % 13);
            out.extend_from_slice(word.repeat((x % 40) as usize + 1).as_bytes());
        } else {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.truncate(len);
    out
}

/// `len` bytes of pure xorshift noise (entropy ~8 bits/byte: stored, not deflated).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Text, then noise not aligned to the 64 KiB sub-chunks, then text again.
fn mixed() -> Vec<u8> {
    let mut d = sample(2 * BLOCK + 1000);
    d.extend(noise(3 * BLOCK + 77));
    d.extend(sample(BLOCK / 2));
    d
}

fn gz(data: &[u8], threads: usize) -> Vec<u8> {
    let mut out = Vec::new();
    compress::gzip(&mut &data[..], &mut out, 6, threads).unwrap();
    out
}

fn zst(data: &[u8], level: i32, threads: usize) -> Vec<u8> {
    compress::zstd(&mut &data[..], Vec::new(), level, threads).unwrap()
}

/// Runs `cmd` with `input` on stdin, asserting success; returns stdout.
fn pipe(cmd: &mut Command, input: &[u8]) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let w = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Sizes around the block boundary, empty input, and several blocks with a partial last one.
fn sizes() -> Vec<usize> {
    vec![
        0,
        1,
        BLOCK - 1,
        BLOCK,
        BLOCK + 1,
        3 * BLOCK,
        5 * BLOCK + 12_345,
    ]
}

#[test]
fn gzip_bytes_do_not_depend_on_thread_count() {
    let inputs = sizes()
        .into_iter()
        .map(sample)
        .chain([mixed(), noise(BLOCK + 9)]);
    for data in inputs {
        let len = data.len();
        let one = gz(&data, 1);
        for threads in [2, 8] {
            assert!(
                gz(&data, threads) == one,
                "{len} bytes: gzip on {threads} threads differs from 1 thread"
            );
        }
        // Input arriving in odd-sized reads cuts the same blocks.
        let mut odd = Vec::new();
        let mut reader = OddReads(&data[..], 0);
        compress::gzip(&mut reader, &mut odd, 6, 2).unwrap();
        assert!(odd == one, "{len} bytes: read sizes changed the output");
    }
}

/// A reader returning 1, 2, ... 4097 bytes per call (never a full block).
struct OddReads<'a>(&'a [u8], usize);

impl Read for OddReads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1 = self.1 % 4097 + 1;
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn gzip_is_one_member_independent_readers_accept() {
    for data in [sample(5 * BLOCK + 12_345), mixed()] {
        one_member(&data);
    }
    // Incompressible runs are stored: the blob is barely larger than the input.
    let data = noise(4 * BLOCK);
    let blob = gz(&data, 2);
    assert!(
        blob.len() < data.len() + data.len() / 1000 + 64,
        "{}",
        blob.len()
    );
    one_member(&data);
}

/// Checks `data`'s gzip blob with independent readers and against a single zlib stream.
fn one_member(data: &[u8]) {
    let blob = gz(data, 8);
    // GNU gzip: integrity (CRC, length) and content.
    pipe(Command::new("gzip").arg("-t"), &blob);
    assert!(pipe(Command::new("gzip").arg("-dc"), &blob) == data);
    // Python's zlib, one member only: a decompressor for a single gzip stream must end exactly
    // at the end of the blob (no second member, no trailing bytes) with the right content.
    let py = "import sys,zlib\n\
              b=sys.stdin.buffer.read()\n\
              d=zlib.decompressobj(31)\n\
              out=d.decompress(b)\n\
              assert d.eof and d.unused_data==b'', 'not exactly one gzip member'\n\
              sys.stdout.buffer.write(out)\n";
    assert!(pipe(Command::new("python3").args(["-c", py]), &blob) == data);
    // Header as Go's compress/gzip writes it: deflate, no flags, mtime 0, XFL 0, OS unknown.
    assert_eq!(&blob[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    // The rust reader the store uses agrees as well.
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&blob[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert!(plain == data);
    // Block independence costs little: within 1 % of a single zlib stream at the same level.
    let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    single.write_all(data).unwrap();
    let single = single.finish().unwrap();
    assert!(
        (blob.len() as f64) < single.len() as f64 * 1.01,
        "blocked {} vs single {}",
        blob.len(),
        single.len()
    );
}

#[test]
fn gzip_of_empty_input_is_valid() {
    let blob = gz(&[], 4);
    assert!(pipe(Command::new("gzip").arg("-dc"), &blob).is_empty());
}

#[test]
fn zstd_bytes_do_not_depend_on_thread_count() {
    // Long enough for several libzstd jobs at level 3 (jobs are a few MiB) and at level 19.
    let data = sample(40 * BLOCK + 777);
    for level in [3, -3, 19] {
        let data = if level == 19 {
            &data[..6 * BLOCK]
        } else {
            &data[..]
        };
        let one = zst(data, level, 1);
        for threads in [2, 8] {
            assert!(
                zst(data, level, threads) == one,
                "zstd level {level} on {threads} workers differs from 1 worker"
            );
        }
        assert!(pipe(Command::new("zstd").args(["-dc", "-q"]), &one) == data);
    }
}

#[test]
fn layer_compression_digest_is_the_same_on_any_core_count() {
    // The public entry point (what push/save/--output/--cache-to use) hashes what it writes.
    let data = sample(3 * BLOCK + 5);
    for c in [
        builder::layer::Compression::Gzip,
        builder::layer::Compression::Zstd,
    ] {
        let mut out = Vec::new();
        let (digest, size) =
            builder::layer::compress_to(&mut &data[..], &mut out, c, c.default_level()).unwrap();
        assert_eq!(size, out.len() as u64);
        assert_eq!(digest.hex(), hex::encode(Sha256::digest(&out)));
        let expect = match c {
            builder::layer::Compression::Gzip => gz(&data, 3),
            _ => zst(&data, 3, 5),
        };
        assert!(
            out == expect,
            "{c}: layer path differs from a 3/5-thread run"
        );
    }
}

/// The gzip queue is bounded: however slow the writer, the reader is never more than
/// `max_inflight` blocks ahead of what has been written (memory = a fixed number of blocks,
/// not the layer's size).
#[test]
fn gzip_reads_at_most_the_queue_ahead_of_the_writer() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    struct Counting<'a>(&'a [u8], Arc<AtomicUsize>);
    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            self.1.fetch_add(n, Ordering::SeqCst);
            Ok(n)
        }
    }
    /// Takes each write whole (one per block after the 10-byte header), slowly.
    struct Slow {
        read: Arc<AtomicUsize>,
        calls: usize,
        limit: usize,
        worst_ahead: usize,
    }
    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let blocks_written = self.calls.saturating_sub(1);
            let ahead = (self.read.load(Ordering::SeqCst) / BLOCK).saturating_sub(blocks_written);
            self.worst_ahead = self.worst_ahead.max(ahead);
            assert!(
                ahead <= self.limit,
                "reader {ahead} blocks ahead of the writer"
            );
            self.calls += 1;
            std::thread::sleep(std::time::Duration::from_millis(3));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let data = vec![7u8; 48 * BLOCK];
    let threads = 4;
    let read = Arc::new(AtomicUsize::new(0));
    let mut out = Slow {
        read: read.clone(),
        calls: 0,
        limit: compress::max_inflight(threads),
        worst_ahead: 0,
    };
    compress::gzip(&mut Counting(&data, read), &mut out, 6, threads).unwrap();
    // The queue did fill (the writer was the bottleneck), and never past its bound.
    assert_eq!(out.worst_ahead, compress::max_inflight(threads));
}
