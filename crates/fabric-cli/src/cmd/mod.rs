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
