//! The terminal view: one indicatif line per active step with its elapsed
//! time, byte bars for transfers, the last lines of RUN output under their
//! step, `CACHED` marks, and a summary line.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Event, Renderer};

/// Output lines kept under a running step.
const TAIL_LINES: usize = 5;

/// Draws the live view on stderr.
pub struct TtyRenderer {
    multi: MultiProgress,
    steps: HashMap<usize, StepView>,
}

struct StepView {
    bar: ProgressBar,
    name: String,
    tail: VecDeque<String>,
    transfers: HashMap<String, ProgressBar>,
}

impl TtyRenderer {
    /// A renderer drawing on stderr.
    pub fn new() -> Self {
        TtyRenderer {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            steps: HashMap::new(),
        }
    }

    fn spinner_style() -> ProgressStyle {
        ProgressStyle::with_template("{spinner:.blue} {prefix:.bold} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
    }

    fn bytes_style() -> ProgressStyle {
        ProgressStyle::with_template("    {msg} {bar:30.cyan/blue} {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
    }

    fn close(&mut self, step: usize, mark: &str) {
        if let Some(view) = self.steps.remove(&step) {
            for bar in view.transfers.values() {
                bar.finish_and_clear();
            }
            view.bar.set_style(
                ProgressStyle::with_template("  {prefix:.bold} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            view.bar
                .finish_with_message(format!("{} {mark}", view.name));
        }
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
                bar.set_style(Self::spinner_style());
                bar.set_prefix(format!("#{step}"));
                bar.set_message(name.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                let view = StepView {
                    bar,
                    name: name.clone(),
                    tail: VecDeque::new(),
                    transfers: HashMap::new(),
                };
                self.steps.insert(*step, view);
            }
            Event::Log { step, line } => {
                if let Some(view) = self.steps.get_mut(step) {
                    if view.tail.len() == TAIL_LINES {
                        view.tail.pop_front();
                    }
                    view.tail.push_back(line.clone());
                    let tail: Vec<String> =
                        view.tail.iter().map(|l| format!("\n    {l}")).collect();
                    view.bar
                        .set_message(format!("{}{}", view.name, tail.concat()));
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
                        b.set_style(Self::bytes_style());
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
            Event::Cached { step } => self.close(*step, "CACHED"),
            Event::Done { step, seconds } => self.close(*step, &format!("DONE {seconds:.1}s")),
            Event::Error { step, message } => self.close(*step, &format!("ERROR: {message}")),
            Event::Summary {
                run,
                cached,
                seconds,
                image,
            } => {
                let _ = self.multi.println(super::summary_line(
                    *run,
                    *cached,
                    *seconds,
                    image.as_deref(),
                ));
            }
        }
    }

    fn finish(&mut self) {
        let steps: Vec<usize> = self.steps.keys().copied().collect();
        for step in steps {
            self.close(step, "");
        }
        let _ = self.multi.clear();
    }
}
