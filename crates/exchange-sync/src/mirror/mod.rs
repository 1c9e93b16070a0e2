//! The SQL mirror of a pack: the [`Mirror`] trait every backend implements, and the
//! row types that cross it.
//!
//! A mirror is one table (the manifest's `sql_target`) holding one row per
//! [`ExchangeRecord`](crate::ExchangeRecord): the indexed columns plus the whole
//! record as JSON (`payload_json`). The sync engine decides every
//! insert, update and skip itself and hands the mirror explicit writes, so a backend
//! only stores and fetches rows; it holds no sync policy.
//!
//! Backends: SQLite through fabric-store (`sqlite://PATH`, the default), SQL
//! Server through tiberius (`mssql://...`, in `crate::mssql`) and PostgreSQL through
//! tokio-postgres (`postgres://...`, in `crate::postgres`, behind the `postgres`
//! feature). All must pass the same conformance suite (`tests/it/conformance.rs`),
//! which is the executable form of the contract written in the doc comments below.

use crate::error::Result;
use crate::hash::{ContentHash, ContentHashSet};

#[cfg(any(feature = "mssql", feature = "postgres"))]
pub(crate) mod server;
pub mod sqlite;

pub use exchange_core::manifest::Scope;

/// One row of the mirror table: the indexed columns plus the whole record.
///
/// Column mapping (reference DDL, `lake.RawExchangeRecord`):
///
/// | field | SQL Server | SQLite |
/// | --- | --- | --- |
/// | `exchange_id` | `UNIQUEIDENTIFIER` primary key | `TEXT` primary key |
/// | `exchange_type` | `NVARCHAR(50)` | `TEXT` |
/// | `source_system` | `NVARCHAR(100)` | `TEXT` |
/// | `entity_type` | `NVARCHAR(100)` | `TEXT` |
/// | `natural_key` | `NVARCHAR(500) NULL` | `TEXT NULL` |
/// | `observed_at_utc` | `DATETIME2` | `TEXT`, [`MirrorRecord::observed_at_text`] |
/// | `content_sha256` | `CHAR(64)`, unique | `TEXT`, unique |
/// | `payload_json` | `NVARCHAR(MAX)` | `TEXT` |
/// | `schema_version` | `INT` | `INTEGER` |
///
/// The audit columns `created_at_utc` / `updated_at_utc` are the backend's business
/// (set on insert, `updated_at_utc` refreshed on update) and never cross the trait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorRecord {
    /// The record's `exchange_id`: a lowercase hyphenated UUID (`8-4-4-4-12`).
    /// SQL Server returns `UNIQUEIDENTIFIER`s in upper case: a backend must give
    /// them back lowercased.
    pub exchange_id: String,
    /// `exchange_type` (e.g. `http`, `mediawiki`).
    pub exchange_type: String,
    /// `source_system`: first half of the [`Scope`].
    pub source_system: String,
    /// `entity_type`: second half of the [`Scope`].
    pub entity_type: String,
    /// The lookup key: `None` when the record's `natural_key` is `null` **or the
    /// empty string** (an empty key is hashed as `""` but never used for lookups,
    /// and storing it as NULL keeps the unique natural-key index from colliding on
    /// it). The exact key, `""` included, is always in `payload_json`.
    pub natural_key: Option<String>,
    /// When the content was observed, as a UTC instant with microsecond precision.
    /// A backend stores and returns the instant exactly (to the microsecond).
    pub observed_at_utc: time::OffsetDateTime,
    /// The record's `content_sha256` (verified by the engine before it gets here).
    pub content_sha256: ContentHash,
    /// The whole record as one JSON line in pack line format (no trailing newline).
    /// A backend stores it byte for byte and returns it byte for byte: the engine
    /// writes it to packs verbatim on export and rebuilds records only from it,
    /// never from the other columns.
    pub payload_json: String,
    /// The record's envelope `schema_version`.
    pub schema_version: i64,
}

impl MirrorRecord {
    /// `observed_at_utc` as fixed-width text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so that
    /// text order is time order (how the SQLite backend stores it).
    pub fn observed_at_text(&self) -> String {
        crate::timestamp::fixed_utc_text(self.observed_at_utc)
    }
}

