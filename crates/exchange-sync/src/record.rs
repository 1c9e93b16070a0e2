//! The `ExchangeRecord` envelope (spec §1): one JSON object per pack line.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::hash::ContentHash;

/// Who produced a record: the four provenance keys, each a string or null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The process that created the record.
    pub runner_name: Option<String>,
    /// The machine's host name.
    pub host: Option<String>,
    /// The git commit of the producing code, when it ran in a repository.
    pub git_sha: Option<String>,
    /// The connector's version.
    pub connector_version: Option<String>,
}

/// One exchange record: the portable envelope of one observed request/response.
///
/// Only six fields are hashed ([`ExchangeRecord::compute_hash`]): `exchange_type`,
/// `source_system`, `entity_type`, `natural_key`, `request` and `response`. Everything
/// else (id, time, provenance, tags...) can change without changing the hash.
///
/// Values are kept exactly as read: numbers keep their text (int vs float, big
/// integers), strings are not normalised (NFC applies to the hash input only), and
/// unknown top-level keys are kept in [`ExchangeRecord::extra`] and written back
/// (after the known keys) but never hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeRecord {
    /// Random UUID v4, lowercase, hyphenated. Not derived from the content.
    pub exchange_id: String,
    /// `http`, `mediawiki`, `openalex`, `llm`, `file`, `generic`, ... (free text).
    pub exchange_type: String,
    /// The system the data came from; first half of the sync scope.
    pub source_system: String,
    /// The kind of entity; second half of the sync scope.
    pub entity_type: String,
    /// A stable identifier (page id, DOI). `Some("")` is hashed as `""` but means
    /// "no natural key" for every lookup.
    pub natural_key: Option<String>,
    /// The request (any JSON; `Null` when missing).
    pub request: Value,
    /// The response (any JSON; `Null` when missing).
    pub response: Value,
    /// When the data was observed, in the offset it was written with (a naive time
    /// is read as UTC). `None` when missing or null.
    pub observed_at_utc: Option<OffsetDateTime>,
    /// Who produced the record; `None` when missing or null.
    pub provenance: Option<Provenance>,
    /// The stored hash (taken as read; see [`ExchangeRecord::compute_hash`]).
    pub content_sha256: ContentHash,
    /// Envelope schema version (default 1).
    pub schema_version: i64,
    /// Free categorisation tags.
    pub tags: Vec<String>,
    /// Labels of the redactions applied (`request_headers`, `request_secrets`,
    /// `response_secrets`), sorted.
    pub redactions_applied: Vec<String>,
    /// Pointer to a separate blob for a large payload (unused; kept).
    pub response_ref: Option<String>,
    /// Unknown top-level keys, in the order read. Written back, never hashed.
    pub extra: Map<String, Value>,
}
