//! The exchange line reader: the one entry point ([`read_line`], or
//! [`read_record`] when no line may be skipped) through which import, `check`,
//! verify and `add`'s id checks read a pack line, with one set of errors
//! ([`LineError`]) and one hash-mismatch message ([`LineRecord::hash_mismatch`]).
//!
//! Inside, a line takes the cheapest road that gives the same answer:
//! 1. when the caller passes the hashes it already holds ([`Skip`]): a line in
//!    scope whose stored hash is one of them is only checked for form (the
//!    envelope's fields borrowed, the payloads skipped unread) and returned as
//!    [`LineRead::Known`];
//! 2. the [`crate::lean`] fast path: one pass, the payloads written straight
//!    into their canonical form, the hash recomputed; it accepts a line only
//!    when it is sure of the full parse's answer;
//! 3. otherwise the full parse ([`crate::ExchangeRecord::parse_line`]), which
//!    gives every error and the reference's `NaN`/`Infinity` literals.
//!
//! ```
//! use exchange_core::line::read_record;
//!
//! let line = r#"{"exchange_id": "21636369-8b52-4b4a-97b7-50923ceb3ffd", "exchange_type": "http", "source_system": "example-api", "entity_type": "page", "natural_key": null, "request": null, "response": null, "observed_at_utc": "2024-01-15T10:30:00+00:00", "provenance": null, "content_sha256": "b6976f4e047274f3061d187f73dba0b19dbc0e1145b1625dbdf5e827713ce175", "schema_version": 1, "tags": [], "redactions_applied": [], "response_ref": null}"#;
//! let record = read_record(line).unwrap();
//! assert_eq!(record.hash_mismatch(), None);
//! assert_eq!(record.index_key(), "example-api|page|");
//! assert!(read_record("[1, 2]").is_err());
//! ```

use time::OffsetDateTime;

use crate::hash::{ContentHash, ContentHashSet};
use crate::record::{ExchangeRecord, LineError};

/// What [`read_line`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // reason: one per line, moved once; a box would cost an allocation per line
pub enum LineRead {
    /// A well-formed line in the [`Skip`] scope whose stored hash is in its
    /// set: not re-hashed.
    Known(ContentHash),
    /// A record, with its hash recomputed.
    Record(LineRecord),
}

/// Lines the caller need not have re-hashed: those in this scope whose stored
/// hash it holds already.
#[derive(Debug, Clone, Copy)]
pub struct Skip<'a> {
    /// The hashes held.
    pub known: &'a ContentHashSet,
    /// The scope, first half.
    pub source_system: &'a str,
    /// The scope, second half.
    pub entity_type: &'a str,
}

/// A record line as read: everything the mirror row, the index and verify need
/// besides the line itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRecord {
    /// `exchange_id`.
    pub exchange_id: String,
    /// `exchange_type`.
    pub exchange_type: String,
    /// `source_system`.
    pub source_system: String,
    /// `entity_type`.
    pub entity_type: String,
    /// The lookup key (`None` for null and `""`).
    pub lookup_key: Option<String>,
    /// `observed_at_utc`, when present.
    pub observed_at_utc: Option<OffsetDateTime>,
    /// The stored hash.
    pub content_sha256: ContentHash,
    /// The hash recomputed from the content.
    pub computed: ContentHash,
    /// `schema_version` (default 1).
    pub schema_version: i64,
    /// `redactions_applied` is not empty.
    pub redacted: bool,
    /// The line in Fabric's own spelling, when it held the reference's bare
    /// `NaN`/`Infinity` literals (which Fabric never writes); `None` when the
    /// line as read is the record.
    pub respelled: Option<String>,
}

impl LineRecord {
    /// The index's `k`: `source_system|entity_type|natural_key` (empty when none).
    pub fn index_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.source_system,
            self.entity_type,
            self.lookup_key.as_deref().unwrap_or("")
        )
    }

    /// `observed_at_utc` in the reference form, or `""` when missing.
    pub fn observed_at_text(&self) -> String {
        self.observed_at_utc
            .map(crate::timestamp::reference_text)
            .unwrap_or_default()
    }

    /// Why the stored hash is wrong, or `None` when it equals the recomputed one.
    pub fn hash_mismatch(&self) -> Option<String> {
        (self.computed != self.content_sha256).then(|| {
            format!(
                "content_sha256 is {} but the content hashes to {}{}",
                self.content_sha256,
                self.computed,
                if self.redacted {
                    " (redactions_applied is not empty: probably redacted by the reference after hashing)"
                } else {
                    ""
                }
            )
        })
    }

    fn of_record(record: ExchangeRecord, respelled: Option<String>) -> Self {
        LineRecord {
            computed: record.compute_hash(),
            lookup_key: record.lookup_key().map(str::to_owned),
            redacted: !record.redactions_applied.is_empty(),
            exchange_id: record.exchange_id,
            exchange_type: record.exchange_type,
            source_system: record.source_system,
            entity_type: record.entity_type,
            observed_at_utc: record.observed_at_utc,
            content_sha256: record.content_sha256,
            schema_version: record.schema_version,
            respelled,
        }
    }
}

/// Read one pack line (see the module doc for the roads it takes): a known
/// line when `skip` says so, else [`read_record`].
pub fn read_line(text: &str, skip: Option<Skip<'_>>) -> Result<LineRead, LineError> {
    match skip.and_then(|s| known_hash(text, s)) {
        Some(h) => Ok(LineRead::Known(h)),
        None => read_record(text).map(LineRead::Record),
    }
}

/// Read one pack line as a record, its hash recomputed (the fast path, else the
/// full parse). An `Err` is a line that is not a record; a record whose hash
/// does not match is an `Ok` ([`LineRecord::hash_mismatch`] says so), and the
/// scope and the time are the caller's to check.
pub fn read_record(text: &str) -> Result<LineRecord, LineError> {
    if let Some(c) = crate::lean::check_any(text) {
        return Ok(LineRecord {
            exchange_id: c.exchange_id,
            exchange_type: c.exchange_type,
            source_system: c.source_system,
            entity_type: c.entity_type,
            lookup_key: c.lookup_key,
            observed_at_utc: Some(c.observed_at_utc),
            content_sha256: c.content_sha256,
            computed: c.content_sha256,
            schema_version: c.schema_version,
            redacted: c.redacted,
            respelled: None,
        });
    }
    let parsed = ExchangeRecord::parse_line(text)?;
    let respelled = parsed.had_nan_literals.then(|| parsed.record.to_line());
    Ok(LineRecord::of_record(parsed.record, respelled))
}

/// The envelope fields the known-hash road reads (borrowed, no allocation).
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    exchange_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    exchange_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    source_system: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    entity_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    content_sha256: std::borrow::Cow<'a, str>,
}

/// The stored hash of a syntactically valid line in the skip scope whose hash
/// is known; `None` sends the line on to the other roads.
fn known_hash(text: &str, skip: Skip<'_>) -> Option<ContentHash> {
    if skip.known.is_empty() {
        return None;
    }
    // (A derived struct also reads a JSON array: only objects are records.)
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let env: Envelope<'_> = serde_json::from_str(text).ok()?;
    let h: ContentHash = env.content_sha256.parse().ok()?;
    let ok = skip.known.contains(&h)
        && env.source_system == skip.source_system
        && env.entity_type == skip.entity_type
        && !env.exchange_id.is_empty()
        && !env.exchange_type.is_empty();
    ok.then_some(h)
}

#[cfg(test)]
mod tests;
