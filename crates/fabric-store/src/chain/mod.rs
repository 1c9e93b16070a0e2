//! Versioned snapshot chains in the `chain_versions` and
//! `chain_activity` tables.
//!
//! Guarantees (most enforced by the database itself, see `schema/chains.sql`):
//!
//! * **Immutability**: triggers reject any UPDATE of a version's payload, checksum,
//!   version, key, parent or metadata, and any DELETE; the activity log is
//!   append-only. Only the active flag moves, and a version is deprecated once.
//! * **Versioning**: versions of a key are 1, 2, 3... without gaps (an insert
//!   trigger), each created in one `BEGIN IMMEDIATE` transaction that reads the
//!   highest version, so two processes racing get distinct consecutive numbers (the
//!   loser waits up to [`crate::BUSY_TIMEOUT`]).
//! * **One active version per key**: a partial unique index; create and rollback
//!   move the flag inside their transaction.
//! * **Integrity**: the payload is stored as gzip of its canonical JSON next to the
//!   SHA-256 of the full canonical form; every read decompresses and re-hashes, and
//!   a mismatch is [`Error::Integrity`] naming key and version.
//! * **Optimistic locking**: [`NewVersion::expect_version`] fails with
//!   [`Error::VersionConflict`] (expected and actual) and writes nothing.
//! * **Paging**: [`crate::Store::chain_history`] is keyset-paginated on
//!   `(chain_key, version)`, and the total is the highest version (no counting), so
//!   a page costs the same on a chain of 10 or 100,000 versions.
//!
//! No clock is read here: every writing call takes `now` from the caller.
//!
//! ```
//! use fabric_core::chain::{SnapshotMetadata, Source};
//! use fabric_store::chain::NewVersion;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = fabric_store::Store::open(dir.path().join("fabric.db")).unwrap();
//! let now = time::macros::datetime!(2026-11-22 03:00 UTC);
//! let meta = SnapshotMetadata::new(Source::Manual, now, 1.0);
//! let doc = serde_json::json!({"jobs": 1});
//! let v1 = store.chain_create(&NewVersion::new("fabric", &doc, &meta, "ops", now)).unwrap();
//! assert_eq!((v1.version, v1.is_active), (1, true));
//! let read = store.chain_get("fabric", None).unwrap();
//! assert_eq!(*read.body.payload, doc);
//! ```

mod cache;
mod codec;
mod create;
mod lifecycle;
mod read;
mod verify;

use std::sync::Arc;

use rusqlite::types::FromSql;
use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use fabric_core::chain::{ChangesSummary, SnapshotMetadata, VersionSummary};

use crate::error::{Error, Result};

pub use cache::{CacheStats, ChainCache};
pub use verify::{VerifyFailure, VerifyReport};

/// A version to create.
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    /// The chain key (see [`fabric_core::chain::validate_key`]).
    pub key: &'a str,
    /// The document; any JSON whose numbers fit an `f64` or are integers.
    pub payload: &'a Value,
    /// Validated before anything is written.
    pub metadata: &'a SnapshotMetadata,
    /// Who creates it (non-empty).
    pub created_by: &'a str,
    /// Optimistic locking: the version that must be active now (0: the chain must
    /// be empty). The active version, not the newest (after a rollback they
    /// differ): it is the version the new one descends from and is diffed
    /// against. `None` skips the check (last write wins, as a new version).
    pub expect_version: Option<i64>,
    /// The kind of chain this document belongs in. Used when it is the chain's
    /// first version (the kind is chosen then); afterwards the chain's own kind
    /// decides, and a `fabric-report` chain refuses a document of another shape.
    pub kind: ChainKind,
    /// The creation time, from the caller's clock.
    pub now: OffsetDateTime,
}

impl<'a> NewVersion<'a> {
    /// A version without an expected-version check.
    pub fn new(
        key: &'a str,
        payload: &'a Value,
        metadata: &'a SnapshotMetadata,
        created_by: &'a str,
        now: OffsetDateTime,
    ) -> Self {
        NewVersion {
            key,
            payload,
            metadata,
            created_by,
            expect_version: None,
            kind: ChainKind::Json,
            now,
        }
    }
}

/// What a chain's versions are, chosen by its first version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainKind {
    /// FabricSnapshots of valid reports (what `fabric snapshot create --save`
    /// saves): each is checked before saving, and two versions can be diffed.
    FabricReport,
    /// Free-form JSON documents (what `import-reports` saves): compared by JSON
    /// path (`compare`), not diffed as reports.
    Json,
}

impl ChainKind {
    /// `fabric-report` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainKind::FabricReport => "fabric-report",
            ChainKind::Json => "json",
        }
    }

    /// The kind a chain whose first version is `first` has.
    pub fn of(first: &Value) -> Self {
        if fabric_core::snapshot::FabricSnapshot::from_json(first).is_ok() {
            ChainKind::FabricReport
        } else {
            ChainKind::Json
        }
    }

    /// Whether `payload` may be a version of chain `key` of this kind.
    pub fn check(self, key: &str, payload: &Value) -> Result<()> {
        match self {
            ChainKind::Json => Ok(()),
            ChainKind::FabricReport => fabric_core::snapshot::FabricSnapshot::from_json(payload)
                .map(drop)
                .map_err(|source| Error::WrongKind {
                    key: key.to_owned(),
                    source,
                }),
        }
    }
}

