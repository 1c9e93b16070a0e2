//! # fabric-core
//!
//! The pure heart of Fabric: the job model and strict ingestion of
//! JobExecutionResult JSON ([`ingest`]), the in-memory [`index`] and its queries,
//! the operator [`report`] (a streaming builder) with its JSON and text exports,
//! content-addressed [`snapshot`]s and factual [`diff`]s, plus the canonical JSON
//! spelling all hashes are taken over ([`json`]).
//!
//! No I/O, no database, no clock: callers hand in bytes and the current time.
//!
//! ```
//! use fabric_core::index::FabricIndex;
//! use fabric_core::ingest::parse_job;
//! use fabric_core::report::FabricReport;
//! use fabric_core::snapshot::FabricSnapshot;
//! use fabric_core::timestamp::Timestamp;
//!
//! let now = Timestamp::parse("2025-03-02T00:00:00Z").unwrap();
//! let file = br#"{"job_id": "j1", "final_status": "FAILED", "started_at": "2025-03-01T08:00:00Z",
//!   "clips": [], "_metadata": {"engine_used": "ffmpeg", "proxy_profile_used": "proxy_h264_low"}}"#;
//! let job = parse_job("results/j1.json", file, now, "/srv").unwrap();
//!
//! let index = FabricIndex::from_jobs([job]);
//! let report = FabricReport::from_index(&index);
//! assert_eq!(report.engine_health["ffmpeg"].failure_rate, 1.0);
//! assert!(report.export_text().starts_with("FABRIC OPERATOR REPORT"));
//!
//! let snapshot = FabricSnapshot::create(&report, &now);
//! assert_eq!(snapshot.snapshot_id, report.snapshot_id());
//! assert_eq!(FabricSnapshot::from_json(&snapshot.to_json()).unwrap(), snapshot);
//! ```

#![deny(missing_docs)]

pub mod chain;
pub mod diff;
mod error;
pub mod index;
pub mod ingest;
pub mod json;
pub mod model;
pub mod report;
pub mod size;
pub mod snapshot;
pub mod timestamp;

pub use error::{
    Cause, DiffError, Error, ErrorClass, ExportError, Result, SnapshotError, ValidationError,
};

/// The crate README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
