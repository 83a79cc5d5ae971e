//! gzip in independent blocks on all cores (pigz-style), as ONE gzip member any reader takes.
//!
//! The input is cut into [`BLOCK`]-byte blocks (the cut depends on the input only: blocks are
//! filled completely, whatever sizes `read` returns). Each block is deflated by a fresh raw
//! deflate stream (no preset dictionary) ending in a sync flush — a byte-aligned, non-final
//! empty stored block — so the blocks concatenate into one valid deflate stream. An empty
//! final block (`03 00`) closes it. The CRC-32 is computed per block and combined in order.
//! Incompressible 64 KiB runs are stored rather than deflated (see [`incompressible`]).
//! A block's bytes are therefore a function of (its input, level) alone, and the whole stream
//! a function of (input, level): the thread count only changes the speed.
//!
//! Why not the `gzp` crate: its pgzip mode primes each block with the previous block's last
//! 32 KiB (better ratio at 128 KiB blocks), but its block size, dictionary policy and
//! flush are its own defaults that may change between releases, it brings its own thread pool
//! and flate2 backend features (which would switch this crate's backend), and the queue is
//! its queue is its own. With 1 MiB blocks and no dictionary the ratio costs about
//! 0.1-0.3 % and every block is independent, which keeps this ~150 lines.

use anyhow::{bail, Context, Result};
use flate2::{Compress, Crc, FlushCompress, Status};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::sync::Mutex;

/// Uncompressed bytes per block (fixed: part of the output format, so never tuned per machine).
pub const BLOCK: usize = 1 << 20;

/// A compressed block: sequence number, deflate bytes, CRC of its input.
type Done = (u64, Result<Vec<u8>>, Crc);

/// Reads until `buf` is full or EOF; returns the bytes read.
pub(super) fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Sub-chunk on which the stored-or-deflated choice is made (part of the format: fixed).
const SUB: usize = 64 << 10;

/// Whether a sub-chunk looks incompressible: the Shannon entropy of its byte histogram is above
/// 7.98 bits/byte (random or already-compressed bytes; deflate would save under ~0.3 % there, at
/// full cost). Such runs are written as stored blocks instead, as klauspost/compress (skopeo,
/// buildah) skips them too. A function of the bytes only, so the output stays deterministic.
fn incompressible(chunk: &[u8]) -> bool {
    if chunk.len() < 4096 {
        return false;
    }
    let mut hist = [0u32; 256];
    for &b in chunk {
        hist[b as usize] += 1;
    }
    let n = chunk.len() as f64;
    let bits: f64 = hist
        .iter()
        .filter(|&&k| k > 0)
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    bits > 7.98
}

/// Appends `data` as non-final stored deflate blocks (each ≤ 65535 bytes; byte-aligned, as every
/// segment here starts and ends on a byte boundary).
fn store(data: &[u8], out: &mut Vec<u8>) {
    for piece in data.chunks(65535) {
        let len = piece.len() as u16;
        out.push(0); // BFINAL = 0, BTYPE = 00, padding to the byte boundary
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(piece);
    }
}

/// Appends `data` deflated by a reset `c` as a non-final, sync-flushed raw deflate segment.
fn deflate_segment(c: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    c.reset();
    let (in0, start) = (c.total_in(), out.len());
    out.reserve(data.len() + data.len() / 64 + 64);
    loop {
        let consumed = (c.total_in() - in0) as usize;
        let status = c
            .compress_vec(&data[consumed..], out, FlushCompress::Sync)
            .context("deflate")?;
        if status == Status::StreamEnd {
            bail!("deflate ended a block early");
        }
        // zlib's contract: the flush is complete once a call leaves output space unused.
        if (c.total_in() - in0) as usize == data.len() && out.len() < out.capacity() {
            debug_assert!(out.len() > start);
            return Ok(());
        }
        out.reserve(out.capacity() / 2 + 64);
    }
}

/// Compresses one block: runs of incompressible [`SUB`]-byte sub-chunks stored, the other runs
/// each deflated by a fresh stream (no back-reference crosses a stored run). Non-final, ends on
/// a byte boundary.
fn deflate_block(c: &mut Compress, data: &[u8]) -> Result<Vec<u8>> {
    let kinds: Vec<bool> = data.chunks(SUB).map(incompressible).collect();
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 64);
    let mut k = 0;
    while k < kinds.len() {
        let mut e = k + 1;
        while e < kinds.len() && kinds[e] == kinds[k] {
            e += 1;
        }
        let run = &data[k * SUB..(e * SUB).min(data.len())];
        if kinds[k] {
            store(run, &mut out);
        } else {
            deflate_segment(c, run, &mut out)?;
        }
        k = e;
    }
    Ok(out)
}

