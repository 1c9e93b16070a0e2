//! # dashboard-snapshot
//!
//! Queryless dashboard snapshots: assembly of oracle results into a
//! versioned, token- and scope-bound [`Snapshot`], capability [`Projection`]s with
//! readiness statuses, parity fingerprints, a dataset [`export::Registry`] and a
//! deterministic CSV ZIP export. This crate never reaches storage: callers hand it
//! text and values; it hands back values and bytes.
//!
//! ```
//! use dashboard_snapshot::{ProjectionSet, Telemetry, assemble_bundle};
//! let scope = r#"{"format": "fabric.dashboard.scope/1", "context": {"type": "section", "id": 1},
//!   "container": {"type": "course"}, "as_of": "2026-03-16T14:00:00Z"}"#;
//! let oracles = r#"{"format": "fabric.dashboard.oracles/1", "results": []}"#;
//! let bundle = assemble_bundle(&ProjectionSet::instructor(), scope, oracles, Some("req-1"), &Telemetry::none())?;
//! assert_eq!(bundle.projection_statuses["progress"].status.as_str(), "unavailable");
//! # Ok::<(), dashboard_snapshot::Error>(())
//! ```

#![deny(missing_docs)]

mod assemble;
mod bundle;
mod compact;
mod contract;
mod document;
mod error;
pub mod export;
mod input;
pub mod instructor;
pub mod parity;
mod payload;
mod projection;
mod reason;
mod stream;
mod telemetry;

pub use assemble::{
    assemble, assemble_bundle, assemble_owned, build_bundle, build_bundle_typed, check_identity,
    resolve_token,
};
pub use bundle::{pretty_sorted, sort_keys};
pub use contract::{
    BUNDLE_FORMAT, Container, Context, Filters, Labels, OracleState, OracleStatus,
    PROJECTION_VERSION, ProficiencyWeights, ProjectionStatus, Readiness, SNAPSHOT_VERSION,
    SUPPORTED_PROJECTION_VERSIONS, SUPPORTED_SNAPSHOT_VERSIONS, Scope, Snapshot, SnapshotBundle,
    SnapshotMetadata, SupportParams, projection_version_supported, snapshot_version_supported,
};
pub use error::{Error, Result};
pub use input::{
    ORACLES_FORMAT, OracleOutcome, OracleResult, OracleResults, SCOPE_FORMAT, ScopeFile,
    merge_oracle_results, parse_oracles, parse_oracles_text, parse_scope, valid_key,
};
pub use payload::Payload;
pub use projection::{
    DeriveError, Derived, OracleView, Projection, ProjectionInput, ProjectionSet, derive_one,
};
pub use reason::{ExportReason, OracleReason, ProjectionReason};
pub use telemetry::{Outcome, Telemetry, TelemetryEvent};

/// The crate README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