/// What the engine needs to know about the row that holds a natural key: enough to
/// report a conflict and to address the row in an update, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorKeyRow {
    /// The row's primary key (lowercase UUID).
    pub exchange_id: String,
    /// The row's content hash.
    pub content_sha256: ContentHash,
    /// The row's observation time (UTC instant).
    pub observed_at_utc: time::OffsetDateTime,
}

/// One write of a batch. The engine has already decided it; the backend carries it
/// out as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorWrite {
    /// Add a new row. It is an error ([`crate::Error::MirrorWrite`]) if a row with
    /// the same `exchange_id`, the same `content_sha256`, or the same
    /// `(source_system, entity_type, natural_key)` (non-NULL key) already exists:
    /// the backend never turns an insert into an update or a skip.
    Insert(MirrorRecord),
    /// Replace every column of the single row whose primary key is `exchange_id`
    /// with `record` (its `exchange_id` included, so the primary key may change;
    /// `created_at_utc` stays, `updated_at_utc` is refreshed). It is an error if no
    /// row has that `exchange_id`, or if the new values collide with **another**
    /// row's `exchange_id`, hash or natural key. Exactly one row is touched.
    Update {
        /// The primary key of the row to replace, as returned in a [`MirrorKeyRow`].
        exchange_id: String,
        /// The new contents of that row.
        record: MirrorRecord,
    },
}

/// A run of consecutive writes of one kind, in batch order: the server backends
/// send each run as one multi-row statement.
#[cfg(any(feature = "mssql", feature = "postgres"))]
pub(crate) enum WriteRun<'a> {
    /// Consecutive [`MirrorWrite::Insert`]s.
    Inserts(Vec<&'a MirrorRecord>),
    /// Consecutive [`MirrorWrite::Update`]s, as `(exchange_id, record)`.
    Updates(Vec<(&'a str, &'a MirrorRecord)>),
}

/// Split `writes` into [`WriteRun`]s, keeping their order: an update never moves
/// before an insert that came ahead of it in the batch.
#[cfg(any(feature = "mssql", feature = "postgres"))]
pub(crate) fn write_runs(writes: &[MirrorWrite]) -> impl Iterator<Item = WriteRun<'_>> {
    let mut rest = writes;
    std::iter::from_fn(move || {
        let run = match rest.first()? {
            MirrorWrite::Insert(_) => {
                let run: Vec<&MirrorRecord> = rest
                    .iter()
                    .map_while(|w| match w {
                        MirrorWrite::Insert(r) => Some(r),
                        MirrorWrite::Update { .. } => None,
                    })
                    .collect();
                rest = rest.get(run.len()..).unwrap_or_default();
                WriteRun::Inserts(run)
            }
            MirrorWrite::Update { .. } => {
                let run: Vec<(&str, &MirrorRecord)> = rest
                    .iter()
                    .map_while(|w| match w {
                        MirrorWrite::Update {
                            exchange_id,
                            record,
                        } => Some((exchange_id.as_str(), record)),
                        MirrorWrite::Insert(_) => None,
                    })
                    .collect();
                rest = rest.get(run.len()..).unwrap_or_default();
                WriteRun::Updates(run)
            }
        };
        Some(run)
    })
}

