//! One module per command group.

pub mod chain;
pub mod dashboard;
pub mod db;
pub mod diff;
pub mod exchange;
pub mod ingest;
pub mod jobs;
pub mod report;
pub mod snapshot;
pub mod snapshot_create;

/// `--format` of commands that print one document: JSON (the default, and
/// always with `--json`) or text for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The JSON document (its contract is in docs/formats/).
    Json,
    /// The same facts as text for people.
    Text,
}
