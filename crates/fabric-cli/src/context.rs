//! What every command gets: the store path and the output switches.

use std::path::PathBuf;

use indicatif::ProgressBar;

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
    /// How every store this run opens is opened (from `$FABRIC_SQLITE_*` and
    /// `$FABRIC_CHECK`), with this run's [`fabric_store::FreshStores`]: what its
    /// opens create, for `main` to undo when the command fails.
    pub store: fabric_store::StoreOptions,
}

impl Ctx {
    /// Resolve `--db` (then `$FABRIC_DB`, then `~/.proxx/fabric/fabric.db`).
    pub fn new(db: Option<PathBuf>, json: bool, quiet: bool, verbose: bool) -> Self {
        let db = db
            .or_else(|| std::env::var_os("FABRIC_DB").map(PathBuf::from))
            .unwrap_or_else(default_db);
        let env = |k: &str| std::env::var(k).ok();
        let store = fabric_store::StoreOptions {
            fresh: Some(fabric_store::FreshStores::new()),
            ..store_options(env)
        };
        Ctx {
            db,
            json,
            quiet,
            verbose,
            store,
        }
    }

    /// A progress bar on stderr counting `len` items (records, files), hidden
    /// unless stderr is a terminal and neither `--json` nor `--quiet` was given.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        crate::progress::bar(self.bars(), len, what, crate::progress::Unit::Items)
    }

    /// [`Ctx::progress`] counting bytes, shown in KiB/MiB/GiB with a rate.
    pub fn progress_bytes(&self, len: u64, what: &str) -> ProgressBar {
        crate::progress::bar(self.bars(), len, what, crate::progress::Unit::Bytes)
    }

    /// Whether progress bars may be drawn (see [`crate::progress::enabled`]).
    pub fn bars(&self) -> bool {
        crate::progress::enabled(self.quiet, self.json)
    }

    /// A spinner on stderr saying `what` with the time elapsed, for work whose
    /// length is unknown; hidden like [`Ctx::progress`].
    pub fn spinner(&self, what: &str) -> ProgressBar {
        crate::progress::ticking(self.bars(), what)
    }

    /// Open the store for writing (capped by `$FABRIC_SQLITE_MAX_PAGE_COUNT`, see
    /// [`store_options`]).
    pub fn store_write(&self) -> Result<fabric_store::Store, fabric_store::Error> {
        self.store.open(&self.db)
    }

    /// Open the store for reading: a missing store is an error (nothing is
    /// created).
    pub fn store_read(&self) -> Result<fabric_store::Store, fabric_store::Error> {
        self.store.open_read(&self.db)
    }

    /// Open a store that must already exist, for writing: commands that change
    /// what is there (rollback, deprecate) never create a store.
    pub fn store_existing(&self) -> Result<fabric_store::Store, fabric_store::Error> {
        if !self.db.exists() {
            return Err(fabric_store::Error::NoStore {
                path: self.db.clone(),
            });
        }
        self.store.open(&self.db)
    }

    /// Remove what this run's opens created (stores, their journals and new
    /// folders; see [`fabric_store::FreshStores::undo`]): a failed command leaves
    /// the disk as it was. Call it with every store closed.
    pub fn undo_created(&self) {
        if let Some(fresh) = &self.store.fresh {
            fresh.undo();
        }
    }

    /// Print an informational line on stderr unless `--quiet` or `--json`.
    pub fn info(&self, line: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            errln!("{line}");
        }
    }
}

/// The store settings of this run's environment, `$FABRIC_CHECK` aside (see
/// [`check_policy`]); a value that does not parse is ignored, as it always was:
///
/// * `$FABRIC_SQLITE_BUSY_TIMEOUT_MS`: how long a write waits for another
///   process's lock before failing with "locked" (default 5000);
/// * `$FABRIC_SQLITE_MAX_PAGE_COUNT`: caps every store opened for writing (the
///   jobs and chain paths and the exchange mirror) at that many pages; writes
///   beyond it fail as "disk full";
/// * `$FABRIC_SQLITE_PAGE_SIZE`: the page size of a store this run creates
///   (default 32768; files that exist keep theirs).
pub fn store_options(env: impl Fn(&str) -> Option<String>) -> fabric_store::StoreOptions {
    let defaults = fabric_store::StoreOptions::default();
    fabric_store::StoreOptions {
        busy_timeout: env("FABRIC_SQLITE_BUSY_TIMEOUT_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(defaults.busy_timeout, std::time::Duration::from_millis),
        max_page_count: env("FABRIC_SQLITE_MAX_PAGE_COUNT").and_then(|v| v.parse::<u64>().ok()),
        page_size: env("FABRIC_SQLITE_PAGE_SIZE").and_then(|v| v.parse::<u32>().ok()),
        ..defaults
    }
}

/// `$FABRIC_CHECK` (`full`, `quick` or `touched`, the default): what every store
/// this run opens checks at open. Any other value is bad usage, refused before
/// anything is opened.
pub fn check_policy() -> Result<fabric_store::CheckPolicy, crate::error::CliError> {
    let Some(value) = std::env::var_os("FABRIC_CHECK") else {
        return Ok(fabric_store::CheckPolicy::default());
    };
    value
        .to_str()
        .and_then(fabric_store::CheckPolicy::parse)
        .ok_or_else(|| {
            let names: Vec<&str> = fabric_store::CheckPolicy::ALL
                .iter()
                .map(|p| p.as_str())
                .collect();
            crate::error::CliError::Usage(format!(
                "FABRIC_CHECK={} is not a check policy: use one of {}",
                value.to_string_lossy(),
                names.join(", ")
            ))
        })
}

fn default_db() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".proxx").join("fabric").join("fabric.db")
}

#[cfg(test)]
mod tests {
    use super::store_options;
    use fabric_store::StoreOptions;

    #[test]
    fn store_options_come_from_the_environment() {
        let options = store_options(|k| {
            match k {
                "FABRIC_SQLITE_BUSY_TIMEOUT_MS" => Some("250"),
                "FABRIC_SQLITE_MAX_PAGE_COUNT" => Some("99"),
                "FABRIC_SQLITE_PAGE_SIZE" => Some("4096"),
                _ => None,
            }
            .map(str::to_owned)
        });
        assert_eq!(
            options,
            StoreOptions {
                busy_timeout: std::time::Duration::from_millis(250),
                max_page_count: Some(99),
                page_size: Some(4096),
                ..StoreOptions::default()
            }
        );
        // Nothing set, or nothing that parses: the defaults, as before.
        assert_eq!(store_options(|_| None), StoreOptions::default());
        assert_eq!(
            store_options(|_| Some("lots".to_owned())),
            StoreOptions::default()
        );
    }
}
