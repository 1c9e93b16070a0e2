//! # fabric-core
//!
//! The pure heart of Fabric: the job model and strict ingestion of
//! JobExecutionResult JSON, the in-memory index and its queries, the operator
//! report and its JSON/text exports, content-addressed [`snapshot`]s and factual
//! [`diff`]s, plus the canonical JSON spelling all hashes are taken over.
//!
//! No I/O, no database, no clock: callers hand in bytes and the current time.
//!
//! ```
//! use fabric_core::json::{python_float_repr, to_canonical_string};
//!
//! let report: serde_json::Value = serde_json::from_str(r#"{"rate": 0.00001, "b": 1}"#).unwrap();
//! assert_eq!(to_canonical_string(&report), r#"{"b":1,"rate":1e-05}"#);
//! assert_eq!(python_float_repr(0.1), "0.1");
//! ```

#![deny(missing_docs)]

pub mod chain;
mod error;
pub mod json;
pub mod model;
pub mod timestamp;

pub use error::{Error, Result};