/// The immutable part of a stored version, verified against its checksum.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionBody {
    /// The version's metadata.
    pub metadata: SnapshotMetadata,
    /// The diff from the parent (counts and paths); `None` for a first version.
    pub changes: Option<ChangesSummary>,
    /// The document (its canonical form: keys sorted, numbers canonically spelled).
    pub payload: Arc<Value>,
}

/// A version read back in full.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    /// Its summary (flags read now).
    pub summary: VersionSummary,
    /// Metadata, changes and payload (shared with the cache).
    pub body: Arc<VersionBody>,
}

/// Which page of a chain's history to read, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPage {
    /// Only versions below this one (the previous page's `next_before`); `None`
    /// starts at the newest.
    pub before: Option<i64>,
    /// At most this many versions (1 or more).
    pub limit: u32,
}

/// One page of a chain's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// The chain key.
    pub key: String,
    /// How many versions the chain has.
    pub total: i64,
    /// The active version.
    pub active_version: Option<i64>,
    /// The versions of this page, newest first.
    pub versions: Vec<VersionSummary>,
    /// Pass as [`HistoryPage::before`] for the next page; `None` at the end.
    pub next_before: Option<i64>,
}

/// One chain in the store's overview (`fabric snapshot list` without a key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainOverview {
    /// The chain key.
    pub key: String,
    /// How many versions it has.
    pub versions: i64,
    /// The active version.
    pub active_version: Option<i64>,
    /// When its newest version was created.
    pub latest_created_at: String,
    /// Bytes of all its canonical payloads.
    pub data_size: u64,
    /// Bytes stored for them (compressed).
    pub stored_size: u64,
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackOutcome {
    /// The chain key.
    pub key: String,
    /// The version active before.
    pub from_version: i64,
    /// The version active now.
    pub to_version: i64,
    /// `false` when the target already was the active version (a no-op: nothing
    /// written, nothing logged).
    pub changed: bool,
}

/// The columns of a [`VersionSummary`], `v` being the version and `p` its parent.
pub(crate) const SUMMARY_COLUMNS: &str = "v.id, v.chain_key, v.version, p.version, v.is_active, \
     v.created_at, v.created_by, v.checksum, v.data_size, v.stored_size, v.deprecated_at, \
     v.deprecated_reason";

/// `FROM` clause matching [`SUMMARY_COLUMNS`].
pub(crate) const SUMMARY_FROM: &str =
    "FROM chain_versions v LEFT JOIN chain_versions p ON p.id = v.parent_id";

/// Read a [`VersionSummary`] from the first 12 columns of `row`.
pub(crate) fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<VersionSummary> {
    Ok(VersionSummary {
        id: row.get(0)?,
        key: row.get(1)?,
        version: row.get(2)?,
        parent_version: row.get(3)?,
        is_active: row.get(4)?,
        created_at: row.get(5)?,
        created_by: row.get(6)?,
        checksum: row.get(7)?,
        data_size: row.get(8)?,
        stored_size: row.get(9)?,
        deprecated_at: row.get(10)?,
        deprecated_reason: row.get(11)?,
    })
}

/// The four columns `sql` selects for the version row `id` (bound as `?1`): a
/// version's stored payload with what verifies or describes it.
pub(crate) fn version_columns<A: FromSql, B: FromSql, C: FromSql, D: FromSql>(
    conn: &Connection,
    sql: &str,
    id: i64,
) -> rusqlite::Result<(A, B, C, D)> {
    conn.prepare_cached(sql)?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
}

/// The chain's highest version (0 when the key has no versions).
pub(crate) fn latest_version(conn: &Connection, key: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT coalesce(max(version), 0) FROM chain_versions WHERE chain_key = ?1",
    )?
    .query_row([key], |row| row.get(0))
}

/// The chain's active version (`None` when the key has no versions).
pub(crate) fn active_version(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT version FROM chain_versions WHERE chain_key = ?1 AND is_active = 1",
    )?
    .query_row([key], |row| row.get(0))
    .optional()
}

/// The error for "`key` (at `version`) is not there".
pub(crate) fn not_found(key: &str, version: Option<i64>, latest: i64) -> Error {
    match version {
        Some(version) if latest > 0 => Error::VersionNotFound {
            key: key.to_owned(),
            version,
            latest,
        },
        _ => Error::ChainNotFound {
            key: key.to_owned(),
        },
    }
}

/// Refuse a key that cannot be used.
pub(crate) fn check_key(key: &str) -> Result<()> {
    match fabric_core::chain::validate_key(key) {
        Some(reason) => Err(Error::InvalidChainKey {
            key: key.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Refuse an empty actor (or reason): `what` names the argument.
pub(crate) fn check_text(key: &str, what: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::InvalidChainInput {
            key: key.to_owned(),
            reason: format!("{what} is empty"),
        });
    }
    Ok(())
}

/// Parse a stored JSON text column.
pub(crate) fn stored_json(path: &std::path::Path, row: String, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::BadRow {
        path: path.to_path_buf(),
        row,
        reason: format!("stored JSON cannot be parsed ({e})"),
    })
}

#[cfg(test)]
mod tests;
