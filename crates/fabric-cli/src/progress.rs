//! Progress bars on stderr: one line of at most 80 columns, counts and sizes in
//! human units, drawn only on a terminal and never with `--quiet` or `--json`.
//!
//! ```text
//!   ingest [=========>          ] 12,400/30,000 2,310/s eta 7s
//!   import [=========>          ] 812.40 MiB/1.75 GiB 61.20 MiB/s eta 15s
//! ```

use std::io::IsTerminal;

use indicatif::{HumanCount, ProgressBar, ProgressState, ProgressStyle};

/// The layout of [`ticking`].
const SPINNER: &str = "{spinner} {msg} {elapsed}";
/// The layout of [`counter`].
const COUNTER: &str = "{spinner} {msg:>8.bold} {binary_bytes} {binary_bytes_per_sec} {elapsed}";

/// What a bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Records, files, versions: shown as `12,400/30,000 2,310/s`.
    Items,
    /// Bytes: shown as `812.40 MiB/1.75 GiB 61.20 MiB/s`.
    Bytes,
}

/// Whether bars may be drawn: stderr is a terminal and the user did not ask for
/// quiet or machine-readable output.
pub fn enabled(quiet: bool, json: bool) -> bool {
    !quiet && !json && std::io::stderr().is_terminal()
}

/// A bar of `len` steps labelled `what` (hidden unless `enabled`). A length of 0
/// means "not known yet": the bar shows a spinner until `set_length` is called.
pub fn bar(enabled: bool, len: u64, what: &str, unit: Unit) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let style = bar_style(unit)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("pos_h", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", HumanCount(s.pos()));
        })
        .with_key("len_h", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", HumanCount(s.len().unwrap_or(0)));
        })
        .with_key(
            "rate_h",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", HumanCount(s.per_sec() as u64));
            },
        )
        .progress_chars("=> ");
    // Built without drawing: the first frame comes with the first position, so a
    // bar whose total is set later never shows `0 B/0 B`.
    ProgressBar::new(len)
        .with_style(style)
        .with_message(what.to_owned())
}

/// The bar's layout: label, a 20-column bar, counts, rate and time left.
fn bar_style(unit: Unit) -> Result<ProgressStyle, indicatif::style::TemplateError> {
    let counts = match unit {
        Unit::Items => "{pos_h}/{len_h} {rate_h}",
        Unit::Bytes => "{binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
    };
    ProgressStyle::with_template(&format!(
        "{{msg:>8.bold}} [{{bar:20}}] {counts} eta {{eta}}"
    ))
}

/// A spinner saying `what` with the time elapsed, turning on its own while the
/// work (of unknown length) goes on; hidden unless `enabled`.
pub fn ticking(enabled: bool, what: &str) -> ProgressBar {
    let bar = spinning(enabled, SPINNER, what.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A `(done, total)` callback for a library call that reports its progress: it
/// moves `bar` (total and position).
pub fn follow(bar: &ProgressBar) -> impl FnMut(u64, u64) + '_ {
    move |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// A running count of bytes written when the total is not known in advance, e.g.
/// `⠋   export 3.20 MiB 41.0 MiB/s 0s`; hidden unless `enabled`.
pub fn counter(enabled: bool, what: &str) -> ProgressBar {
    spinning(enabled, COUNTER, what.to_owned())
}

fn spinning(enabled: bool, template: &str, message: String) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::new_spinner();
    bar.set_style(style);
    bar.set_message(message);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_parses() {
        // A template that fails to parse would silently fall back to indicatif's
        // default, full-width bar with raw counts.
        assert!(bar_style(Unit::Items).is_ok());
        assert!(bar_style(Unit::Bytes).is_ok());
        assert!(ProgressStyle::with_template(SPINNER).is_ok());
        assert!(ProgressStyle::with_template(COUNTER).is_ok());
    }

    #[test]
    fn no_bar_without_a_terminal() {
        // Tests run with stderr captured or redirected, never as a terminal here.
        assert!(bar(false, 10, "x", Unit::Items).is_hidden());
        assert!(ticking(false, "x").is_hidden());
        assert!(counter(false, "x").is_hidden());
        assert!(!enabled(true, false));
        assert!(!enabled(false, true));
    }
}