/// A SQL mirror backend (one table of one database).
///
/// # Contract
///
/// * **Synchronous and single-threaded.** Every method blocks until done. The engine
///   calls a mirror from one thread only (it parses on other threads), so a backend
///   needs neither `Send` nor `Sync`. An async driver runs its own small runtime.
/// * **Bound at construction.** A backend value is created for one target database
///   and one table (the manifest's `sql_target`; `schema.table` on SQL Server,
///   `<schema>_<table>` in SQLite). Construction connects; a connection failure is
///   [`crate::Error::MirrorUnavailable`]. Nothing in the trait names the table.
/// * **Transactions: one per command, rolled back unless committed.**
///   [`Mirror::begin`] opens the command's transaction and returns it as a
///   [`MirrorTransaction`], which borrows the mirror: writes exist only there, so a
///   write outside a transaction or a nested `begin` does not compile. Reads through
///   the transaction see its own earlier writes (read-your-writes), which is how the
///   engine keeps its view current while it imports. [`MirrorTransaction::commit`]
///   consumes it; dropping it uncommitted (an error, a panic, an early return) rolls
///   every write back, so a failed command leaves the table exactly as it was.
/// * **Scope.** Every read that takes a [`Scope`] sees only rows whose
///   `source_system` and `entity_type` equal it (exact, case-sensitive, no Unicode
///   normalisation).
/// * **Uniqueness.** The table enforces: unique `exchange_id` (primary key), unique
///   `content_sha256`, and unique `(source_system, entity_type, natural_key)` where
///   `natural_key` is not NULL. (A SQL Server table created by the reference DDL
///   lacks the last index; see [`MirrorRead::find_by_natural_keys`].)
/// * **Exactness.** Text columns and `payload_json` come back byte for byte as
///   written (full Unicode, no normalisation, no trimming); `observed_at_utc` comes
///   back as the same instant to the microsecond.
/// * **Errors.** Backend failures are [`crate::Error::MirrorWrite`] (a write was
///   refused, naming the `exchange_id`), [`crate::Error::Mirror`] (anything else,
///   naming the target and what was being done) or
///   [`crate::Error::MirrorUnavailable`] (the connection is gone). Driver errors are
///   chained as `source`, never stringified. A backend never panics on data.
/// * **Checks beside the command.** A backend that checks its storage while the
///   command reads (the SQLite backend's whole-file check under `quick` or `full`)
///   makes its writes, its commit and every answer that may become a result wait
///   for that check by itself, and reports the check's failure instead of a failed
///   read's: the engine never has to ask.
pub trait Mirror: MirrorRead {
    /// A short human description of the target for messages and reports, e.g.
    /// `sqlite:///home/me/fabric.db (lake_RawExchangeRecord)` or
    /// `mssql://host:1433/Holocron ([lake].[RawExchangeRecord])`.
    /// Never contains a password.
    fn describe(&self) -> String;

    /// The DDL that creates this mirror's table and indexes, as one script for
    /// people (`fabric exchange schema --print`). Running it on a database that has
    /// the table already must not fail and must not drop anything (`IF NOT EXISTS`
    /// guards, never `DROP`).
    fn schema_script(&self) -> String;

    /// The names of the schema objects (schema, table, indexes) that are missing
    /// from the database, in creation order. Empty when everything is present.
    /// Used by `schema --apply --dry-run` and to refuse work on a missing table.
    fn missing_schema_objects(&mut self) -> Result<Vec<String>>;

    /// Create every missing schema object (never dropping or altering anything that
    /// exists) and return the names of those created, in creation order. Runs in its
    /// own transaction (none of the command's can be open: it borrows the mirror).
    fn apply_schema(&mut self) -> Result<Vec<String>>;

    /// Open the command's transaction and take the writer lock of `scope` in it.
    /// Creates the table first when it is missing (every backend: `sync` and
    /// `import` never need a separate `schema --apply` for a new table).
    ///
    /// The lock serializes writers of `scope`: a second writer (on the same table,
    /// from any process) waits, then reads what the first committed, and ends with
    /// [`crate::Error::ScopeBusy`] when the wait runs out (the transaction it opened
    /// is then rolled back). It is held until the transaction ends. SQLite takes one
    /// writer per file anyway.
    fn begin(&mut self, scope: &Scope) -> Result<Box<dyn MirrorTransaction + '_>>;
}

/// The reads of a mirror, outside a transaction ([`Mirror`]) or inside one
/// ([`MirrorTransaction`], seeing its writes). On a table that does not exist
/// yet, every read sees no rows.
pub trait MirrorRead {
    /// All `content_sha256` values of the rows in `scope`, in no particular order.
    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet>;

    /// Hand every `content_sha256` of the rows in `scope` to `each`, in no
    /// particular order, without collecting them (export only counts them). The
    /// default collects through [`MirrorRead::hashes_in_scope`]; backends that can
    /// stream should.
    fn for_each_hash_in_scope(
        &mut self,
        scope: &Scope,
        each: &mut dyn FnMut(ContentHash),
    ) -> Result<()> {
        for h in self.hashes_in_scope(scope)? {
            each(h);
        }
        Ok(())
    }

    /// For each key of `keys` (in that order), the row in `scope` whose
    /// `natural_key` equals it, or `None`. The result has exactly `keys.len()`
    /// entries; a key may appear more than once in `keys`. Keys are never empty
    /// strings (the engine does not look up `""`). If a legacy table holds several
    /// rows for one key, the newest by `observed_at_utc` is returned (ties: the
    /// greatest `exchange_id`). Backends should answer a whole slice in few round
    /// trips; the engine passes up to a few thousand keys at a time.
    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>>;

