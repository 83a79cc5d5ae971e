//! The wire formats between the three processes of a run:
//!
//! * parent → helper (its stdin): `u64` little-endian length + the
//!   [`RunSpec`](super::RunSpec) as JSON. Stdin then stays open as a
//!   lifeline: when it reaches EOF the parent is gone and the run is killed.
//! * helper → parent (its stdout): frames `tag u8, len u32 LE, payload`
//!   carrying the command's output and, last, how the run ended.
//! * init → helper (a close-on-exec pipe): JSON lines ([`Report`]) naming
//!   the mount points the sandbox created and any setup error; the pipe's
//!   EOF without an error means `execve` succeeded.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// Largest spec accepted (a spec is small; this bounds a corrupt length).
pub const MAX_SPEC_LEN: u64 = 64 << 20;

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The command's stdout.
    Stdout,
    /// The command's stderr.
    Stderr,
}

/// One frame from the helper to the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Output bytes of the command.
    Output(Stream, Vec<u8>),
    /// The command ended with this exit code (signals as 128+n).
    Exit(i32),
    /// The sandbox could not be set up or the command not started.
    SetupError(String),
    /// The run was killed because the helper got this signal or lost its
    /// parent (signal 0).
    Interrupted(i32),
    /// What the run's cgroup counted (sent before the final frame when the
    /// run had one): processes killed by the OOM killer, forks refused for
    /// the pids limit.
    Limits {
        /// `oom_kill` of `memory.events` / `memory.oom_control`.
        oom_kills: u64,
        /// `max` of `pids.events`.
        pids_max: u64,
    },
}

const TAG_STDOUT: u8 = 1;
const TAG_STDERR: u8 = 2;
const TAG_EXIT: u8 = 3;
const TAG_ERROR: u8 = 4;
const TAG_INTERRUPTED: u8 = 5;
const TAG_LIMITS: u8 = 6;

impl Frame {
    /// Serialises the frame into `out` (one `write_all`, so a frame is never
    /// interleaved with another writer's bytes).
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let (tag, payload): (u8, &[u8]) = match self {
            Frame::Output(Stream::Stdout, b) => (TAG_STDOUT, b),
            Frame::Output(Stream::Stderr, b) => (TAG_STDERR, b),
            Frame::Exit(code) => return write_frame(out, TAG_EXIT, &code.to_le_bytes()),
            Frame::SetupError(msg) => (TAG_ERROR, msg.as_bytes()),
            Frame::Interrupted(sig) => {
                return write_frame(out, TAG_INTERRUPTED, &sig.to_le_bytes())
            }
            Frame::Limits {
                oom_kills,
                pids_max,
            } => {
                let mut b = oom_kills.to_le_bytes().to_vec();
                b.extend_from_slice(&pids_max.to_le_bytes());
                return write_frame(out, TAG_LIMITS, &b);
            }
        };
        write_frame(out, tag, payload)
    }

    /// Parses one frame from the front of `buf`; returns it and its length,
    /// or `None` when `buf` holds only part of a frame.
    pub fn parse(buf: &[u8]) -> io::Result<Option<(Frame, usize)>> {
        if buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if buf.len() < 5 + len {
            return Ok(None);
        }
        let payload = &buf[5..5 + len];
        let int = || -> io::Result<i32> {
            let b: [u8; 4] = payload
                .try_into()
                .map_err(|_| bad("integer frame of wrong length"))?;
            Ok(i32::from_le_bytes(b))
        };
        let frame = match buf[0] {
            TAG_STDOUT => Frame::Output(Stream::Stdout, payload.to_vec()),
            TAG_STDERR => Frame::Output(Stream::Stderr, payload.to_vec()),
            TAG_EXIT => Frame::Exit(int()?),
            TAG_ERROR => Frame::SetupError(String::from_utf8_lossy(payload).into_owned()),
            TAG_INTERRUPTED => Frame::Interrupted(int()?),
            TAG_LIMITS => {
                let b: [u8; 16] = payload
                    .try_into()
                    .map_err(|_| bad("limits frame of wrong length"))?;
                let (a, p) = b.split_at(8);
                Frame::Limits {
                    oom_kills: u64::from_le_bytes(a.try_into().expect("8 bytes")),
                    pids_max: u64::from_le_bytes(p.try_into().expect("8 bytes")),
                }
            }
            other => return Err(bad(&format!("unknown frame tag {other}"))),
        };
        Ok(Some((frame, 5 + len)))
    }
}

fn write_frame(out: &mut impl Write, tag: u8, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| bad("frame too large"))?;
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.push(tag);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(payload);
    out.write_all(&buf)
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("sandbox protocol: {msg}"),
    )
}

/// Writes the length-prefixed spec JSON.
pub fn write_spec(out: &mut impl Write, json: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(8 + json.len());
    buf.extend_from_slice(&(json.len() as u64).to_le_bytes());
    buf.extend_from_slice(json);
    out.write_all(&buf)?;
    out.flush()
}

/// Reads the length-prefixed spec JSON (and nothing more, so the stream can
/// serve as the lifeline afterwards).
pub fn read_spec(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 8];
    input.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > MAX_SPEC_LEN {
        return Err(bad(&format!("spec of {len} bytes is too large")));
    }
    let mut json = vec![0u8; len as usize];
    input.read_exact(&mut json)?;
    Ok(json)
}

/// A message from the sandbox init to the helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Report {
    /// The sandbox created this path (relative to the root) as a mount
    /// point; it is removed from the write dir after the run if still empty.
    Created(String),
    /// Setup failed; the command did not start.
    Error(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_roundtrip_and_split() {
        let frames = vec![
            Frame::Output(Stream::Stdout, b"hi\n".to_vec()),
            Frame::Output(Stream::Stderr, vec![]),
            Frame::Exit(-3),
            Frame::SetupError("no such file".into()),
            Frame::Interrupted(2),
            Frame::Limits {
                oom_kills: 1,
                pids_max: u64::MAX,
            },
        ];
        let mut wire = Vec::new();
        for f in &frames {
            f.write_to(&mut wire).unwrap();
        }
        // Partial input yields nothing.
        assert_eq!(Frame::parse(&wire[..3]).unwrap(), None);
        let mut got = Vec::new();
        let mut pos = 0;
        while let Some((f, n)) = Frame::parse(&wire[pos..]).unwrap() {
            got.push(f);
            pos += n;
        }
        assert_eq!(got, frames);
        assert!(Frame::parse(&[9, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn spec_framing_rejects_huge_lengths() {
        let mut wire = Vec::new();
        write_spec(&mut wire, b"{}").unwrap();
        assert_eq!(read_spec(&mut &wire[..]).unwrap(), b"{}");
        let huge = u64::MAX.to_le_bytes();
        assert!(read_spec(&mut &huge[..]).is_err());
    }
}
