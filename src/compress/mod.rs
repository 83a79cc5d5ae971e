//! Compression of layers as they leave the store (push, `save`, `--output`, `--cache-to`), on
//! every core, in bounded memory, with output bytes that never depend on the core count.
//!
//! - gzip: independent 1 MiB blocks deflated in parallel and joined into one gzip member
//!   ([`gzip`]); the bytes are a function of (input, level).
//! - zstd: libzstd's own multi-threaded mode, always with at least one worker: libzstd's MT
//!   output depends on its job size (fixed: [`ZSTD_JOB`]), not on the worker count, while the
//!   single-threaded mode (0 workers) cuts differently — so 0 is never used.
//!
//! Memory: one compression runs at a time per process ([`exclusive`]; each uses all cores, so
//! layers queued behind it lose no throughput), and within it the gzip queue holds at most
//! [`max_inflight`] blocks, libzstd a few [`ZSTD_JOB`] buffers per worker: a fixed budget, not
//! one per layer.

pub mod gzip;

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::sync::{Mutex, MutexGuard};

/// Most worker threads a compression uses (more cores than this add memory, barely speed).
pub const MAX_THREADS: usize = 16;

/// Worker threads for one compression: the available cores, 1..=[`MAX_THREADS`].
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, MAX_THREADS)
}

/// gzip blocks (1 MiB in, about as much out) in flight for `threads` workers: two per worker so
/// none idles while the writer catches up, at most 16 (≈ 32 MiB).
pub fn max_inflight(threads: usize) -> usize {
    (threads * 2).clamp(2, 16)
}

static SLOT: Mutex<()> = Mutex::new(());

/// Holds the process's compression slot: layers compressed concurrently (several layers of a
/// push) take turns, each on all cores, so memory stays one compression's budget.
pub fn exclusive() -> MutexGuard<'static, ()> {
    SLOT.lock().unwrap_or_else(|p| p.into_inner())
}

/// gzip-compresses `input` into `out` as one member on `threads` threads (level 0-9).
pub fn gzip<R: Read + ?Sized, W: Write>(
    input: &mut R,
    out: &mut W,
    level: u32,
    threads: usize,
) -> Result<()> {
    gzip::compress(input, out, level, threads, max_inflight(threads))
}

/// Uncompressed bytes per libzstd job, fixed (the output depends on it, never on the worker
/// count). libzstd's own default grows with the window (8 MiB at level 3), and it keeps about
/// three job-sized buffers per worker plus six: 2 MiB jobs keep level 3 on 2 workers near 30 MiB
/// (it was ~100 MiB), at a ratio cost of a few tenths of a percent.
pub const ZSTD_JOB: u32 = 2 << 20;

/// Most libzstd workers (with [`ZSTD_JOB`], the buffer budget stays under ~70 MiB).
pub const ZSTD_MAX_WORKERS: usize = 8;

/// zstd-compresses `input` into `out` (level -7..=22) with libzstd's multi-threaded mode on
/// `threads` workers (1..=[`ZSTD_MAX_WORKERS`], see the module doc) in [`ZSTD_JOB`]-byte jobs.
/// Returns `out`.
pub fn zstd<R: Read + ?Sized, W: Write>(
    input: &mut R,
    out: W,
    level: i32,
    threads: usize,
) -> Result<W> {
    let mut enc = zstd::stream::write::Encoder::new(out, level).context("zstd setup")?;
    enc.multithread(threads.clamp(1, ZSTD_MAX_WORKERS) as u32)
        .context("zstd multi-threading")?;
    enc.set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB))
        .context("zstd job size")?;
    let mut buf = vec![0u8; gzip::BLOCK];
    loop {
        let n = gzip::read_full(input, &mut buf).context("reading layer")?;
        if n == 0 {
            break;
        }
        enc.write_all(&buf[..n]).context("zstd compression")?;
    }
    enc.finish().context("finishing zstd stream")
}
