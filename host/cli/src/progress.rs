//! Steps of a long command: a spinner with the step and elapsed time on a
//! terminal, one plain line per step otherwise (CI logs, pipes).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A command's steps.
#[derive(Debug)]
pub struct Steps {
    bar: ProgressBar,
    total: usize,
    done: usize,
}

impl Steps {
    /// `total` steps to come.
    pub fn new(total: usize) -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_length(total as u64);
        bar.enable_steady_tick(Duration::from_millis(100));
        Steps {
            bar,
            total,
            done: 0,
        }
    }

    /// The next step begins.
    pub fn start(&mut self, what: &str) {
        self.done += 1;
        self.bar.set_position(self.done as u64);
        self.bar.set_message(what.to_owned());
        if self.bar.is_hidden() {
            eprintln!("[{}/{}] {what}", self.done, self.total);
        }
    }

    /// All done: clear the spinner and say `what`.
    pub fn finish(self, what: &str) {
        self.bar.finish_and_clear();
        eprintln!("{what}");
    }
}
