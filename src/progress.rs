//! Progress bars and spinners for steps that may take over a second. indicatif draws them on stderr only when it is a terminal,
//! so piped or captured output holds just the results.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `len` items.
pub fn bar(len: u64, message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::new(len).with_message(message.into());
    if let Ok(style) =
        ProgressStyle::with_template("  {spinner} {msg:<36} [{bar:20}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A spinner for a step whose length is unknown.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message.into());
    if let Ok(style) = ProgressStyle::with_template("  {spinner} {msg} {elapsed}") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}
