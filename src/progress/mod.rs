//! Build events and their renderers: indicatif bars on a terminal,
//! BuildKit-style numbered plain lines for CI logs, one JSON object per line
//! for tools (schema: docs/progress-json.md), or nothing. Renderers only
//! display; they decide nothing.

mod interrupt;
mod json;
pub mod names;
mod plain;
pub mod screen;
mod tty;

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::registry::client::TransferUpdate;

pub use json::JsonRenderer;
pub use plain::PlainRenderer;
pub use tty::TtyRenderer;

/// One thing that happened during a build. `step` numbers are unique per
/// build and shared by every event of the same step (BuildKit's `#N`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step (or a pull, an export) started; `name` is e.g. `[build 2/4] RUN make`.
    Started { step: usize, name: String },
    /// A line of output of a step (RUN output, pull notes).
    Log { step: usize, line: String },
    /// Byte progress of a transfer (a blob pull or push) inside a step:
    /// `id` is the blob digest, `seconds` the time since it started, `done`
    /// on its last report; `waiting` while no byte has moved for a while.
    Progress {
        step: usize,
        id: String,
        current: u64,
        total: u64,
        seconds: f64,
        done: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        waiting: Option<Waiting>,
    },
    /// The step's result came from the cache.
    Cached { step: usize },
    /// The step finished.
    Done { step: usize, seconds: f64 },
    /// The step failed; `step` is absent for a build that failed outside
    /// any step (JSON mode's last event of a failed build).
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<usize>,
        message: String,
    },
    /// A non-fatal finding (plan warnings, a network that falls back, …).
    Warning { message: String },
    /// An image was pushed: `reference` as given (`-t`), `digest` the
    /// manifest's or index's digest the registry holds.
    Pushed { reference: String, digest: String },
    /// The build was interrupted (SIGINT); `steps` are the names of the
    /// steps that were running and are abandoned.
    Cancelled { steps: Vec<String> },
    /// The build finished (summary); `failed` when it ended in an error.
    Summary {
        run: usize,
        cached: usize,
        seconds: f64,
        image: Option<String>,
        failed: bool,
    },
}

/// A transfer that has gone `idle_seconds` without a byte from or to
/// `host`; it fails when that reaches `timeout_seconds`
/// (`BUILDER_REGISTRY_IDLE_TIMEOUT`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Waiting {
    pub host: String,
    pub idle_seconds: f64,
    pub timeout_seconds: f64,
}

/// Something that shows events.
pub trait Renderer: Send {
    /// Shows one event.
    fn event(&mut self, event: &Event);
    /// Flushes and tears down (bars cleared, cursor restored).
    fn finish(&mut self) {}
}

/// The `--progress` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// tty when stderr is a terminal, plain otherwise.
    Auto,
    /// indicatif view.
    Tty,
    /// numbered plain lines.
    Plain,
    /// JSON lines.
    Json,
    /// nothing.
    Quiet,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Mode::Auto),
            "tty" => Ok(Mode::Tty),
            "plain" => Ok(Mode::Plain),
            "json" | "rawjson" => Ok(Mode::Json),
            "quiet" | "none" => Ok(Mode::Quiet),
            other => Err(format!(
                "unknown progress mode {other:?}: use auto, tty, plain, json or quiet"
            )),
        }
    }
}

/// The closing line of a build: `done:` or `failed:`, steps run, cached,
/// time and image.
pub fn summary_line(
    run: usize,
    cached: usize,
    seconds: f64,
    image: Option<&str>,
    failed: bool,
) -> String {
    let image = image.map(|i| format!(", image {i}")).unwrap_or_default();
    let word = if failed { "failed" } else { "done" };
    format!("{word}: {run} steps run, {cached} cached in {seconds:.1}s{image}")
}

/// The line shown for a cancelled build: `cancelled: [2/3] RUN make, …`.
pub fn cancelled_line(steps: &[String]) -> String {
    match steps.is_empty() {
        true => "cancelled (no step was running)".to_string(),
        false => format!("cancelled: {}", steps.join(", ")),
    }
}

/// The first line of an error message: what a step's `ERROR:` line shows
/// (the whole message, with its last output and Dockerfile excerpt, is
/// printed once at the end of the build).
pub fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

