//! `--progress=json`: one JSON object per line, the [`Event`] with a `time`
//! field (RFC 3339, UTC, milliseconds: `2026-12-01T07:30:00.123Z`) first.
//! The schema is documented in docs/progress-json.md.

use std::io::Write;

use serde::Serialize;

use super::{Event, Renderer};

/// An event with the wall-clock time it was rendered.
#[derive(Serialize)]
struct Stamped<'a> {
    time: String,
    #[serde(flatten)]
    event: &'a Event,
}

/// The current time as `--progress=json` writes it.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Writes JSON lines to any writer (stderr in a build).
pub struct JsonRenderer<W: Write + Send = std::io::Stderr> {
    out: W,
}

impl<W: Write + Send> JsonRenderer<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W) -> Self {
        JsonRenderer { out }
    }

    /// The writer back (tests read what was written).
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> Renderer for JsonRenderer<W> {
    fn event(&mut self, event: &Event) {
        let stamped = Stamped {
            time: now_rfc3339(),
            event,
        };
        if let Ok(line) = serde_json::to_string(&stamped) {
            // Progress output must never fail a build: write errors are ignored.
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_time_then_event() {
        let mut r = JsonRenderer::new(Vec::new());
        r.event(&Event::Cached { step: 3 });
        r.event(&Event::Warning {
            message: "w".into(),
        });
        let text = String::from_utf8(r.into_inner()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["event"], "cached");
        assert_eq!(lines[0]["step"], 3);
        let t = lines[1]["time"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{t}");
        assert!(t.ends_with('Z') && t.len() == 24, "{t}");
        assert!(text.starts_with("{\"time\":"), "{text}");
    }
}
