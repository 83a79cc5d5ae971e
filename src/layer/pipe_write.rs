//! A writer whose sink runs on another thread.
//!
//! Writing a COPY's layer is two kinds of work: reading the sources (an open, a read and a
//! close per file: on a 100,000-file context most of the step) and hashing + writing the tar
//! (the diffID, 100 MB through sha256 and into the temp file). On one thread they add up; with
//! the second on its own thread two cores overlap them. The bytes and so the digest are the
//! same: the sink sees exactly the sequence of writes, in order.

use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, SyncSender};

use anyhow::{anyhow, Context, Result};

/// Chunks in flight between the threads (each at most the caller's buffer size): bounds the
/// memory to `DEPTH` buffers while riding out short stalls on either side.
const DEPTH: usize = 8;

/// What `fill` writes to: a `BufWriter` (so `io::copy` from a file reads straight into its
/// buffer) over the channel to the sink thread.
pub(crate) type PipeBuf = io::BufWriter<PipeWriter>;

/// The producer end: every write is handed to the sink thread as one chunk (it is used
/// inside a `BufWriter`, [`PipeBuf`], so chunks are large).
pub(crate) struct PipeWriter {
    tx: SyncSender<Vec<u8>>,
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.tx.send(data.to_vec()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the layer's writer thread stopped",
            )
        })?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `fill` with a writer whose bytes go, in order, to `sink` on another thread
/// (buffered by `buf` bytes on this side), and returns the sink once everything is written
/// and flushed.
///
/// Errors: `fill`'s error, or the sink's write error (which is what a producer's broken pipe
/// means); a panic of the sink thread is an error too.
pub(crate) fn with_sink_thread<W: Write + Send>(
    sink: W,
    buf: usize,
    fill: impl FnOnce(&mut PipeBuf) -> Result<()>,
) -> Result<W> {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
        let consumer = s.spawn(move || -> io::Result<W> {
            let mut sink = sink;
            for chunk in rx {
                sink.write_all(&chunk)?;
            }
            sink.flush()?;
            Ok(sink)
        });
        let filled = {
            let mut w = io::BufWriter::with_capacity(buf, PipeWriter { tx });
            fill(&mut w).and_then(|()| w.flush().context("handing the last bytes over"))
            // `w` (and the channel's sender) drops here, so the sink thread ends.
        };
        let sunk = consumer
            .join()
            .map_err(|_| anyhow!("the layer's writer thread panicked"))?;
        match (filled, sunk) {
            (Ok(()), Ok(sink)) => Ok(sink),
            (_, Err(e)) => Err(anyhow::Error::from(e).context("writing the layer")),
            (Err(e), Ok(_)) => Err(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that fails after `ok` bytes.
    #[derive(Debug)]
    struct Failing {
        ok: usize,
        got: Vec<u8>,
    }

    impl Write for Failing {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if self.got.len() + data.len() > self.ok {
                return Err(io::Error::other("disk full"));
            }
            self.got.extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bytes_arrive_in_order_whatever_the_write_sizes() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let out = with_sink_thread(Vec::new(), 64 * 1024, |w| {
            let mut at = 0;
            for n in [1, 10, 70_000, 5, 1 << 20].iter().cycle() {
                let end = (at + n).min(data.len());
                w.write_all(&data[at..end])?;
                at = end;
                if at == data.len() {
                    return Ok(());
                }
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn errors_of_either_side_are_returned_and_nothing_hangs() {
        let sink = Failing {
            ok: 100_000,
            got: Vec::new(),
        };
        let e = with_sink_thread(sink, 4096, |w| {
            for _ in 0..1000 {
                w.write_all(&[1; 4096])?;
            }
            Ok(())
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("disk full"), "{e:#}");

        let e = with_sink_thread(Vec::new(), 4096, |w| {
            w.write_all(b"some")?;
            Err(anyhow!("opening /src/x: gone"))
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("/src/x"), "{e:#}");
    }
}
