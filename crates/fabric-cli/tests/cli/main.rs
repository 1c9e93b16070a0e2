//! End-to-end tests: the real `fabric` binary, real SQLite files, real archives.
//!
//! One module per command group; shared helpers in `common`.

mod answers;
mod chain_rules;
mod chains;
mod check;
mod common;
mod crash;
mod dashboard;
mod escape;
mod exchange;
mod exchange_check;
mod exchange_faults;
mod faults;
mod help;
mod hostile;
mod jobs;
mod messages;
mod mssql;
mod outputs;
mod postgres;
mod progress;
mod secrets;
mod spelling;
mod standalone;
mod tour;
mod verify;