/// Drops every event but warnings (`-q` hides progress, not problems).
#[derive(Debug, Default)]
pub struct QuietRenderer;

impl Renderer for QuietRenderer {
    fn event(&mut self, event: &Event) {
        if let Event::Warning { message } = event {
            eprintln!("warning: {message}");
        }
    }
}

/// The handle the engine reports through: cheap to clone, thread-safe,
/// numbering steps and counting run/cached steps for the summary.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    renderer: Box<dyn Renderer>,
    next_step: usize,
    run: usize,
    cached: usize,
    started: Instant,
    step_started: std::collections::HashMap<usize, Instant>,
    /// Names of the steps running now (for a cancellation report).
    running: std::collections::BTreeMap<usize, String>,
    json: bool,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").finish_non_exhaustive()
    }
}

impl Progress {
    /// A handle rendering with `mode` (Auto resolved against stderr).
    pub fn new(mode: Mode) -> Self {
        let renderer: Box<dyn Renderer> = match mode {
            Mode::Auto if std::io::stderr().is_terminal() => Box::new(TtyRenderer::new()),
            Mode::Auto | Mode::Plain => Box::new(PlainRenderer::new(std::io::stderr())),
            Mode::Tty => Box::new(TtyRenderer::new()),
            Mode::Json => Box::new(JsonRenderer::new(std::io::stderr())),
            Mode::Quiet => Box::new(QuietRenderer),
        };
        let p = Self::with_renderer(renderer);
        p.with(|i| i.json = mode == Mode::Json);
        p
    }

    /// True when events go out as JSON lines (errors must then be events
    /// too, not text).
    pub fn is_json(&self) -> bool {
        self.with(|i| i.json)
    }