    /// Stream every row in `scope` to `sink`, **newest first**: ordered by
    /// `observed_at_utc` descending, ties by `exchange_id` ascending in text order
    /// (so the order is deterministic and the same on every backend). Rows are
    /// streamed, not collected: memory must stay flat in the table size (a backend
    /// may hold the rows of one `observed_at_utc` at a time to order ties). If `sink` returns an error, stop and return that error.
    /// Returns the number of rows handed to `sink`.
    fn export_scope(
        &mut self,
        scope: &Scope,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<u64>;

    /// The number of rows in `scope`, or in the whole table when `scope` is `None`.
    fn count(&mut self, scope: Option<&Scope>) -> Result<u64>;

    /// [`MirrorRead::hashes_in_scope`] and [`MirrorRead::count`] of `scope`,
    /// as a sync starts with them. The default asks for one, then the other; a
    /// backend that reads a row for each hash counts the rows as it goes (one
    /// read of the scope, not two).
    fn hashes_and_count_in_scope(&mut self, scope: &Scope) -> Result<(ContentHashSet, u64)> {
        let hashes = self.hashes_in_scope(scope)?;
        let count = self.count(Some(scope))?;
        Ok((hashes, count))
    }
}

/// The open transaction of a command ([`Mirror::begin`]): reads that see its
/// writes, the writes, and the commit. Dropping it uncommitted rolls back every
/// write since the last commit (best effort on a server whose connection is gone:
/// the server rolls back when the connection closes).
pub trait MirrorTransaction: MirrorRead {
    /// Carry out `writes` in order. On error the transaction's outcome is
    /// undefined: the engine then drops it (rolling back). Batches are a few
    /// thousand writes; backends should use prepared statements or multi-row
    /// statements, not one round trip per column.
    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()>;

    /// Commit every write so far and go on in a new transaction holding the same
    /// scope lock (taken again at once): for an import that commits every so many
    /// records (`--batch-commit`).
    fn checkpoint(&mut self) -> Result<()>;

    /// Make every write since the transaction (or its last checkpoint) began
    /// durable, atomically. On any failure nothing of it is committed.
    fn commit(self: Box<Self>) -> Result<()>;

    /// Undo every write since the transaction (or its last checkpoint) began, as
    /// dropping does, and report a failure to do so.
    fn rollback(self: Box<Self>) -> Result<()>;
}

#[cfg(all(test, any(feature = "mssql", feature = "postgres")))]
mod tests {
    use super::{ContentHash, MirrorRecord, MirrorWrite, WriteRun, write_runs};

    fn record(id: &str) -> MirrorRecord {
        MirrorRecord {
            exchange_id: id.to_owned(),
            exchange_type: "http".to_owned(),
            source_system: "s".to_owned(),
            entity_type: "e".to_owned(),
            natural_key: None,
            observed_at_utc: time::OffsetDateTime::UNIX_EPOCH,
            content_sha256: ContentHash([0; 32]),
            payload_json: "{}".to_owned(),
            schema_version: 1,
        }
    }

    fn update(old: &str, new: &str) -> MirrorWrite {
        MirrorWrite::Update {
            exchange_id: old.to_owned(),
            record: record(new),
        }
    }

    /// Each run is a maximal stretch of one kind, in batch order, and every write
    /// lands in exactly one run.
    #[test]
    fn write_runs_keep_batch_order_and_split_at_each_change_of_kind() {
        let writes = [
            MirrorWrite::Insert(record("a")),
            MirrorWrite::Insert(record("b")),
            update("c", "c2"),
            MirrorWrite::Insert(record("d")),
            update("e", "e2"),
            update("f", "f2"),
        ];
        let got: Vec<String> = write_runs(&writes)
            .map(|run| match run {
                WriteRun::Inserts(rs) => {
                    let ids: Vec<&str> = rs.iter().map(|r| r.exchange_id.as_str()).collect();
                    format!("I[{}]", ids.join(","))
                }
                WriteRun::Updates(us) => {
                    let ids: Vec<String> = us
                        .iter()
                        .map(|(old, r)| format!("{old}->{}", r.exchange_id))
                        .collect();
                    format!("U[{}]", ids.join(","))
                }
            })
            .collect();
        assert_eq!(got, ["I[a,b]", "U[c->c2]", "I[d]", "U[e->e2,f->f2]"]);
        assert_eq!(write_runs(&[]).count(), 0);
    }
}