/// The 10-byte gzip header Go's compress/gzip writes for an unnamed stream: no name, mtime 0,
/// XFL from the level (2 = best, 4 = fastest), OS 255 ("unknown").
fn header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9 => 2,
        1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// Compresses `input` to `out` as one gzip member, deflating blocks on `threads` worker threads
/// (`threads <= 1`: in the calling thread) with at most `max_inflight` blocks (of [`BLOCK`] bytes, plus their output) in flight.
/// Output bytes depend on `input` and `level` (0-9) only. Errors: read/write/deflate failures.
pub fn compress<R: Read + ?Sized, W: Write>(
    input: &mut R,
    out: &mut W,
    level: u32,
    threads: usize,
    max_inflight: usize,
) -> Result<()> {
    out.write_all(&header(level))?;
    let mut crc = Crc::new();
    let level = flate2::Compression::new(level);
    if threads <= 1 {
        let mut c = Compress::new(level, false);
        let mut buf = vec![0u8; BLOCK];
        loop {
            let n = read_full(input, &mut buf).context("reading layer")?;
            if n == 0 {
                break;
            }
            out.write_all(&deflate_block(&mut c, &buf[..n])?)?;
            crc.update(&buf[..n]);
            if n < BLOCK {
                break;
            }
        }
    } else {
        parallel(input, out, level, threads, max_inflight.max(1), &mut crc)?;
    }
    // The closing empty final block, then CRC-32 and ISIZE (length mod 2^32), little-endian.
    out.write_all(&[0x03, 0x00])?;
    out.write_all(&crc.sum().to_le_bytes())?;
    out.write_all(&crc.amount().to_le_bytes())?;
    Ok(())
}

/// The calling thread reads blocks and writes results in order; `threads` workers deflate.
fn parallel<R: Read + ?Sized, W: Write>(
    input: &mut R,
    out: &mut W,
    level: flate2::Compression,
    threads: usize,
    max_inflight: usize,
    crc: &mut Crc,
) -> Result<()> {
    let (job_tx, job_rx) = mpsc::channel::<(u64, Vec<u8>)>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    std::thread::scope(|s| -> Result<()> {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let job_rx = &job_rx;
            s.spawn(move || {
                let mut c = Compress::new(level, false);
                loop {
                    let job = job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((seq, data)) = job else { break };
                    let mut block_crc = Crc::new();
                    block_crc.update(&data);
                    let r = deflate_block(&mut c, &data);
                    drop(data);
                    if done_tx.send((seq, r, block_crc)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        // Dropping job_tx on every exit path (error included) stops the workers.
        feed(input, out, job_tx, &done_rx, max_inflight, crc)
    })
}

fn feed<R: Read + ?Sized, W: Write>(
    input: &mut R,
    out: &mut W,
    job_tx: mpsc::Sender<(u64, Vec<u8>)>,
    done_rx: &mpsc::Receiver<Done>,
    max_inflight: usize,
    crc: &mut Crc,
) -> Result<()> {
    let mut pending: BTreeMap<u64, (Vec<u8>, Crc)> = BTreeMap::new();
    let (mut sent, mut written) = (0u64, 0u64);
    let mut eof = false;
    // Writes every finished block that is next in order, freeing its slot in the queue.
    let mut drain = |d: Done, pending: &mut BTreeMap<u64, (Vec<u8>, Crc)>, written: &mut u64| {
        let (seq, r, c) = d;
        pending.insert(seq, (r?, c));
        while let Some((bytes, c)) = pending.remove(written) {
            out.write_all(&bytes).context("writing compressed block")?;
            crc.combine(&c);
            *written += 1;
        }
        anyhow::Ok(())
    };
    while !eof || written < sent {
        if !eof && sent - written < max_inflight as u64 {
            let mut buf = vec![0u8; BLOCK];
            let n = read_full(input, &mut buf).context("reading layer")?;
            eof = n < BLOCK;
            if n == 0 {
                continue;
            }
            buf.truncate(n);
            job_tx
                .send((sent, buf))
                .context("compression workers stopped")?;
            sent += 1;
            while let Ok(d) = done_rx.try_recv() {
                drain(d, &mut pending, &mut written)?;
            }
        } else {
            // The queue is full (or the input ended): wait for the blocks in flight.
            let d = done_rx.recv().context("compression workers stopped")?;
            drain(d, &mut pending, &mut written)?;
        }
    }
    Ok(())
}