    /// A handle over any renderer (tests use a recording one).
    pub fn with_renderer(renderer: Box<dyn Renderer>) -> Self {
        Progress {
            inner: Arc::new(Mutex::new(Inner {
                renderer,
                next_step: 1,
                run: 0,
                cached: 0,
                started: Instant::now(),
                step_started: Default::default(),
                running: Default::default(),
                json: false,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A renderer that panicked must not take the build down with it.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Starts a step and returns its number.
    pub fn start(&self, name: impl Into<String>) -> usize {
        self.with(|i| {
            let step = i.next_step;
            i.next_step += 1;
            i.step_started.insert(step, Instant::now());
            let name = name.into();
            i.running.insert(step, name.clone());
            i.renderer.event(&Event::Started { step, name });
            step
        })
    }

    /// A line of output of `step`.
    pub fn log(&self, step: usize, line: impl Into<String>) {
        self.with(|i| {
            i.renderer.event(&Event::Log {
                step,
                line: line.into(),
            })
        })
    }

    /// Byte progress of a registry transfer, in the step it was started
    /// under ([`crate::registry::client::scoped`]); a report counts as
    /// waiting once no byte has moved for a second.
    pub fn transfer(&self, u: &TransferUpdate) {
        let waiting = (!u.done && u.idle >= Duration::from_secs(1)).then(|| Waiting {
            host: u.host.clone(),
            idle_seconds: u.idle.as_secs_f64(),
            timeout_seconds: u.timeout.as_secs_f64(),
        });
        self.with(|i| {
            i.renderer.event(&Event::Progress {
                step: u.scope,
                id: u.id.clone(),
                current: u.current.min(u.total),
                total: u.total,
                seconds: u.elapsed.as_secs_f64(),
                done: u.done,
                waiting,
            })
        })
    }

    /// A registry-client callback reporting transfers to this handle.
    pub fn on_transfer(&self) -> crate::registry::client::OnTransfer {
        let p = self.clone();
        Arc::new(move |u: &TransferUpdate| p.transfer(u))
    }

    /// Tears the renderer down without a summary (commands that are not
    /// builds: pull, push).
    pub fn close(&self) {
        self.with(|i| i.renderer.finish())
    }

    /// Marks `step` as served from the cache (and done).
    pub fn cached(&self, step: usize) {
        self.with(|i| {
            i.cached += 1;
            i.step_started.remove(&step);
            i.running.remove(&step);
            i.renderer.event(&Event::Cached { step })
        })
    }

    /// Marks `step` as done; `executed` counts it as a step that ran.
    pub fn done(&self, step: usize, executed: bool) {
        self.with(|i| {
            if executed {
                i.run += 1;
            }
            i.running.remove(&step);
            let seconds = i
                .step_started
                .remove(&step)
                .map(|t| t.elapsed())
                .unwrap_or(Duration::ZERO)
                .as_secs_f64();
            i.renderer.event(&Event::Done { step, seconds })
        })
    }

    /// Marks `step` as failed.
    pub fn error(&self, step: usize, message: impl Into<String>) {
        self.with(|i| {
            i.step_started.remove(&step);
            i.running.remove(&step);
            i.renderer.event(&Event::Error {
                step: Some(step),
                message: message.into(),
            })
        })
    }

    /// The error that ended a build, outside any step (JSON mode prints it
    /// as its last event instead of an `error:` text line).
    pub fn build_error(&self, message: impl Into<String>) {
        self.with(|i| {
            i.renderer.event(&Event::Error {
                step: None,
                message: message.into(),
            })
        })
    }

    /// A warning (shown as `warning: …`, or a `warning` event).
    pub fn warn(&self, message: impl Into<String>) {
        self.with(|i| {
            i.renderer.event(&Event::Warning {
                message: message.into(),
            })
        })
    }

    /// An image pushed to `reference` with manifest (or index) `digest`.
    pub fn pushed(&self, reference: impl Into<String>, digest: impl Into<String>) {
        self.with(|i| {
            i.renderer.event(&Event::Pushed {
                reference: reference.into(),
                digest: digest.into(),
            })
        })
    }

    /// Reports the steps running now as cancelled and tears the renderer
    /// down (SIGINT, see [`Progress::report_interrupts`]).
    pub fn cancelled(&self) {
        self.with(|i| {
            let steps = i.running.values().cloned().collect();
            i.renderer.event(&Event::Cancelled { steps });
            i.renderer.finish();
        })
    }

    /// Ends the build with a summary and tears the renderer down.
    pub fn finish(&self, image: Option<String>) {
        self.summary(image, false)
    }

    /// Ends a failed build: the summary says `failed`.
    pub fn fail(&self) {
        self.summary(None, true)
    }

    fn summary(&self, image: Option<String>, failed: bool) {
        self.with(|i| {
            let event = Event::Summary {
                run: i.run,
                cached: i.cached,
                seconds: i.started.elapsed().as_secs_f64(),
                image,
                failed,
            };
            i.renderer.event(&event);
            i.renderer.finish();
        })
    }

    /// (steps run, steps cached) so far.
    pub fn counts(&self) -> (usize, usize) {
        self.with(|i| (i.run, i.cached))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Record(Arc<Mutex<Vec<Event>>>);
    impl Renderer for Record {
        fn event(&mut self, e: &Event) {
            self.0.lock().unwrap().push(e.clone());
        }
    }

    #[test]
    fn numbers_steps_and_counts() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let p = Progress::with_renderer(Box::new(Record(seen.clone())));
        let a = p.start("[1/2] FROM x");
        let b = p.start("[2/2] RUN y");
        assert_eq!((a, b), (1, 2));
        p.cached(a);
        p.log(b, "hello");
        p.done(b, true);
        p.finish(Some("sha256:abc".into()));
        assert_eq!(p.counts(), (1, 1));
        let events = seen.lock().unwrap();
        assert!(matches!(
            events.last(),
            Some(Event::Summary {
                run: 1,
                cached: 1,
                ..
            })
        ));
        assert_eq!(
            events[3],
            Event::Log {
                step: 2,
                line: "hello".into()
            }
        );
    }

    #[test]
    fn json_events_are_tagged() {
        let line = serde_json::to_string(&Event::Cached { step: 3 }).unwrap();
        assert_eq!(line, r#"{"event":"cached","step":3}"#);
    }

    #[test]
    fn modes_parse() {
        assert_eq!("plain".parse::<Mode>().unwrap(), Mode::Plain);
        assert!("fancy".parse::<Mode>().is_err());
    }
}
