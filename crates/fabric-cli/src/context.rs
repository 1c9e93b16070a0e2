//! What every command gets: the store path and the output switches.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

/// Global options, resolved once.
#[derive(Debug)]
pub struct Ctx {
    /// The SQLite store.
    pub db: PathBuf,
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--verbose`.
    pub verbose: bool,
}

impl Ctx {
    /// Resolve `--db` (then `$FABRIC_DB`, then `~/.proxx/fabric/fabric.db`).
    pub fn new(db: Option<PathBuf>, json: bool, quiet: bool, verbose: bool) -> Self {
        let db = db
            .or_else(|| std::env::var_os("FABRIC_DB").map(PathBuf::from))
            .unwrap_or_else(default_db);
        Ctx {
            db,
            json,
            quiet,
            verbose,
        }
    }

    /// A progress bar on stderr for `len` steps, hidden unless stderr is a terminal
    /// and neither `--json` nor `--quiet` was given.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if self.json || self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        let style =
            ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_owned());
        bar
    }

    /// Print an informational line on stderr unless `--quiet` or `--json`.
    pub fn info(&self, line: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            eprintln!("{line}");
        }
    }
}

fn default_db() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".proxx").join("fabric").join("fabric.db")
}
