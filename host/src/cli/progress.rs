//! Progress of long steps (image builds, skill compiles) on the user's terminal: an
//! indicatif spinner with the elapsed time and the step's latest line, the step's main
//! lines kept above it. When stderr is not a terminal (scripts, CI logs, tests) nothing is
//! drawn and every line is printed as it comes, as before.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Lines kept for the report of a failed step.
const TAIL: usize = 30;
/// Characters of a line shown beside the spinner.
const SHOWN: usize = 100;

/// One long step in progress.
#[derive(Debug)]
pub(crate) struct Activity {
    bar: ProgressBar,
    tail: Mutex<VecDeque<String>>,
}

impl Activity {
    /// Starts showing `what` (e.g. "building the agent images").
    pub(crate) fn start(what: &str) -> Arc<Self> {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {prefix}: {wide_msg}")
                .expect("a valid template"),
        );
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        if bar.is_hidden() {
            eprintln!("{what} …");
        }
        Arc::new(Self {
            bar,
            tail: Mutex::new(VecDeque::new()),
        })
    }

    /// A line of the step's output: shown beside the spinner (a detail, indented) or kept
    /// above it (a headline).
    pub(crate) fn line(&self, line: &str) {
        {
            let mut tail = self.tail.lock().expect("progress lock");
            if tail.len() == TAIL {
                tail.pop_front();
            }
            tail.push_back(line.to_owned());
        }
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else if line.starts_with(' ') {
            self.bar
                .set_message(line.trim().chars().take(SHOWN).collect::<String>());
        } else {
            self.bar.println(line);
        }
    }

    /// The step is over: the spinner goes, `outcome` stays.
    pub(crate) fn finish(&self, outcome: &str) {
        self.bar.finish_and_clear();
        eprintln!("{outcome}");
    }

    /// The step was nothing worth reporting: the spinner goes, nothing stays.
    pub(crate) fn clear(&self) {
        self.bar.finish_and_clear();
    }

    /// The step failed: the spinner goes; returns its last lines, for the error.
    pub(crate) fn fail(&self) -> String {
        self.bar.finish_and_clear();
        let tail = self.tail.lock().expect("progress lock");
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// A progress callback for the library's image builds.
    pub(crate) fn callback(self: &Arc<Self>) -> Arc<dyn Fn(&str) + Send + Sync> {
        let me = Arc::clone(self);
        Arc::new(move |line: &str| me.line(line))
    }
}
