//! The terminal view, as BuildKit's tty display: one line per step,
//! `=> [2/3] RUN make  1.2s` with its running time on the step's own line;
//! under a running step the last [`TAIL_LINES`] lines of its output
//! (cleaned by [`super::screen::clean_line`]: a carriage return replaces
//! the line) and byte bars for its transfers. Finished steps stay on screen
//! with their times (`=> CACHED …`, `=> ERROR …`); the summary says `done`
//! or `failed`; Ctrl-C lists the cancelled steps.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::screen::{clean_line, fit};
use super::{Event, Renderer};

/// Output lines kept under a running step (BuildKit's tty shows 6).
pub const TAIL_LINES: usize = 6;

/// Draws the live view on stderr.
pub struct TtyRenderer {
    multi: MultiProgress,
    steps: HashMap<usize, StepView>,
    width: usize,
}

struct StepView {
    bar: ProgressBar,
    name: String,
    /// The output tail, drawn as one multi-line bar under the step (added
    /// with the first line of output).
    tail_bar: Option<ProgressBar>,
    tail: VecDeque<String>,
    transfers: HashMap<String, ProgressBar>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("secs", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}s", s.elapsed().as_secs_f64());
        })
}

impl TtyRenderer {
    /// A renderer drawing on stderr.
    pub fn new() -> Self {
        TtyRenderer {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            width: terminal_width().max(20),
            steps: HashMap::new(),
        }
    }

    /// A finished line at the bottom of the view (summary, pushes, …).
    fn line(&self, text: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(style("{msg}"));
        bar.finish_with_message(fit(text, self.width - 1));
    }

    /// Ends a step's live lines; `mark` goes before its name (`CACHED`,
    /// `ERROR`), `seconds` after it.
    fn close(&mut self, step: usize, mark: &str, seconds: Option<f64>) {
        let Some(view) = self.steps.remove(&step) else {
            return;
        };
        for bar in view.transfers.values() {
            bar.finish_and_clear();
        }
        if let Some(tail) = &view.tail_bar {
            tail.finish_and_clear();
            self.multi.remove(tail);
        }
        let time = seconds.map(|s| format!(" {s:.1}s")).unwrap_or_default();
        let room = self.width.saturating_sub(4 + mark.len() + time.len());
        view.bar.set_style(style("=> {msg}"));
        view.bar
            .finish_with_message(format!("{mark}{}{time}", fit(&view.name, room)));
    }
}

/// Columns of the terminal on stderr (80 when it is none or says 0).
fn terminal_width() -> usize {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize it is given, nothing else.
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    match ok && ws.ws_col > 0 {
        true => usize::from(ws.ws_col),
        false => 80,
    }
}

impl Default for TtyRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer for TtyRenderer {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Started { step, name } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(style("{spinner:.blue} {msg} {secs}"));
                bar.set_message(fit(name, self.width.saturating_sub(12)));
                bar.enable_steady_tick(Duration::from_millis(100));
                self.steps.insert(
                    *step,
                    StepView {
                        bar,
                        name: name.clone(),
                        tail_bar: None,
                        tail: VecDeque::new(),
                        transfers: HashMap::new(),
                    },
                );
            }
            Event::Log { step, line } => {
                if let Some(view) = self.steps.get_mut(step) {
                    if view.tail.len() == TAIL_LINES {
                        view.tail.pop_front();
                    }
                    view.tail
                        .push_back(clean_line(line, self.width.saturating_sub(5)));
                    let lines: Vec<String> = view.tail.iter().map(|l| format!("    {l}")).collect();
                    let multi = &self.multi;
                    let tail = view.tail_bar.get_or_insert_with(|| {
                        let b = multi.insert_after(&view.bar, ProgressBar::new_spinner());
                        b.set_style(style("{msg}"));
                        b
                    });
                    tail.set_message(lines.join("\n"));
                }
            }
            Event::Progress {
                step,
                id,
                current,
                total,
                waiting,
                ..
            } => {
                if let Some(view) = self.steps.get_mut(step) {
                    let multi = &self.multi;
                    let parent = view.bar.clone();
                    let bar = view.transfers.entry(id.clone()).or_insert_with(|| {
                        let b = multi.insert_after(&parent, ProgressBar::new(*total));
                        b.set_style(style(
                            "    {msg} {bar:30.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec}",
                        ));
                        b
                    });
                    bar.set_length(*total);
                    bar.set_position(*current);
                    // `sha256:` and 12 hex digits, as docker's pull view.
                    let short = id.get(..19).unwrap_or(id);
                    bar.set_message(match waiting {
                        Some(w) => format!("{short} {}", super::plain::waiting_note(w)),
                        None => short.to_string(),
                    });
                }
            }
            Event::Cached { step } => self.close(*step, "CACHED ", Some(0.0)),
            Event::Done { step, seconds } => self.close(*step, "", Some(*seconds)),
            Event::Error {
                step: Some(step),
                message,
            } => {
                let seconds = self.steps.get(step).map(|v| v.bar.elapsed().as_secs_f64());
                self.close(*step, "ERROR ", seconds);
                self.line(&format!("   {}", super::first_line(message)));
            }
            Event::Error {
                step: None,
                message,
            } => self.line(&format!("error: {}", super::first_line(message))),
            Event::Warning { message } => {
                let _ = self.multi.println(format!("warning: {message}"));
            }
            Event::Pushed { reference, digest } => {
                self.line(&format!("pushed {reference} ({digest})"))
            }
            Event::Cancelled { steps } => {
                let names: Vec<usize> = self.steps.keys().copied().collect();
                for step in names {
                    self.close(step, "CANCELED ", None);
                }
                self.line(&super::cancelled_line(steps));
            }
            Event::Summary {
                run,
                cached,
                seconds,
                image,
                failed,
            } => self.line(&super::summary_line(
                *run,
                *cached,
                *seconds,
                image.as_deref(),
                *failed,
            )),
        }
    }

    fn finish(&mut self) {
        // Steps still open (a failed build's other stages) end as they are;
        // everything finished stays on screen, as BuildKit leaves it.
        let steps: Vec<usize> = self.steps.keys().copied().collect();
        for step in steps {
            self.close(step, "", None);
        }
    }
}
