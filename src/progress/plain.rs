//! BuildKit-style plain lines: `#3 [build 2/4] RUN make`, output prefixed
//! with its step number and seconds since the step began (`#3 0.123 …`),
//! `#3 CACHED`, `#3 DONE 1.2s`, `#3 ERROR: <first line of the error>` (the
//! whole error is printed once, at the end). Stable for CI logs. A transfer (blob pull or push)
//! that takes longer than [`TRANSFER_EVERY`] gets BuildKit's byte line
//! (`#3 sha256:… 12.58MB / 50.33MB 4.2s`) at most that often, with what it
//! waits for while it is stalled, and a `done` line at its end; quick ones
//! print nothing.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use super::{Event, Renderer, Waiting};
// go-units' HumanSize, as BuildKit's byte lines and Docker's prune show sizes.
use crate::cli::prune::human_size;

/// The least time between two lines about one transfer.
pub const TRANSFER_EVERY: Duration = Duration::from_secs(2);

/// `waiting for HOST: 4 s without data (times out after 30 s)`.
pub fn waiting_note(w: &Waiting) -> String {
    format!(
        "waiting for {}: {:.0} s without data (times out after {} s)",
        w.host, w.idle_seconds, w.timeout_seconds
    )
}

/// Writes plain progress lines to any writer (stderr in a build).
pub struct PlainRenderer<W: Write + Send> {
    out: W,
    /// When each step started (output times are relative to it).
    started: HashMap<usize, Instant>,
    /// When each (step, blob) transfer last got a line.
    transfers: HashMap<(usize, String), Instant>,
}

impl<W: Write + Send> PlainRenderer<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W) -> Self {
        PlainRenderer {
            out,
            started: HashMap::new(),
            transfers: HashMap::new(),
        }
    }

    /// The writer back (tests read what was written).
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> Renderer for PlainRenderer<W> {
    fn event(&mut self, event: &Event) {
        // Progress output must never fail a build: write errors are ignored.
        let _ = match event {
            Event::Started { step, name } => {
                self.started.insert(*step, Instant::now());
                writeln!(self.out, "#{step} {name}")
            }
            Event::Log { step, line } => {
                let at = self.started.get(step).map(Instant::elapsed);
                let seconds = at.unwrap_or_default().as_secs_f64();
                writeln!(self.out, "#{step} {seconds:.3} {line}")
            }
            Event::Progress {
                step,
                id,
                current,
                total,
                seconds,
                done,
                waiting,
            } => {
                let key = (*step, id.clone());
                let last = self.transfers.get(&key).copied();
                let due = match last {
                    _ if *done => last.is_some(),
                    Some(t) => t.elapsed() >= TRANSFER_EVERY,
                    None => *seconds >= TRANSFER_EVERY.as_secs_f64(),
                };
                if !due {
                    return;
                }
                if *done {
                    self.transfers.remove(&key);
                } else {
                    self.transfers.insert(key, Instant::now());
                }
                let tail = match (done, waiting) {
                    (true, _) => " done".to_string(),
                    (false, Some(w)) => format!(" {}", waiting_note(w)),
                    (false, None) => String::new(),
                };
                writeln!(
                    self.out,
                    "#{step} {id} {} / {} {seconds:.1}s{tail}",
                    human_size(*current),
                    human_size(*total)
                )
            }
            Event::Cached { step } => writeln!(self.out, "#{step} CACHED\n"),
            Event::Done { step, seconds } => writeln!(self.out, "#{step} DONE {seconds:.1}s\n"),
            Event::Error {
                step: Some(step),
                message,
            } => writeln!(self.out, "#{step} ERROR: {}\n", super::first_line(message)),
            Event::Error {
                step: None,
                message,
            } => writeln!(self.out, "error: {message}"),
            Event::Warning { message } => writeln!(self.out, "warning: {message}"),
            Event::Pushed { reference, digest } => {
                writeln!(self.out, "pushed {reference} ({digest})")
            }
            Event::Cancelled { steps } => writeln!(self.out, "{}", super::cancelled_line(steps)),
            Event::Summary {
                run,
                cached,
                seconds,
                image,
                failed,
            } => {
                writeln!(
                    self.out,
                    "{}",
                    super::summary_line(*run, *cached, *seconds, image.as_deref(), *failed)
                )
            }
        };
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_look_like_buildkit() {
        let mut r = PlainRenderer::new(Vec::new());
        r.event(&Event::Started {
            step: 5,
            name: "[build 2/4] RUN make".into(),
        });
        r.event(&Event::Cached { step: 5 });
        r.event(&Event::Done {
            step: 6,
            seconds: 1.25,
        });
        let text = String::from_utf8(r.into_inner()).unwrap();
        assert_eq!(
            text,
            "#5 [build 2/4] RUN make\n#5 CACHED\n\n#6 DONE 1.2s\n\n"
        );
    }

    #[test]
    fn slow_transfers_get_lines_quick_ones_none() {
        let mut r = PlainRenderer::new(Vec::new());
        let ev = |id: &str, current, seconds, done, waiting| Event::Progress {
            step: 3,
            id: id.into(),
            current,
            total: 50_331_648,
            seconds,
            done,
            waiting,
        };
        r.event(&ev("sha256:quick", 10, 0.5, false, None));
        r.event(&ev("sha256:quick", 50_331_648, 0.9, true, None));
        r.event(&ev("sha256:slow", 12_583_000, 4.2, false, None));
        // Within TRANSFER_EVERY of the last line: nothing.
        r.event(&ev("sha256:slow", 12_600_000, 4.3, false, None));
        let w = Waiting {
            host: "reg:5000".into(),
            idle_seconds: 4.0,
            timeout_seconds: 30.0,
        };
        r.transfers
            .insert((3, "sha256:slow".into()), Instant::now() - TRANSFER_EVERY);
        r.event(&ev("sha256:slow", 12_600_000, 8.3, false, Some(w)));
        r.event(&ev("sha256:slow", 50_331_648, 9.0, true, None));
        let text = String::from_utf8(r.into_inner()).unwrap();
        assert_eq!(
            text,
            "#3 sha256:slow 12.58MB / 50.33MB 4.2s\n\
             #3 sha256:slow 12.6MB / 50.33MB 8.3s waiting for reg:5000: 4 s without data \
             (times out after 30 s)\n\
             #3 sha256:slow 50.33MB / 50.33MB 9.0s done\n"
        );
    }
}
