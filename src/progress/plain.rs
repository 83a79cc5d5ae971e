//! BuildKit-style plain lines: `#3 [build 2/4] RUN make`, output prefixed
//! with its step number and seconds since the build began, `#3 CACHED`,
//! `#3 DONE 1.2s`. Stable for CI logs.

use std::io::Write;
use std::time::Instant;

use super::{Event, Renderer};

/// Writes plain progress lines to any writer (stderr in a build).
pub struct PlainRenderer<W: Write + Send> {
    out: W,
    started: Instant,
}

impl<W: Write + Send> PlainRenderer<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W) -> Self {
        PlainRenderer {
            out,
            started: Instant::now(),
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
            Event::Started { step, name } => writeln!(self.out, "#{step} {name}"),
            Event::Log { step, line } => writeln!(
                self.out,
                "#{step} {:.3} {line}",
                self.started.elapsed().as_secs_f64()
            ),
            Event::Progress { .. } => Ok(()),
            Event::Cached { step } => writeln!(self.out, "#{step} CACHED"),
            Event::Done { step, seconds } => writeln!(self.out, "#{step} DONE {seconds:.1}s\n"),
            Event::Error { step, message } => writeln!(self.out, "#{step} ERROR: {message}"),
            Event::Summary {
                run,
                cached,
                seconds,
                image,
            } => {
                writeln!(
                    self.out,
                    "{}",
                    super::summary_line(*run, *cached, *seconds, image.as_deref())
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
        assert_eq!(text, "#5 [build 2/4] RUN make\n#5 CACHED\n#6 DONE 1.2s\n\n");
    }
}
