//! A reader whose source runs on another thread.
//!
//! Extracting a pulled layer is three kinds of work: inflating the blob,
//! hashing the uncompressed stream (the diffID check) and creating files.
//! Done in one thread they add up; with the first two on a producer thread
//! and file creation on the caller's, two cores overlap them (a cold build
//! of a Debian-based image spends most of its time here).

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::{Scope, ScopedJoinHandle};

/// Bytes per chunk handed between the threads.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight: enough to ride out short stalls on either side while
/// keeping memory bounded (4 MiB).
const DEPTH: usize = 16;

/// The consumer end: reads what the producer thread read from its source.
pub struct PipeReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The producer ended without an end marker: it panicked.
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("layer reader thread stopped"));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Starts a thread in `scope` that reads `source` to its end, then returns
/// `finish(source)`; the returned reader yields the same bytes. If the
/// reader is dropped early the thread stops at its next chunk.
pub fn spawn_reader<'scope, R, T, F>(
    scope: &'scope Scope<'scope, '_>,
    mut source: R,
    finish: F,
) -> (PipeReader, ScopedJoinHandle<'scope, io::Result<T>>)
where
    R: Read + Send + 'scope,
    T: Send + 'scope,
    F: FnOnce(R) -> io::Result<T> + Send + 'scope,
{
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
    let handle = scope.spawn(move || {
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let mut filled = 0;
            // Fill whole chunks: decoders return small reads, and a channel
            // message per small read would cost more than the copy.
            while filled < CHUNK {
                match source.read(&mut chunk[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let msg = io::Error::new(e.kind(), e.to_string());
                        let _ = tx.send(Err(msg));
                        return Err(e);
                    }
                }
            }
            chunk.truncate(filled);
            let end = filled == 0;
            if tx.send(Ok(chunk)).is_err() {
                return Err(io::Error::other("layer extraction stopped early"));
            }
            if end {
                return finish(source);
            }
        }
    });
    (
        PipeReader {
            rx,
            current: Vec::new(),
            pos: 0,
            done: false,
        },
        handle,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_every_byte_and_returns_the_finish_value() {
        let data: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        std::thread::scope(|s| {
            let (mut r, h) = spawn_reader(s, &data[..], |rest| Ok(rest.len()));
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
            assert_eq!(h.join().unwrap().unwrap(), 0);
        });
    }

    #[test]
    fn source_errors_reach_the_reader() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt gzip"));
                }
                self.0 -= 1;
                buf[0] = 1;
                Ok(1)
            }
        }
        std::thread::scope(|s| {
            let (mut r, h) = spawn_reader(s, Failing(10), |_| Ok(()));
            let mut out = Vec::new();
            let err = r.read_to_end(&mut out).unwrap_err();
            assert!(err.to_string().contains("corrupt gzip"), "{err}");
            assert!(h.join().unwrap().is_err());
        });
    }

    #[test]
    fn dropping_the_reader_stops_the_producer() {
        let endless = io::repeat(7);
        std::thread::scope(|s| {
            let (mut r, h) = spawn_reader(s, endless, |_| Ok(()));
            let mut buf = [0u8; 10];
            r.read_exact(&mut buf).unwrap();
            drop(r);
            assert!(h.join().unwrap().is_err());
        });
    }
}
