//! Progress of a migration run on stderr (indicatif): a bar of steps while a terminal watches,
//! plain log lines otherwise. stdout is never touched.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The steps of a run: a bar on a terminal, log lines otherwise.
pub struct StepBar {
    bar: ProgressBar,
    quiet: bool,
}

impl StepBar {
    /// A bar of `total` steps on stderr; `quiet` drops the log lines too.
    pub fn new(total: u64, what: &str, quiet: bool) -> StepBar {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps {elapsed} {wide_msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_string());
        StepBar { bar, quiet }
    }

    /// A progress that shows nothing (tests, library callers).
    pub fn hidden() -> StepBar {
        StepBar::new(0, "", true)
    }

    pub fn add_steps(&self, n: u64) {
        self.bar.inc_length(n);
    }

    /// One step done.
    pub fn step(&self, message: &str) {
        self.bar.set_message(message.to_string());
        self.bar.inc(1);
    }

    /// A line for people (a failure, a rollback), above the bar.
    pub fn log(&self, message: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("netbalance: {message}"));
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
